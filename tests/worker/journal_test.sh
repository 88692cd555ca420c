#!/usr/bin/env bash
# shovel-worker's log in the systemd journal, read back with journalctl.
# A real systemd-journald runs in a private mount namespace
# (its sockets and its runtime journal on tmpfs there, so the host's
# journal, if any, is not touched); the worker's stderr is connected to the
# journal's stdout stream and JOURNAL_STREAM names it, as systemd does for a
# unit's ExecStart:
#  - with JOURNAL_STREAM matching stderr the worker sends native entries:
#    MESSAGE without the timestamp prefix, PRIORITY per level (6 info,
#    4 warning), SYSLOG_IDENTIFIER=shovel-worker, SHOVEL_NODE=<node id>,
#    _TRANSPORT=journal;
#  - JOURNAL_STREAM inherited by a worker whose stderr goes elsewhere (a
#    file): the worker keeps writing text to stderr, nothing to the journal;
#  - --log-file wins over the journal.
# Skips (exit 77) without root, unshare, or systemd-journald/journalctl.
# Usage: journal_test.sh WORKER_BIN SHOVELCTL_BIN
set -uo pipefail
worker=$1 ctl=$2
. "$(dirname "$0")/../common/private_journal.sh"
journal_test_needs
journal_test_enter "$@"

# start NAME MODE ARGS...: a worker whose stderr is the journal's stdout
# stream (systemd-cat), MODE "native" with JOURNAL_STREAM naming that
# stream, "stream" without it, "elsewhere" with JOURNAL_STREAM inherited
# but stderr sent to a file. Sets $endpoint.
start() {
  local name=$1 mode=$2
  shift 2
  under_journal "$name" "$mode" "exec \"$worker\" --listen tcp://127.0.0.1:0 \
  --ready-file \"$tmp/$name.ready\" --node-id \"$name\" \"\$@\"" "$@"
  for _ in $(seq 100); do [ -s "$tmp/$name.ready" ] && break; sleep 0.1; done
  endpoint=$(head -1 "$tmp/$name.ready" 2>/dev/null)
  [ -n "$endpoint" ] || { echo "FATAL: worker $name did not start"; exit 1; }
}
# fill ENDPOINT: 20 x 1 MiB that nothing compresses, into an 8 MiB worker.
fill() {
  head -c 1048576 /dev/urandom >"$tmp/mib"
  for i in $(seq 20); do
    "$ctl" --workers "$1" set "fill/$i" "$tmp/mib" >/dev/null || return 1
  done
}

# 1. Native entries.
start w-native native --max-memory 8MiB --compression-level 0
if wait_entry "listening on" SHOVEL_NODE=w-native; then
  e=$(entries SHOVEL_NODE=w-native | grep "listening on" | head -1)
  msg=$(field "$e" MESSAGE)
  [[ "$msg" == *"listening on $endpoint"* && "$msg" != 20* ]] &&
    pass "MESSAGE '$msg' (no timestamp prefix)" || fail "MESSAGE '$msg'"
  [ "$(field "$e" PRIORITY)" = 6 ] && pass "info line has PRIORITY=6" ||
    fail "info line PRIORITY=$(field "$e" PRIORITY)"
  [ "$(field "$e" SYSLOG_IDENTIFIER)" = shovel-worker ] &&
    pass "SYSLOG_IDENTIFIER=shovel-worker" || fail "SYSLOG_IDENTIFIER=$(field "$e" SYSLOG_IDENTIFIER)"
  [ "$(field "$e" _TRANSPORT)" = journal ] && pass "_TRANSPORT=journal (native protocol)" ||
    fail "_TRANSPORT=$(field "$e" _TRANSPORT)"
  [ "$(field "$e" _COMM)" = shovel-worker ] && pass "_COMM=shovel-worker (journald's own field)" ||
    fail "_COMM=$(field "$e" _COMM)"
else
  fail "no entry 'listening on' with SHOVEL_NODE=w-native"
  entries | tail -20
fi
fill "$endpoint" || fail "writing 20 x 1 MiB"
if wait_entry "memory pressure" SHOVEL_NODE=w-native PRIORITY=4; then
  e=$(entries SHOVEL_NODE=w-native PRIORITY=4 | grep "memory pressure" | head -1)
  pass "eviction warning with PRIORITY=4: $(field "$e" MESSAGE | cut -c1-60)..."
else
  fail "no 'memory pressure' entry with PRIORITY=4 and SHOVEL_NODE=w-native"
  entries SHOVEL_NODE=w-native | tail -5
fi
n=$(entries SYSLOG_IDENTIFIER=cat-w-native | grep -c . )
[ "$n" -eq 0 ] && pass "nothing went through the stdout stream" ||
  fail "$n lines went through the stdout stream: $(entries SYSLOG_IDENTIFIER=cat-w-native | head -2)"

# 2. No JOURNAL_STREAM: text through the stream, as before.
start w-stream stream
if wait_entry "listening on" SYSLOG_IDENTIFIER=cat-w-stream; then
  e=$(entries SYSLOG_IDENTIFIER=cat-w-stream | grep "listening on" | head -1)
  [ "$(field "$e" _TRANSPORT)" = stdout ] && [[ "$(field "$e" MESSAGE)" == 20*" info shovel-worker["* ]] &&
    pass "without JOURNAL_STREAM: timestamped text through the stream" ||
    fail "without JOURNAL_STREAM: $e"
else
  fail "without JOURNAL_STREAM: no 'listening on' line through the stream"
fi
[ "$(entries SHOVEL_NODE=w-stream | grep -c .)" -eq 0 ] &&
  pass "without JOURNAL_STREAM: no native entries" || fail "native entries without JOURNAL_STREAM"

# 3. JOURNAL_STREAM inherited, stderr elsewhere: stderr.
start w-else elsewhere
grep -Eq " info shovel-worker\[[0-9]+\]: .*listening on $endpoint" "$tmp/w-else.stderr" &&
  pass "JOURNAL_STREAM not matching stderr: text on stderr" ||
  { fail "JOURNAL_STREAM not matching stderr: stderr has no listening line"; cat "$tmp/w-else.stderr"; }
[ "$(entries SHOVEL_NODE=w-else | grep -c .)" -eq 0 ] &&
  pass "JOURNAL_STREAM not matching stderr: no native entries" ||
  fail "native entries although stderr is not the journal"

# 4. --log-file wins.
start w-file native --log-file "$tmp/w-file.log"
grep -q "listening on $endpoint" "$tmp/w-file.log" && [ "$(entries SHOVEL_NODE=w-file | grep -c .)" -eq 0 ] &&
  pass "--log-file under the journal: the file, no native entries" ||
  fail "--log-file under the journal"

journal_test_end
