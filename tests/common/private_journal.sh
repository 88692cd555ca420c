# Shared by the journal tests (tests/worker/journal_test.sh,
# tests/fs/journal_test.sh): a real systemd-journald in a private mount
# namespace, its sockets and runtime journal on tmpfs there, so the host's
# journal, if any, is not touched. A test sources this script first, then:
#   journal_test_needs [COMMAND|/dev/NODE]...   # exit 77 (skip) without them
#   journal_test_enter "$@"   # re-runs the script under `unshare -m`; then
#                             # $tmp, the cleanup trap, journald started
#   ...                       # pass/fail, under_journal, entries, wait_entry,
#                             # field; its processes in pids, FUSE mounts in
#                             # mounts (the cleanup ends and unmounts them)
#   journal_test_end          # "N failed"; the script's status
journald=/lib/systemd/systemd-journald
jpid=
tmp=
pids=()
mounts=()
failures=0
pass() { echo "ok   - $*"; }
fail() { failures=$((failures + 1)); echo "FAIL - $*"; }

# journal_test_needs [COMMAND|/dev/NODE]...: exits 77 (ctest: skipped)
# unless root, unshare, systemd-journald, journalctl, systemd-cat and each
# command (or character device) named are there.
journal_test_needs() {
  local need missing=
  [ "$(id -u)" = 0 ] || missing="root"
  [ -x "$journald" ] || missing="$missing $journald"
  for need in unshare journalctl systemd-cat "$@"; do
    case $need in
      /dev/*) [ -c "$need" ] || missing="$missing $need" ;;
      *) command -v "$need" >/dev/null || missing="$missing $need" ;;
    esac
  done
  [ -z "$missing" ] && return 0
  echo "SKIP: needs root, unshare, systemd-journald, journalctl, systemd-cat $*; missing:$missing"
  exit 77
}

# journal_test_enter ARGS...: re-runs the calling script with ARGS in a
# private mount namespace (once); there makes $tmp, sets the cleanup trap
# and starts journald.
journal_test_enter() {
  if [ "${SHOVEL_JOURNAL_TEST_INNER:-}" != 1 ]; then
    SHOVEL_JOURNAL_TEST_INNER=1 exec unshare -m --propagation private bash "$0" "$@"
  fi
  tmp=$(realpath "$(mktemp -d /tmp/shovel-journal-XXXXXX)")
  trap journal_test_cleanup EXIT
  start_private_journald
}

# journal_test_cleanup: unmounts $mounts, ends $pids and journald, removes
# $tmp (the EXIT trap).
journal_test_cleanup() {
  local m p
  for m in "${mounts[@]}"; do
    grep -q " $m fuse" /proc/mounts && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  [ -n "$jpid" ] && kill "$jpid" 2>/dev/null && wait "$jpid" 2>/dev/null
  [ -n "$tmp" ] && rm -rf "$tmp"
}

# journal_test_end: the count of failures; succeeds when there were none.
journal_test_end() {
  echo "$failures failed"
  [ "$failures" -eq 0 ]
}

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

# under_journal NAME MODE BODY [ARGS...]: runs in the background a bash
# script $tmp/NAME.sh of the lines BODY ("$@" there: ARGS) with stderr the
# journal's stdout stream (systemd-cat -t cat-NAME), as systemd runs a
# unit's ExecStart. MODE native: JOURNAL_STREAM names that stream; stream:
# no JOURNAL_STREAM; elsewhere: JOURNAL_STREAM inherited but stderr sent
# to $tmp/NAME.stderr. Sets $upid (and adds it to pids).
under_journal() {
  local name=$1 mode=$2 body=$3
  shift 3
  {
    echo '#!/usr/bin/env bash'
    case $mode in
      native) echo 'export JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2)' ;;
      stream) echo 'unset JOURNAL_STREAM' ;;
      elsewhere)
        echo 'export JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2)'
        echo "exec 2>\"$tmp/$name.stderr\""
        ;;
      *) echo "under_journal: unknown mode $mode" >&2; exit 2 ;;
    esac
    printf '%s\n' "$body"
  } >"$tmp/$name.sh"
  systemd-cat -t "cat-$name" bash "$tmp/$name.sh" "$@" &
  upid=$!
  pids+=("$upid")
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
