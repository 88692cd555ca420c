#!/usr/bin/env bash
# What an operator of a mount sees, on real mounts: its log and
# its metrics. Needs root and /dev/fuse; FAILS (never skips) when a mount
# cannot be made. Teardown unmounts and kills what it started, by pid.
#  - a background mount with -o log_file= logs "mounted ..." there, with a
#    timestamp and level; -o log_level=warn drops the info lines;
#  - a background mount with no log_file= and no journal logs to
#    $XDG_STATE_HOME/shoveling/shovelfs.log, never to /dev/null;
#  - -o metrics=127.0.0.1:0: curl sees FUSE operations by type with latency
#    histograms, the exact bytes written and read, page-cache keeps and
#    drops, and errors by errno, moving with what the test did;
#  - a worker killed after mounting: one "worker ... is down" line however
#    many reads fail, and the failed reads name the id, EIO and the worker;
#  - a bad log_level= or metrics= refuses the mount with one line;
#  - an embedded mount with -o max_memory=8MiB filled with 20 x 1 MiB: its
#    worker's "memory pressure" summary is in the mount's log file, once
#    (at most once a minute) however much more is evicted; its -o metrics=
#    page has the embedded worker's metrics (memory, evictions) too;
#  - SHOVEL_KEY_FILE (and SHOVEL_WORKER_KEY) in the environment,
#    meant for a cluster, do not break an embedded mount nor shovelctl
#    --mount; an explicit -o key_file= on an embedded mount is refused.
#   tests/fs/e2e_ops.sh BUILD_DIR
set -uo pipefail
build=$(cd "${1:?usage: e2e_ops.sh BUILD_DIR}" && pwd)
SHOVELFS=$build/fs/shovelfs
WORKER=$build/worker/shovel-worker
CTL=$build/cli/shovelctl
tmp=$(mktemp -d /tmp/shovelfs-ops.XXXXXX)
pids=()
mounts=()
failures=0

