#!/usr/bin/env bash
# The systemd units and what they rely on:
#  - `cmake --install BUILD --component systemd --prefix P` puts
#    shovel-worker@.service in P/lib/systemd/system with ExecStart naming
#    P/bin/shovel-worker, and the example .mount unit in
#    P/share/doc/shoveling/examples (nothing outside P);
#  - `systemd-analyze verify` accepts both;
#  - shovel-worker reads an instance's config file (--config) and tells
#    systemd READY=1 once it serves and STOPPING=1 on SIGTERM (sd_notify,
#    received here on a NOTIFY_SOCKET of our own).
# Ends the worker it started by pid.
#   systemd_units_test.sh CMAKE BUILD_DIR SHOVEL_WORKER
set -uo pipefail
cmake=${1:?} build=${2:?} worker=${3:?}
tmp=$(mktemp -d /tmp/shovel-units.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
pass() { echo "ok   - $*"; }
fail() { failures=$((failures + 1)); echo "FAIL - $*"; }

command -v systemd-analyze >/dev/null || { echo "FATAL: systemd-analyze is missing"; exit 1; }
prefix=$tmp/prefix
"$cmake" --install "$build" --component systemd --prefix "$prefix" >"$tmp/install.out" 2>&1 ||
  { echo "FATAL: cmake --install --component systemd: $(cat "$tmp/install.out")"; exit 1; }
unit=$prefix/lib/systemd/system/shovel-worker@.service
mount=$prefix/share/doc/shoveling/examples/mnt-shovel.mount
[ -f "$unit" ] && [ -f "$mount" ] && pass "cmake --install --prefix: the units under the prefix" ||
  fail "cmake --install --prefix: $(cat "$tmp/install.out")"
grep -q "^ExecStart=$prefix/bin/shovel-worker --config /etc/shoveling/%i.conf$" "$unit" &&
  pass "ExecStart names the prefix's shovel-worker" || fail "ExecStart: $(grep ExecStart "$unit")"
outside=$(grep -v "^-- Install configuration" "$tmp/install.out" | grep -v " $prefix/")
[ -z "$outside" ] && pass "nothing installed outside the prefix" || fail "outside the prefix: $outside"
mkdir -p "$prefix/bin"
ln -s "$worker" "$prefix/bin/shovel-worker"  # verify checks ExecStart's program
cp "$unit" "$tmp/shovel-worker@main.service"
cp "$mount" "$tmp/"
# verify exits 0 even for an unknown key, so its output must be empty too.
for u in "$tmp/shovel-worker@main.service" "$tmp/mnt-shovel.mount"; do
  if out=$(systemd-analyze verify --man=no "$u" 2>&1) && [ -z "$out" ]; then
    pass "systemd-analyze verify $(basename "$u")"
  else
    fail "systemd-analyze verify $(basename "$u")"
    sed 's/^/     /' <<<"$out"
  fi
done

# sd_notify and --config, with a socket that stands in for systemd's.
cat >"$tmp/main.conf" <<CONF
listen = "tcp://127.0.0.1:0"
max-memory = "64MiB"
node-id = "unit1"
ready-file = "$tmp/ready"
CONF
python3 - "$tmp/notify" >"$tmp/messages" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
for _ in range(2):
    print(s.recv(4096).decode().replace("\n", " | "), flush=True)
PY
listener=$!
for _ in $(seq 50); do [ -S "$tmp/notify" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$tmp/notify "$worker" --config "$tmp/main.conf" 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do grep -q READY=1 "$tmp/messages" && break; sleep 0.1; done
if grep -q "^READY=1 | STATUS=serving on tcp://127.0.0.1:" "$tmp/messages" &&
  [ "$(head -1 "$tmp/ready")" != "" ] && grep -q " shovel-worker\[[0-9]*\]: unit1: listening" "$tmp/log"; then
  pass "READY=1 once serving, options from --config"
else
  fail "READY=1 / --config: $(cat "$tmp/messages" "$tmp/log")"
fi
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
wait "$listener"
if grep -q "^STOPPING=1" "$tmp/messages" && [ "$rc" -eq 0 ]; then
  pass "STOPPING=1 on SIGTERM, exit 0"
else
  fail "STOPPING=1 (exit $rc): $(cat "$tmp/messages")"
fi
if "$worker" --config "$tmp/none.conf" 2>"$tmp/err"; then
  fail "a missing --config file is an error"
else
  pass "a missing --config file is an error: $(cat "$tmp/err")"
fi
[ "$failures" -eq 0 ]
