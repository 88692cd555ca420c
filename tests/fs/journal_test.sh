#!/usr/bin/env bash
# shovelfs's log in the systemd journal, read back with journalctl.
# A real systemd-journald runs in a private mount namespace (its
# sockets and runtime journal on tmpfs there: the host's journal, if any, is
# not touched); the mounts are made in that namespace too.
#  - foreground (-f) with stderr the journal's stdout stream and
#    $JOURNAL_STREAM naming it, as under a systemd unit: native entries with
#    PRIORITY per level, SYSLOG_IDENTIFIER=shovelfs, SHOVEL_MOUNTPOINT=the
#    mount point's real path on every line, SHOVEL_NODE on the embedded
#    worker's lines; `journalctl -p warning -t shovelfs` and
#    `journalctl SHOVEL_MOUNTPOINT=...` select them; nothing as stream text;
#  - a refused foreground mount: one PRIORITY=3 entry, exit 1, not twice;
#    libfuse's own message ("fuse: invalid parameter ...") at PRIORITY=3;
#  - background (no -f, no log_file=): the journal, with the same fields;
#  - a background mount that fails after going to the background (its
#    cluster refuses): under the journal (mount(8) run by a .mount unit) one
#    PRIORITY=3 entry and no stream line; on a terminal the waiting parent
#    prints the one line and the journal still has the entry once.
# Skips (exit 77) without root, unshare, /dev/fuse, systemd-journald or
# journalctl.
# Usage: journal_test.sh SHOVELFS_BIN
set -uo pipefail
shovelfs=$1
. "$(dirname "$0")/../common/private_journal.sh"
journal_test_needs /dev/fuse fusermount3
journal_test_enter "$@"

# expect JSON_LINE NAME VALUE WHAT: one field's value.
expect() {
  local got
  got=$(field "$1" "$2")
  [ "$got" = "$3" ] && pass "$4: $2=$3" || fail "$4: $2=$got, not $3"
}
# mounted MOUNTPOINT: up to 10 s for the FUSE mount to appear.
mounted() {
  for _ in $(seq 100); do grep -q " $1 fuse" /proc/mounts && return 0; sleep 0.1; done
  return 1
}
# run_under_journal NAME ARGS...: shovelfs ARGS under the journal with
# JOURNAL_STREAM naming it (under_journal native); its status in
# $tmp/NAME.rc. Sets $spid.
run_under_journal() {
  local name=$1
  shift
  under_journal "$name" native "\"$shovelfs\" \"\$@\"
echo \$? >\"$tmp/$name.rc\"" "$@"
  spid=$upid
}

# 1. Foreground under the journal, embedded worker.
mnt=$tmp/mnt
mkdir -p "$mnt"
mounts+=("$mnt")
run_under_journal fg -f "$mnt" -o max_memory=8MiB,compression_level=0,node_id=fsj-node
mounted "$mnt" || { echo "FATAL: no mount at $mnt"; entries | tail; exit 1; }
M=SHOVEL_MOUNTPOINT=$mnt
if wait_entry "mounted $mnt" "$M"; then
  e=$(entries "$M" | grep "mounted $mnt" | head -1)
  msg=$(field "$e" MESSAGE)
  [[ "$msg" == "mounted $mnt (embedded worker on ipc://"* ]] &&
    pass "MESSAGE '${msg:0:40}...' (no timestamp prefix)" || fail "MESSAGE '$msg'"
  expect "$e" PRIORITY 6 "info line"
  expect "$e" SYSLOG_IDENTIFIER shovelfs "info line"
  expect "$e" _TRANSPORT journal "info line"
else
  fail "no entry 'mounted $mnt' with $M"
  entries | tail -20
fi

# A file larger than the whole cache: the embedded worker refuses the
# upload (its warning) and the mount fails the close with ENOSPC (the
# mount's warning).
head -c $((12 * 1048576)) /dev/urandom >"$tmp/big"
cp "$tmp/big" "$mnt/big" 2>"$tmp/cp.err" && fail "a 12 MiB file fit in 8 MiB" ||
  pass "12 MiB into 8 MiB refused: $(head -1 "$tmp/cp.err")"
if wait_entry "embedded worker: .*no space" "$M" SHOVEL_NODE=fsj-node PRIORITY=4; then
  e=$(entries "$M" SHOVEL_NODE=fsj-node PRIORITY=4 | grep "no space" | head -1)
  pass "the embedded worker's warning: '$(field "$e" MESSAGE | cut -c1-70)...'"
  expect "$e" SYSLOG_IDENTIFIER shovelfs "the embedded worker's warning"