cleanup() {
  local m p
  for m in "${mounts[@]}"; do
    while grep -q " $m fuse" /proc/mounts; do
      fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || break
    done
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
pass() { echo "ok   - $*"; }
fail() { failures=$((failures + 1)); echo "FAIL - $*"; }
die() { echo "FATAL: $*"; exit 1; }
ts='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} '
mounted() { grep -q " $1 fuse.shovelfs " /proc/mounts; }
[ -c /dev/fuse ] || die "/dev/fuse is missing"

# start_worker NAME: sets $endpoint and $worker_pid.
start_worker() {
  "$WORKER" --listen tcp://127.0.0.1:0 --max-memory 256MiB --ready-file "$tmp/$1.ready" \
    --log-file "$tmp/$1.log" &
  worker_pid=$!
  pids+=("$worker_pid")
  for _ in $(seq 100); do [ -s "$tmp/$1.ready" ] && break; sleep 0.1; done
  endpoint=$(head -1 "$tmp/$1.ready" 2>/dev/null)
  [ -n "$endpoint" ] || die "worker $1 did not start"
}
# mount_bg MOUNTPOINT ARGS...: a background shovelfs (it exits 0 once mounted).
mount_bg() {
  local mp=$1
  shift
  mkdir -p "$mp"
  mounts+=("$mp")
  "$SHOVELFS" "$@" "$mp" 2>"$tmp/mount.err" || { cat "$tmp/mount.err"; return 1; }
  mounted "$mp"
}
# metric NAME_AND_LABELS: its value in the last scrape (0 when absent).
metric() {
  awk -v m="$1" '$1 == m { print $2; found = 1 } END { if (!found) print 0 }' "$tmp/scrape"
}
scrape() { curl -sf "$url" >"$tmp/scrape"; }

start_worker w1

# 1. log_file=, metrics=: the log file and its "mounted" line.
A=$tmp/a
mount_bg "$A" "$endpoint" -o "log_file=$tmp/a.log,metrics=127.0.0.1:0" ||
  die "cannot mount $A"
if grep -Eq "${ts}info shovelfs\[[0-9]+\]: mounted $A \(workers $endpoint\), metrics on http://127.0.0.1:[0-9]+/metrics" "$tmp/a.log"; then
  pass "log_file=: a timestamped 'mounted' line naming the workers and the metrics URL"
else
  fail "log_file= lacks the 'mounted' line"; cat "$tmp/a.log"
fi
url=$(sed -nE 's/.*metrics on (http:[^ ]+).*/\1/p' "$tmp/a.log" | head -1)

# 2. Metrics move with what the mount does.
scrape || die "curl $url failed"
grep -q '^# TYPE shovel_fuse_operation_duration_seconds histogram' "$tmp/scrape" &&
  grep -q '^# TYPE shovel_fuse_operations_total counter' "$tmp/scrape" &&
  grep -q '^# TYPE shovel_fuse_errors_total counter' "$tmp/scrape" &&
  pass "metric names and types" || { fail "metric names and types"; head -40 "$tmp/scrape"; }
w0=$(metric shovel_fuse_written_bytes_total)
head -c 3145728 /dev/urandom >"$tmp/three"
cp "$tmp/three" "$A/three"
scrape
w1=$(metric shovel_fuse_written_bytes_total)
[ "$((w1 - w0))" -eq 3145728 ] && pass "written bytes +3 MiB after cp of 3 MiB" ||
  fail "written bytes moved by $((w1 - w0)), expected 3145728"
[ "$(metric 'shovel_fuse_operations_total{op="write"}')" -gt 0 ] &&
  [ "$(metric 'shovel_fuse_operation_duration_seconds_count{op="write"}')" -gt 0 ] &&
  grep -q 'shovel_fuse_operation_duration_seconds_bucket{op="write",le="+Inf"}' "$tmp/scrape" &&
  pass "writes counted, with a latency histogram" || fail "no write operations counted"
r0=$(metric shovel_fuse_read_bytes_total)
echo 3 >/proc/sys/vm/drop_caches
cmp "$tmp/three" "$A/three" || fail "bytes read back differ"
cmp "$tmp/three" "$A/three" || fail "bytes read back differ (second time)"
scrape
r1=$(metric shovel_fuse_read_bytes_total)
[ "$((r1 - r0))" -eq 3145728 ] && pass "read bytes +3 MiB after reading 3 MiB (the second read from the page cache)" ||
  fail "read bytes moved by $((r1 - r0)), expected 3145728"
[ "$(metric shovel_fuse_page_cache_kept_total)" -ge 1 ] &&
  [ "$(metric shovel_fuse_page_cache_dropped_total)" -ge 1 ] &&
  pass "page cache: kept $(metric shovel_fuse_page_cache_kept_total), dropped $(metric shovel_fuse_page_cache_dropped_total)" ||
  fail "page cache counters: kept $(metric shovel_fuse_page_cache_kept_total), dropped $(metric shovel_fuse_page_cache_dropped_total)"
e0=$(metric 'shovel_fuse_errors_total{errno="ENOENT"}')
for i in 1 2 3; do cat "$A/missing-$i" 2>/dev/null; done
scrape
e1=$(metric 'shovel_fuse_errors_total{errno="ENOENT"}')
[ "$((e1 - e0))" -ge 3 ] && pass "ENOENT errors +$((e1 - e0)) after 3 opens of missing files" ||
  fail "ENOENT errors moved by $((e1 - e0))"

# 3. The worker dies after mounting: logged once, the failed reads name
# the id, the errno and the worker.
# A read on a descriptor opened before the worker died must ask the worker
# (the page cache is dropped: the kernel revalidates the file's attributes,
# then reads), so a request on 'small' fails; the opens after it fail too.
echo small >"$A/small"
exec 7<"$A/small"
echo 3 >/proc/sys/vm/drop_caches
kill -9 "$worker_pid"; wait "$worker_pid" 2>/dev/null
cat <&7 >/dev/null 2>&1 && fail "a read worked with the worker dead"
exec 7<&-
for i in 1 2 3; do cat "$A/small" >/dev/null 2>&1 && fail "read $i worked with the worker dead"; done
sleep 0.2
n=$(grep -c "is down" "$tmp/a.log")
if [ "$n" -eq 1 ] && grep -Eq "${ts}warning shovelfs\[[0-9]+\]: worker $endpoint is down: " "$tmp/a.log"; then
  pass "the dead worker logged once as down, for 4 failed reads"
else
  fail "'is down' lines: $n"; cat "$tmp/a.log"
fi
if grep -Eq "warning shovelfs\[[0-9]+\]: [a-z]+ 'small' failed with EIO: unavailable: .*$endpoint" "$tmp/a.log"; then
  pass "a failed request names the id, EIO and the worker"
else
  fail "no error line naming 'small', EIO and $endpoint"; cat "$tmp/a.log"
fi
scrape
[ "$(metric 'shovel_fuse_errors_total{errno="EIO"}')" -ge 1 ] && pass "EIO counted" ||
  fail "EIO not counted"
fusermount3 -u "$A"

# 4. log_level=warn: no info line.
start_worker w2
B=$tmp/b
mount_bg "$B" "$endpoint" -o "log_file=$tmp/b.log,log_level=warn" || die "cannot mount $B"
echo x >"$B/x"
fusermount3 -u "$B"
sleep 0.3
if [ -f "$tmp/b.log" ] && ! grep -q " info " "$tmp/b.log"; then
  pass "log_level=warn: no info line"
else
  fail "log_level=warn wrote info lines"; cat "$tmp/b.log"
fi

# 5. No log_file=, no journal: the XDG state file, not /dev/null.
if [ -S /run/systemd/journal/socket ]; then
  # A journal runs: the background mount logs there instead.
  C=$tmp/c
  mount_bg "$C" "$endpoint" || die "cannot mount $C"
  fusermount3 -u "$C"
  sleep 1
  if journalctl -q -t shovelfs --since "-1min" 2>/dev/null | grep -q "mounted $C "; then
    pass "background mount without log_file= logs to the journal"
  else
    fail "no 'mounted $C' in journalctl -t shovelfs"
  fi
else
  C=$tmp/c
  XDG_STATE_HOME=$tmp/state mount_bg "$C" "$endpoint" || die "cannot mount $C"
  if grep -Eq "${ts}info shovelfs\[[0-9]+\]: mounted $C " "$tmp/state/shoveling/shovelfs.log" 2>/dev/null; then
    pass "background mount without log_file= logs to \$XDG_STATE_HOME/shoveling/shovelfs.log"
  else
    fail "no log at $tmp/state/shoveling/shovelfs.log"; ls -la "$tmp/state" 2>&1
  fi
  fusermount3 -u "$C"
fi

# 6. Bad log_level= / metrics=: one line, exit 1, nothing mounted.
D=$tmp/d
mkdir -p "$D"
"$SHOVELFS" "$endpoint" "$D" -o log_level=loud >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
  grep -q "log level 'loud' is not one of debug, info, warn, error, off" "$tmp/err" &&
  ! mounted "$D" && pass "log_level=loud refused with one line" ||
  { fail "log_level=loud: exit $rc"; cat "$tmp/err"; }
"$SHOVELFS" "$endpoint" "$D" -f -o metrics=nowhere >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "is not HOST:PORT" "$tmp/err" &&
  ! mounted "$D" && pass "metrics=nowhere refused with one line" ||
  { fail "metrics=nowhere: exit $rc"; cat "$tmp/err"; }

# 7. Cluster keys in the environment and an embedded mount.
E=$tmp/e
"$CTL" keygen "$tmp/client.key" >"$tmp/client.pub" || die "shovelctl keygen"
if SHOVEL_KEY_FILE=$tmp/client.key mount_bg "$E" -o "max_memory=64MiB,log_file=$tmp/e.log"; then
  echo embedded >"$E/k" && [ "$(cat "$E/k")" = embedded ] &&
    pass "embedded mount with SHOVEL_KEY_FILE set: mounted, write and read work" ||
    fail "embedded mount with SHOVEL_KEY_FILE: write/read failed"
  got=$(SHOVEL_KEY_FILE=$tmp/client.key SHOVEL_WORKER_KEY=$(cat "$tmp/client.pub") \
    "$CTL" --mount "$E" get k 2>"$tmp/err")
  [ "$got" = embedded ] && pass "shovelctl --mount with SHOVEL_KEY_FILE set reads the file" ||
    { fail "shovelctl --mount with SHOVEL_KEY_FILE: '$got'"; cat "$tmp/err"; }
  fusermount3 -u "$E"
else
  fail "embedded mount with SHOVEL_KEY_FILE set did not mount"
fi
if SHOVEL_KEY_FILE=$tmp/client.key SHOVEL_WORKER_KEY=$(cat "$tmp/client.pub") \
  mount_bg "$E" -o "max_memory=64MiB,log_file=$tmp/e.log"; then
  [ "$(cat "$E/k" 2>/dev/null)" = "" ] && echo again >"$E/k2" && [ "$(cat "$E/k2")" = again ] &&
    pass "embedded mount with SHOVEL_KEY_FILE and SHOVEL_WORKER_KEY set works" ||
    fail "embedded mount with both keys set: write/read failed"
  fusermount3 -u "$E"
else
  fail "embedded mount with SHOVEL_KEY_FILE and SHOVEL_WORKER_KEY did not mount"
fi
"$SHOVELFS" "$E" -o "key_file=$tmp/client.key,log_file=$tmp/e.log" >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
  grep -q "key_file= and worker_key= are for a cluster's workers" "$tmp/err" && ! mounted "$E" &&
  pass "-o key_file= on an embedded mount refused with one line" ||
  { fail "-o key_file= on an embedded mount: exit $rc"; cat "$tmp/err"; }

# 8. Memory pressure in an embedded mount: its worker's summary goes to
# the mount's log (the first at once, then at most once a minute).
F=$tmp/f
if mount_bg "$F" -o "max_memory=8MiB,compression_level=0,log_file=$tmp/f.log,metrics=127.0.0.1:0"; then
  for i in $(seq 20); do head -c 1048576 /dev/urandom >"$F/f$i"; done
  pressure="${ts}warning shovelfs\[[0-9]+\]: embedded worker: memory pressure: [0-9]+ ids \([0-9.]+ MiB\) evicted in the last [0-9]+s to make room; memory used [0-9.]+ [KM]iB of 8.0 MiB"
  for _ in $(seq 50); do grep -Eq "$pressure" "$tmp/f.log" && break; sleep 0.1; done
  if grep -Eq "$pressure" "$tmp/f.log"; then
    n=$(grep -E "$pressure" "$tmp/f.log" | sed -E 's/.*memory pressure: ([0-9]+) ids.*/\1/')
    # The line sums what its window saw: a sample taken while the files
    # were written holds only part of the 12 or more evictions.
    [ "$n" -ge 1 ] && [ "$n" -le 20 ] &&
      pass "embedded mount: '$(grep -Eo "memory pressure: .* to make room" "$tmp/f.log")' in its log_file" ||
      fail "embedded mount: the summary counts $n ids, expected 1..20"
  else
    fail "embedded mount: no 'memory pressure' warning after 20 MiB into 8 MiB"; cat "$tmp/f.log"
  fi
  # Its metrics page has the embedded worker's beside the mount's.
  url=$(grep -Eo "metrics on http://127.0.0.1:[0-9]+/metrics" "$tmp/f.log" | cut -d' ' -f3)
  scrape || fail "embedded mount: no metrics at '$url'"
  [ "$(metric shovel_memory_limit_bytes)" = 8388608 ] &&
    [ "$(metric shovel_evictions_total)" -ge 12 ] &&
    [ "$(metric shovel_fuse_written_bytes_total)" = $((20 * 1048576)) ] &&
    pass "embedded mount's metrics: limit 8 MiB, $(metric shovel_evictions_total) evictions, 20 MiB written" ||
    fail "embedded mount's metrics: limit $(metric shovel_memory_limit_bytes), evictions $(metric shovel_evictions_total), written $(metric shovel_fuse_written_bytes_total)"
  for i in $(seq 21 30); do head -c 1048576 /dev/urandom >"$F/f$i"; done
  sleep 2.5  # two more samples
  c=$(grep -c "memory pressure" "$tmp/f.log")
  [ "$c" -eq 1 ] && pass "embedded mount: one summary within the minute, not one per eviction" ||
    fail "embedded mount: $c 'memory pressure' lines within a minute"
  fusermount3 -u "$F"
else
  fail "embedded mount with max_memory=8MiB did not mount"
fi

echo "$failures failed"
[ "$failures" -eq 0 ]
