#!/usr/bin/env bash
# shovelfs over a Consul-discovered cluster, end to end: the Consul test agent
# (two agent nodes), two shovel-workers registered through it, network
# coordinates set for both nodes, and a real FUSE mount given only the Consul
# URL. Checks the bytes, that the xattrs agree with shovelctl, and that the
# distance scores come from the coordinates. FAILS when anything cannot start.
# Teardown unmounts and ends what it started, by pid.
#   tests/e2e_consul/mount_consul.sh BUILD_DIR CONSUL_TEST_AGENT
set -uo pipefail
build=$(cd "${1:?usage: mount_consul.sh BUILD_DIR AGENT}" && pwd)
agent_bin=${2:?usage: mount_consul.sh BUILD_DIR AGENT}
e2e_name=e2e-consul
. "$(dirname "$0")/../fs/e2e_lib.sh"  # $tmp, pass/fail/expect/die, cleanup
mp=$tmp/mnt
mkdir -p "$mp"
mounts+=("$mp")

# --- the Consul test agent: two agent nodes --------------------------------
"$agent_bin" --node n1=127.0.0.1:0 --node n2=127.0.0.1:0 --ready-file "$tmp/agent" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/agent" ] && break; sleep 0.1; done
[ -s "$tmp/agent" ] || die "consul-test-agent did not start"
a1=http://$(sed -n 's/^n1=//p' "$tmp/agent")
a2=http://$(sed -n 's/^n2=//p' "$tmp/agent")

# Coordinates: n2 is 25 ms (Vec distance) + two heights of 0.5 ms away.
coord() {
  curl -fsS -X PUT "$a1/v1/coordinate/update" -d "{\"Node\":\"$1\",\"Segment\":\"\",
    \"Coord\":{\"Vec\":[$2,0,0,0,0,0,0,0],\"Error\":0.2,\"Adjustment\":0,\"Height\":0.0005}}"
}
coord n1 0 && coord n2 0.025 || die "cannot set coordinates"

# --- two workers, each registered with its own agent node -----------------
for i in 1 2; do
  url=$a1
  [ "$i" = 2 ] && url=$a2
  "$build/worker/shovel-worker" --listen tcp://127.0.0.1:0 --node-id "w$i" \
    --max-memory 256MiB --consul "$url" --consul-ttl 2s 2>"$tmp/w$i.log" &
  pids+=($!)
done
ctl() { "$build/cli/shovelctl" --consul "$a1" "$@"; }
for _ in $(seq 100); do
  [ "$(ctl --json members 2>/dev/null | grep -o '"node_id"' | wc -l)" = 2 ] && break
  sleep 0.1
done
expect "both workers registered and seen through Consul" 2 \
  "$(ctl --json members | grep -o '"node_id"' | wc -l)"

# --- shovelfs given only the Consul URL ------------------------------------
"$build/fs/shovelfs" "$mp" -f -o "consul=$a1" 2>"$tmp/fs.log" &
pids+=($!)
for _ in $(seq 100); do grep -q " $mp fuse.shovelfs " /proc/mounts && break; sleep 0.1; done
grep -q " $mp fuse.shovelfs " /proc/mounts || { cat "$tmp/fs.log"; die "shovelfs consul= did not mount"; }
pass "shovelfs mounted with -o consul=URL"

echo "hello through consul" >"$mp/greeting"
expect "cat reads what echo wrote" "hello through consul" "$(cat "$mp/greeting")"
expect "shovelctl sees the same bytes" "hello through consul" "$(ctl get greeting)"
mkdir -p "$mp/logs"
for i in $(seq 20); do echo "line $i" >>"$mp/logs/app.log"; done
expect ">> appends in order" "$(seq 20 | sed 's/^/line /')" "$(ctl get logs/app.log)"

holder=$(getfattr --absolute-names --only-values -n user.shovel.node_ids "$mp/greeting" 2>&1)
expect "xattr node_ids matches shovelctl node-ids" "$(ctl node-ids greeting | paste -sd,)" "$holder"
other=w1
[ "$holder" = w1 ] && other=w2
xs=$(getfattr --absolute-names --only-values -n "user.shovel.score.$other" "$mp/greeting" 2>&1)
cs=$(ctl score "$other" greeting 2>&1)
# Serf: |25 ms| + 0.5 ms + 0.5 ms = 26 ms between n1 and n2.
if awk -v x="$xs" -v c="$cs" 'BEGIN { exit !(x > 25.9 && x < 26.1 && c > 25.9 && c < 26.1) }'; then
  pass "score of the other node is the coordinate RTT (xattr $xs, shovelctl $cs)"
else
  fail "score of the other node: want 26 ms, xattr '$xs', shovelctl '$cs'"
fi
expect "score of the holder is 0" "0.000" \
  "$(getfattr --absolute-names --only-values -n "user.shovel.score.$holder" "$mp/greeting" 2>&1)"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