else
  fail "no 'embedded worker: ... no space' entry with $M SHOVEL_NODE=fsj-node PRIORITY=4"
  entries "$M" | tail -5
fi
if wait_entry "'big' failed with ENOSPC" "$M" PRIORITY=4; then
  e=$(entries "$M" PRIORITY=4 | grep "'big' failed with" | head -1)
  pass "the mount's warning: '$(field "$e" MESSAGE | cut -c1-70)...'"
  [ "$(field "$e" SHOVEL_NODE)" = "<missing>" ] && pass "the mount's own line has no SHOVEL_NODE" ||
    fail "the mount's own line has SHOVEL_NODE=$(field "$e" SHOVEL_NODE)"
else
  fail "no \"'big' failed with ENOSPC\" entry with $M PRIORITY=4"
  entries "$M" | tail -5
fi

# What an operator types.
w=$(journalctl -D /run/log/journal --no-pager -o cat -p warning -t shovelfs 2>/dev/null)
grep -q "^embedded worker: .*no space" <<<"$w" && grep -q "'big' failed with" <<<"$w" &&
  ! grep -q "mounted $mnt" <<<"$w" &&
  pass "journalctl -p warning -t shovelfs: the warnings, not the info line" ||
  fail "journalctl -p warning -t shovelfs: $w"
n=$(entries SYSLOG_IDENTIFIER=cat-fg | grep -c .)
[ "$n" -eq 0 ] && pass "nothing went through the stdout stream" ||
  fail "$n lines went through the stdout stream: $(entries SYSLOG_IDENTIFIER=cat-fg | head -2)"

fusermount3 -u "$mnt" || fail "fusermount3 -u $mnt"
for _ in $(seq 100); do [ -s "$tmp/fg.rc" ] && break; sleep 0.1; done
[ "$(cat "$tmp/fg.rc" 2>/dev/null)" = 0 ] && pass "shovelfs -f exits 0 after unmount" ||
  fail "shovelfs -f exit status '$(cat "$tmp/fg.rc" 2>/dev/null)'"
wait_entry "unmounted $mnt" "$M" PRIORITY=6 && pass "'unmounted' entry" || fail "no 'unmounted' entry"

# 2. A refused foreground mount: one error entry, exit 1.
mkdir -p "$tmp/full"
touch "$tmp/full/file"
run_under_journal refused -f "$tmp/full"
wait "$spid"
[ "$(cat "$tmp/refused.rc")" = 1 ] && pass "non-empty mount point: exit 1" ||
  fail "non-empty mount point: exit $(cat "$tmp/refused.rc")"
if wait_entry "not empty" "SHOVEL_MOUNTPOINT=$tmp/full"; then
  e=$(entries "SHOVEL_MOUNTPOINT=$tmp/full" | grep "not empty" | head -1)
  expect "$e" PRIORITY 3 "refusal"
  n=$(entries | grep -c "not empty")
  [ "$n" -eq 1 ] && pass "the refusal is in the journal once" || fail "the refusal is there $n times"
else
  fail "no 'not empty' entry with SHOVEL_MOUNTPOINT=$tmp/full"
  entries | tail -5
fi

# libfuse's own message, through the same log at its level.
mkdir -p "$tmp/badopt"
mkdir -m 700 "$tmp/xdg"
XDG_RUNTIME_DIR=$tmp/xdg run_under_journal badopt -f "$tmp/badopt" -o max_read=abc
wait "$spid"
[ "$(cat "$tmp/badopt.rc")" = 1 ] && pass "max_read=abc: exit 1" ||
  fail "max_read=abc: exit $(cat "$tmp/badopt.rc")"
if wait_entry "fuse: invalid parameter in option" "SHOVEL_MOUNTPOINT=$tmp/badopt" PRIORITY=3; then
  pass "libfuse's 'fuse: invalid parameter' as PRIORITY=3 with SHOVEL_MOUNTPOINT"
else
  fail "no libfuse 'invalid parameter' entry with PRIORITY=3"
  entries | tail -5
fi
left=$(ls -A "$tmp/xdg/shovelfs" 2>&1)
[ -z "$left" ] && pass "max_read=abc: the embedded worker's socket is removed" ||
  fail "max_read=abc left in the socket dir: $left"
