#!/usr/bin/env bash
# shovel-worker's log as an operator reads it (real processes):
#  - --log-file: lines with an ISO-8601 timestamp and a level;
#  - 20 x 1 MiB into an 8 MiB worker: one "memory pressure" warning naming
#    how many ids were evicted, and no second one within the minute;
#  - --log-level warn: the info lines are gone, the warning stays;
#  - a bad --log-level or an unwritable --log-file: exit 2, one line on stderr.
# Usage: logging_test.sh WORKER_BIN SHOVELCTL_BIN
set -uo pipefail
worker=$1 ctl=$2
tmp=$(mktemp -d /tmp/shovel-logtest-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
pass() { echo "ok   - $*"; }
fail() { failures=$((failures + 1)); echo "FAIL - $*"; }
ts='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} '

# start NAME ARGS...: a worker; sets $endpoint.
start() {
  local name=$1
  shift
  "$worker" --listen tcp://127.0.0.1:0 --ready-file "$tmp/$name.ready" "$@" \
    2>"$tmp/$name.stderr" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$tmp/$name.ready" ] && break; sleep 0.1; done
  endpoint=$(head -1 "$tmp/$name.ready" 2>/dev/null)
  [ -n "$endpoint" ] || { echo "FATAL: worker $name did not start"; cat "$tmp/$name.stderr"; exit 1; }
}
# fill ENDPOINT N: N distinct 1 MiB values nothing compresses.
fill() {
  head -c 1048576 /dev/urandom >"$tmp/mib"
  for i in $(seq "$2"); do
    "$ctl" --workers "$1" set "fill/$3$i" "$tmp/mib" >/dev/null || return 1
  done
}
# wait_for FILE PATTERN: up to 5 s (the worker looks once a second).
wait_for() {
  for _ in $(seq 50); do grep -Eq "$2" "$1" && return 0; sleep 0.1; done
  return 1
}

# 1. --log-file at info.
start info --max-memory 8MiB --compression-level 0 --log-file "$tmp/info.log"
if grep -Eq "${ts}info shovel-worker\[[0-9]+\]: .*listening on $endpoint" "$tmp/info.log"; then
  pass "--log-file has a timestamped info line 'listening on $endpoint'"
else
  fail "--log-file lacks the timestamped listening line"; cat "$tmp/info.log"
fi
[ ! -s "$tmp/info.stderr" ] && pass "nothing on stderr with --log-file" ||
  { fail "stderr not empty with --log-file"; cat "$tmp/info.stderr"; }

# 2. Evictions: one summary line, not one per eviction.
fill "$endpoint" 20 a || fail "writing 20 x 1 MiB"
pressure="${ts}warning shovel-worker\[[0-9]+\]: [^ ]+: memory pressure: [0-9]+ ids? \([0-9.]+ [KMG]iB\) evicted in the last [0-9]+s"
if wait_for "$tmp/info.log" "$pressure"; then
  n=$(grep -E "$pressure" "$tmp/info.log" | sed -E 's/.*memory pressure: ([0-9]+) id.*/\1/')
  # The line sums what its window saw: on a slow run (a sanitizer build)
  # the first second holds only part of the 12 or more evictions.
  [ "$n" -ge 1 ] && [ "$n" -le 20 ] && pass "eviction summary: $n ids evicted, as a warning" ||
    fail "eviction summary counts $n ids, expected 1..20 (20 MiB into 8 MiB)"
else
  fail "no 'memory pressure' warning after 20 MiB into 8 MiB"; cat "$tmp/info.log"
fi
fill "$endpoint" 20 b || fail "writing 20 more"
sleep 2.5  # two more looks
c=$(grep -c "memory pressure" "$tmp/info.log")
[ "$c" -eq 1 ] && pass "one eviction line within the minute, not one per eviction" ||
  { fail "$c eviction lines within the minute"; cat "$tmp/info.log"; }

# 3. --log-level warn: no info lines, the warning still there.
start warn --max-memory 8MiB --compression-level 0 --log-file "$tmp/warn.log" --log-level warn
fill "$endpoint" 20 c || fail "writing 20 x 1 MiB (warn)"
if wait_for "$tmp/warn.log" "$pressure"; then
  pass "--log-level warn keeps the warning"
else
  fail "--log-level warn lost the warning"; cat "$tmp/warn.log"
fi
if grep -q " info " "$tmp/warn.log"; then
  fail "--log-level warn still writes info lines"; cat "$tmp/warn.log"
else
  pass "--log-level warn writes no info line"
fi

# 4. Stderr by default, with timestamps and levels.
start plain --max-memory 8MiB
grep -Eq "${ts}info shovel-worker\[[0-9]+\]: .*listening on" "$tmp/plain.stderr" &&
  pass "default: timestamped lines on stderr" ||
  { fail "default stderr lacks timestamped lines"; cat "$tmp/plain.stderr"; }

# 5. Bad flags: exit 2, one line naming the cause.
timeout 10 "$worker" --listen tcp://127.0.0.1:0 --log-level loud >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
  grep -q "^shovel-worker: --log-level: log level 'loud' is not one of debug, info, warn, error, off$" "$tmp/err"; then
  pass "--log-level loud: exit 2, one line"
else
  fail "--log-level loud: exit $rc"; cat "$tmp/err"
fi
# (spdlog makes missing folders; a path under a regular file cannot be made.)
timeout 10 "$worker" --listen tcp://127.0.0.1:0 --log-file "$tmp/info.log/w.log" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
  grep -q "^shovel-worker: --log-file: cannot open log file '$tmp/info.log/w.log'" "$tmp/err"; then
  pass "unwritable --log-file: exit 2, one line naming the file"
else
  fail "unwritable --log-file: exit $rc"; cat "$tmp/err"
fi

echo "$failures failed"
[ "$failures" -eq 0 ]
