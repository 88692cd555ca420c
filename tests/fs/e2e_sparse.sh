#!/usr/bin/env bash
# Sparse files and interruptible waits through the kernel, on two mounts of
# one real worker. `truncate -s 10G` returns at once and stores nothing;
# `stat` shows the size, reads in the hole are zeros, a byte written at 5 GiB
# reads back on both mounts; a size no worker can hold is EFBIG at once.
# With the worker stopped (SIGSTOP), an fsync, an O_DIRECT read and a lookup
# that wait for it end with EINTR as soon as the caller gets a signal, well
# before the request deadline. Needs root and /dev/fuse; FAILS (never skips) when a
# mount cannot be made. Teardown unmounts what it mounted and kills what it
# started, by pid.
#   tests/fs/e2e_sparse.sh BUILD_DIR
set -uo pipefail
build=$(cd "${1:?usage: e2e_sparse.sh BUILD_DIR}" && pwd)
e2e_name=sparse
# shellcheck source=e2e_lib.sh
. "$(dirname "$0")/e2e_lib.sh"

require_fuse

# A worker whose limit allows a 10 GiB file (a file lives on one worker);
# holes take no memory, so it never holds more than a few bytes here.
"$WORKER" --listen tcp://127.0.0.1:0 --node-id sparse --max-memory 12GiB \
  --ready-file "$tmp/w.ready" >"$tmp/w.log" 2>&1 &
wpid=$!
pids+=("$wpid")
for _ in $(seq 100); do [ -s "$tmp/w.ready" ] && break; sleep 0.1; done
[ -s "$tmp/w.ready" ] || die "the worker did not start: $(tail -3 "$tmp/w.log")"
ep=$(head -1 "$tmp/w.ready")
A=$tmp/a
B=$tmp/b
mount_fs "$A" -o "workers=$ep" || die "cannot mount $A"
mount_fs "$B" -o "workers=$ep" || die "cannot mount $B"

G10=$((10 << 30))
G5=$((5 << 30))
check "truncate -s 10G returns at once (< 3 s; zeros took ~10 s); stat shows the size" bash -c "
  echo -n head > '$A/f' && s=\$(date +%s%N) && truncate -s 10G '$A/f' &&
  e=\$(( (\$(date +%s%N) - s) / 1000000 )) && echo \"took \$e ms\" && [ \$e -lt 3000 ] &&
  [ \$(stat -c %s '$A/f') = $G10 ]"