n=$(entries SYSLOG_IDENTIFIER=cat-badopt | grep -c .)
[ "$n" -eq 0 ] && pass "libfuse's message not as stream text" ||
  fail "$n stream lines: $(entries SYSLOG_IDENTIFIER=cat-badopt | head -2)"

# 3. Background, no log_file=: the journal, with the same fields.
bg=$tmp/bg
mkdir -p "$bg"
mounts+=("$bg")
(unset JOURNAL_STREAM; "$shovelfs" "$bg" -o node_id=fsj-bg) >"$tmp/bg.out" 2>&1 ||
  fail "background mount: $(cat "$tmp/bg.out")"
if wait_entry "mounted $bg" "SHOVEL_MOUNTPOINT=$bg"; then
  e=$(entries "SHOVEL_MOUNTPOINT=$bg" | grep "mounted $bg" | head -1)
  expect "$e" PRIORITY 6 "background"
  expect "$e" SYSLOG_IDENTIFIER shovelfs "background"
else
  fail "background: no 'mounted $bg' entry with SHOVEL_MOUNTPOINT=$bg"
  entries | tail -5
fi
bgpid=$(pgrep -f -x "$shovelfs $bg -o node_id=fsj-bg" | head -1)
fusermount3 -u "$bg" || fail "fusermount3 -u $bg"
wait_entry "unmounted $bg" "SHOVEL_MOUNTPOINT=$bg" && pass "background: 'unmounted' entry" ||
  fail "background: no 'unmounted' entry"
for _ in $(seq 50); do [ -n "$bgpid" ] && kill -0 "$bgpid" 2>/dev/null || break; sleep 0.1; done

# 4. A background start that fails after forking (the cluster refuses):
# the child's entry is the error; the parent adds no stream line when its
# stderr is the journal, and prints it when its stderr is a terminal.
mkdir -p "$tmp/bgfail" "$tmp/bgtty"
run_under_journal bgfail tcp://127.0.0.1:1 "$tmp/bgfail"
wait "$spid"
[ "$(cat "$tmp/bgfail.rc")" = 1 ] && pass "background, cluster refused, under the journal: exit 1" ||
  fail "background, cluster refused, under the journal: exit $(cat "$tmp/bgfail.rc")"
if wait_entry "connection refused" "SHOVEL_MOUNTPOINT=$tmp/bgfail" PRIORITY=3; then
  pass "background failure: one PRIORITY=3 entry with SHOVEL_MOUNTPOINT"
else
  fail "background failure: no 'connection refused' entry with PRIORITY=3"
  entries | tail -5
fi
sleep 0.5  # the stream's lines, if any, are in by now
n=$(entries | grep -c "127.0.0.1:1: connection refused")
[ "$n" -eq 1 ] && pass "background failure under the journal: in the journal once" ||
  fail "background failure under the journal: there $n times: $(entries | grep "connection refused" | head -3)"
n=$(entries SYSLOG_IDENTIFIER=cat-bgfail | grep -c .)
[ "$n" -eq 0 ] && pass "background failure: no stream line from the parent" ||
  fail "background failure: $n stream lines: $(entries SYSLOG_IDENTIFIER=cat-bgfail | head -2)"
(unset JOURNAL_STREAM; "$shovelfs" tcp://127.0.0.1:1 "$tmp/bgtty") >"$tmp/bgtty.out" 2>"$tmp/bgtty.err"
rc=$?
[ "$rc" = 1 ] && [ "$(wc -l <"$tmp/bgtty.err")" = 1 ] &&
  grep -q "^shovelfs: unavailable: connecting to the cluster: worker tcp://127.0.0.1:1: connection refused" "$tmp/bgtty.err" &&
  pass "background failure on a terminal: exit 1, one line on stderr" ||
  fail "background failure on a terminal: exit $rc, stderr: $(cat "$tmp/bgtty.err")"
if wait_entry "connection refused" "SHOVEL_MOUNTPOINT=$tmp/bgtty" PRIORITY=3; then
  n=$(entries "SHOVEL_MOUNTPOINT=$tmp/bgtty" | grep -c "connection refused")
  [ "$n" -eq 1 ] && pass "background failure on a terminal: in the journal once too" ||
    fail "background failure on a terminal: in the journal $n times"
else
  fail "background failure on a terminal: no PRIORITY=3 entry"
fi

journal_test_end
