#!/usr/bin/env bash
# The refusal counters, as an operator reads them (real processes):
# a worker at --max-connections 4 gets 12 raw TCP connections at once; the
# ones past the limit are closed, and `shovelctl stats` (and --json) then
# shows refused_connections moved by at least that many, as does /metrics
# (shovel_refused_connections_total). busy and disconnected are listed too.
# Usage: stats_refusals_test.sh WORKER_BIN SHOVELCTL_BIN
set -uo pipefail
worker=$1 ctl=$2
tmp=$(mktemp -d /tmp/shovel-refusals-XXXXXX)
pid=
cleanup() {
  exec 2>/dev/null
  for fd in $(seq 10 21); do eval "exec $fd>&-"; done
  [ -n "$pid" ] && kill "$pid" && wait "$pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
pass() { echo "ok   - $*"; }
fail() { failures=$((failures + 1)); echo "FAIL - $*"; }

"$worker" --listen tcp://127.0.0.1:0 --max-connections 4 --metrics-listen 127.0.0.1:0 \
  --ready-file "$tmp/ready" 2>"$tmp/worker.log" &
pid=$!
for _ in $(seq 100); do [ "$(wc -l <"$tmp/ready" 2>/dev/null)" -ge 1 ] && break; sleep 0.1; done
endpoint=$(sed -n 1p "$tmp/ready")
url=$(sed -n 2p "$tmp/ready")
[ -n "$endpoint" ] && [ -n "$url" ] || { echo "FATAL: worker did not start"; cat "$tmp/worker.log"; exit 1; }
port=${endpoint##*:}

counter() {  # counter NAME: from `shovelctl stats`
  "$ctl" --workers "$endpoint" stats | sed -n "s/^$1://p"
}
before=$(counter refused_connections)
[ -n "$before" ] && pass "stats lists refused_connections ($before)" ||
  { fail "stats has no refused_connections line"; "$ctl" --workers "$endpoint" stats; }
for name in busy disconnected; do
  [ -n "$(counter "$name")" ] && pass "stats lists $name" || fail "stats has no $name line"
done

for fd in $(seq 10 21); do eval "exec $fd<>/dev/tcp/127.0.0.1/$port"; done
sleep 1
for fd in $(seq 10 21); do eval "exec $fd>&-"; done
sleep 0.5

after=$(counter refused_connections)
[ -n "$after" ] && [ "$((after - before))" -ge 8 ] &&
  pass "refused_connections +$((after - before)) after 12 connections at --max-connections 4" ||
  fail "refused_connections moved from '$before' to '$after'"
json=$("$ctl" --workers "$endpoint" stats --json)
echo "$json" | python3 -c '
import json, sys
w = json.load(sys.stdin)["workers"][0]["counters"]
assert w["refused_connections"] >= 8 and "busy" in w and "disconnected" in w, w
' && pass "stats --json carries them" || { fail "stats --json: $json"; }
m=$(curl -sf "$url" | awk '$1 == "shovel_refused_connections_total" { print $2 }')
[ -n "$m" ] && [ "${m%.*}" -ge 8 ] && pass "/metrics shovel_refused_connections_total $m" ||
  fail "/metrics shovel_refused_connections_total '$m'"

echo "$failures failed"
[ "$failures" -eq 0 ]