check "dd reads in the middle of the hole are zeros; the head is kept" bash -c "
  [ \"\$(head -c 4 '$A/f')\" = head ] &&
  [ \$(dd if='$A/f' bs=1M skip=3000 count=4 status=none | tr -d '\\0' | wc -c) = 0 ] &&
  [ \$(dd if='$A/f' bs=1M skip=3000 count=4 status=none | wc -c) = 4194304 ] &&
  [ \$(dd if='$A/f' bs=4k skip=2621439 count=2 status=none | wc -c) = 4096 ]"
check "a byte written at 5 GiB reads back; nothing else is stored" bash -c "
  printf X | dd of='$A/f' bs=1 seek=$G5 conv=notrunc status=none &&
  [ \"\$(dd if='$A/f' bs=1 skip=$G5 count=1 status=none)\" = X ] &&
  [ \$(dd if='$A/f' bs=1M skip=5119 count=2 status=none | tr -d '\\0' | wc -c) = 1 ] &&
  [ \$(stat -c %s '$A/f') = $G10 ] &&
  [ \$(getfattr --only-values -n user.shovel.stored_bytes '$A/f') -lt 65536 ]"
check "lseek SEEK_HOLE / SEEK_DATA find the hole and the byte; ENXIO after it" python3 -c "
import errno, os
fd = os.open('$A/f', os.O_RDONLY)
assert os.lseek(fd, 0, os.SEEK_HOLE) == 4
assert os.lseek(fd, 4, os.SEEK_DATA) == $G5
assert os.lseek(fd, $G5, os.SEEK_HOLE) == $G5 + 1
try:
    os.lseek(fd, $G5 + 1, os.SEEK_DATA); raise SystemExit('data after the byte')
except OSError as e:
    assert e.errno == errno.ENXIO, e
"
check "du counts only stored blocks; cp copies the holes as holes, at once" bash -c "
  [ \$(du -k '$A/f' | cut -f1) -lt 1024 ] &&
  s=\$(date +%s) && timeout 60 cp '$A/f' '$A/copy' && [ \$((\$(date +%s) - s)) -lt 10 ] &&
  [ \$(stat -c %s '$A/copy') = $G10 ] && [ \"\$(head -c 4 '$A/copy')\" = head ] &&
  [ \"\$(dd if='$A/copy' bs=1 skip=$G5 count=1 status=none)\" = X ] &&
  [ \$(getfattr --only-values -n user.shovel.stored_bytes '$A/copy') -lt 1048576 ]"
check "another mount sees the size, the zeros and the byte" bash -c "
  [ \$(stat -c %s '$B/f') = $G10 ] && [ \"\$(head -c 4 '$B/f')\" = head ] &&
  [ \"\$(dd if='$B/f' bs=1 skip=$G5 count=1 status=none)\" = X ] &&
  [ \$(dd if='$B/f' bs=1M skip=7000 count=2 status=none | tr -d '\\0' | wc -c) = 0 ]"
check "ftruncate and a pwrite past the end of a new file leave holes" python3 -c "
import os
p = '$A/g'
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
os.write(fd, b'start'); os.ftruncate(fd, 3 << 30); os.pwrite(fd, b'far', 6 << 30)
os.close(fd)
assert os.stat(p).st_size == (6 << 30) + 3, os.stat(p).st_size
with open('$B/g', 'rb') as f:
    assert f.read(5) == b'start'
    f.seek((6 << 30) - 2); assert f.read() == b'\0\0far'
    f.seek(2 << 30); assert f.read(1 << 20) == bytes(1 << 20)
"
check "truncate -s 999999999999999 fails at once with EFBIG" bash -c "
  s=\$(date +%s%N); out=\$(timeout 10 truncate -s 999999999999999 '$A/f' 2>&1); rc=\$?
  e=\$(( (\$(date +%s%N) - s) / 1000000 )); echo \"rc \$rc in \$e ms: \$out\"
  [ \$rc = 1 ] && [ \$e -lt 2000 ] && echo \"\$out\" | grep -q 'File too large' &&
  [ \$(stat -c %s '$A/f') = $G10 ]"
check "rm of the sparse files" rm -f "$A/f" "$A/g" "$A/copy"

# Interruptible waits: a request that waits for a stopped worker ends with
# EINTR when the caller gets a signal (the deadline is 5 s).
python3 -c "open('$A/slow', 'wb').write(bytes(range(256)) * 16384)"  # 4 MiB
interrupted() {  # interrupted WHAT PYTHON-BODY: the body must be cut short
  python3 -c "
import mmap, os, signal, sys, time
class Interrupted(Exception): pass
def on_alarm(*_): raise Interrupted()
signal.signal(signal.SIGALRM, on_alarm)
$2
os.kill($wpid, signal.SIGSTOP)
def stopped():  # every thread of the worker, not only the signal's arrival
    tasks = os.listdir('/proc/$wpid/task')
    return all(open('/proc/$wpid/task/%s/stat' % t).read().rsplit(')', 1)[1].split()[0]
               == 'T' for t in tasks)
for _ in range(200):
    if stopped(): break
    time.sleep(0.01)
t0 = time.monotonic()
signal.setitimer(signal.ITIMER_REAL, 0.5)
try:
    wait()
    raise SystemExit('$1 returned without the worker')
except Interrupted:
    pass
finally:
    took = time.monotonic() - t0
    os.kill($wpid, signal.SIGCONT)
print('$1 ended %.2f s after it started' % took)
assert took < 2.5, took
"
}
# Each case on a mount whose client has not yet seen the worker time out.
C=$tmp/c
mount_fs "$C" -o "workers=$ep" || die "cannot mount $C"
check "a lookup waiting for a stopped worker ends on a signal (EINTR)" interrupted stat "
def wait(): os.stat('$C/not-there')"
sleep 6
check "an fsync waiting for a stopped worker ends on a signal (EINTR)" interrupted fsync "
fd = os.open('$A/slow', os.O_RDWR)
os.pwrite(fd, b'changed', 100)
def wait(): os.fsync(fd)"
sleep 6  # the abandoned commit ends (its deadline) before the next case
check "an O_DIRECT read waiting for a stopped worker ends on a signal (EINTR)" \
  interrupted read "
fd = os.open('$B/slow', os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
def wait(): os.preadv(fd, [buf], 3 << 20)"
sleep 6
# An xattr of a file the kernel knows already (no lookup first).
D=$tmp/d
mount_fs "$D" -o "workers=$ep" || die "cannot mount $D"
check "a getxattr waiting for a stopped worker ends on a signal (EINTR)" \
  interrupted getxattr "
os.stat('$D/slow')
def wait(): os.getxattr('$D/slow', 'user.shovel.version')"
sleep 6
check "the mount works again once the worker is back" bash -c "
  [ \$(stat -c %s '$A/slow') = 4194304 ] && echo again > '$A/after' &&
  [ \"\$(cat '$B/after')\" = again ]"

echo "# $passes passed, $failures failed"
[ "$failures" = 0 ]
