# Shared by the journal tests (tests/worker/journal_test.sh,
# tests/fs/journal_test.sh): a real systemd-journald in this script's
# private mount namespace, its sockets and runtime journal on tmpfs there,
# so the host's journal, if any, is not touched. Source it after the
# script re-ran itself under `unshare -m` and set $tmp; then call
# start_private_journald. Defines pass/fail (counting $failures) and the
# readers entries, wait_entry and field.
journald=/lib/systemd/systemd-journald
jpid=
failures=0
pass() { echo "ok   - $*"; }
fail() { failures=$((failures + 1)); echo "FAIL - $*"; }

# start_private_journald: mounts tmpfs on /run/systemd and /run/log (and
# /var/log/journal when it exists) and starts journald; sets $jpid.
start_private_journald() {
  mount -t tmpfs tmpfs /run/systemd || { echo "FATAL: cannot mount tmpfs on /run/systemd"; exit 1; }
  mkdir -p /run/systemd/journal /run/log
  mount -t tmpfs tmpfs /run/log || exit 1
  [ -d /var/log/journal ] && mount -t tmpfs tmpfs /var/log/journal
  "$journald" >"$tmp/journald.out" 2>&1 &
  jpid=$!
  for _ in $(seq 100); do [ -S /run/systemd/journal/stdout ] && break; sleep 0.1; done
  [ -S /run/systemd/journal/stdout ] || { echo "FATAL: journald did not start"; cat "$tmp/journald.out"; exit 1; }
}

# entries ARGS...: journal entries as JSON lines (journalctl matches).
entries() { journalctl -D /run/log/journal -o json --no-pager "$@" 2>/dev/null; }
# wait_entry PATTERN ARGS...: up to 10 s for an entry whose JSON matches.
wait_entry() {
  local pattern=$1
  shift
  for _ in $(seq 100); do entries "$@" | grep -Eq "$pattern" && return 0; sleep 0.1; done
  return 1
}
# field JSON_LINE NAME: the entry's field NAME.
field() {
  python3 -c 'import json,sys; print(json.loads(sys.stdin.readline()).get(sys.argv[1], "<missing>"))' "$2" <<<"$1"
}
