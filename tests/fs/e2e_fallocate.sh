#!/usr/bin/env bash
# fallocate(2) through the kernel, on two mounts of one real worker, with
# fallocate(1) and posix_fallocate(3): `fallocate -l` grows a file at once
# with zeros (a hole: nothing stored) and never shrinks it; `-n` (keep size) changes
# nothing; `-p` zeros a range (a hole) and keeps the size, and neither mount (nor a
# descriptor that read the old bytes into the page cache) reads them again;
# other modes are EOPNOTSUPP, and bad arguments, a read-only descriptor and
# a directory give Linux's errno. Needs root and /dev/fuse; FAILS (never
# skips) when a mount cannot be made. Teardown unmounts what it mounted and
# kills what it started, by pid.
#   tests/fs/e2e_fallocate.sh BUILD_DIR
set -uo pipefail
build=$(cd "${1:?usage: e2e_fallocate.sh BUILD_DIR}" && pwd)
e2e_name=fallocate
worker_memory=2GiB
# shellcheck source=e2e_lib.sh
. "$(dirname "$0")/e2e_lib.sh"

require_fuse
start_worker w || die "the worker did not start: $(tail -3 "$tmp/w.log")"
ep=$(head -1 "$tmp/w.ready")
A=$tmp/a
B=$tmp/b
mount_fs "$A" -o "workers=$ep" || die "cannot mount $A"
mount_fs "$B" -o "workers=$ep" || die "cannot mount $B"
M100=$((100 << 20))

check "fallocate -l 100M of a new file: that size at once, zeros, nothing stored" bash -c "
  s=\$(date +%s%N) && fallocate -l 100M '$A/new' &&
  e=\$(( (\$(date +%s%N) - s) / 1000000 )) && echo \"took \$e ms\" && [ \$e -lt 2000 ] &&
  [ \$(stat -c %s '$A/new') = $M100 ] && [ \$(stat -c %s '$B/new') = $M100 ] &&
  cmp -n $M100 '$B/new' /dev/zero &&
  [ \$(getfattr --only-values -n user.shovel.stored_bytes '$A/new') -lt 65536 ]"
check "fallocate -l below the end keeps the size and the bytes" bash -c "
  printf 0123456789 > '$A/keep' && fallocate -l 4 '$A/keep' &&
  [ \$(stat -c %s '$A/keep') = 10 ] && [ \"\$(cat '$B/keep')\" = 0123456789 ]"
check "fallocate -o 8 -l 4M grows an existing file; its bytes stay" bash -c "
  printf abcdefghij > '$A/grow' && fallocate -o 8 -l 4M '$A/grow' &&
  [ \$(stat -c %s '$B/grow') = $((8 + (4 << 20))) ] &&
  [ \"\$(head -c 10 '$B/grow')\" = abcdefghij ] &&
  cmp -n $(((4 << 20) - 2)) -i 10:0 '$B/grow' /dev/zero"
check "fallocate -n (--keep-size) -l 50M: the size and bytes do not change" bash -c "
  printf abc > '$A/k' && fallocate -n -l 50M '$A/k' &&
  [ \$(stat -c %s '$A/k') = 3 ] && [ \"\$(cat '$B/k')\" = abc ]"
check "posix_fallocate(3) grows a file to offset + length" python3 -c "
import os
fd = os.open('$A/posix', os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b'xy')
os.posix_fallocate(fd, 0, 3 << 20)
os.close(fd)
assert os.stat('$B/posix').st_size == 3 << 20
with open('$B/posix', 'rb') as f:
    data = f.read()
assert data[:2] == b'xy' and data[2:] == bytes((3 << 20) - 2), 'wrong bytes'"

# A 2 MiB file of a pattern, read into the page cache of both mounts (and
# held open read-only on A) before the punch: no stale byte may show after.
python3 -c "
import sys
sys.stdout.buffer.write(bytes((i * 7 + 3) % 251 for i in range(2 << 20)))" >"$tmp/pattern"
cp "$tmp/pattern" "$A/p"
cp "$tmp/pattern" "$tmp/want"
dd if=/dev/zero of="$tmp/want" bs=1 seek=5000 count=300000 conv=notrunc status=none
check "fallocate -p zeros the range, keeps the size; both mounts read it (cmp, od)" python3 -c "
import os, subprocess
held = os.open('$A/p', os.O_RDONLY)
before = os.pread(held, 2 << 20, 0)            # fills A's page cache
open('$B/p', 'rb').read()                       # and B's
assert before == open('$tmp/pattern', 'rb').read()
subprocess.run(['fallocate', '-p', '-o', '5000', '-l', '300000', '$A/p'], check=True)
assert os.stat('$A/p').st_size == 2 << 20 and os.stat('$B/p').st_size == 2 << 20
assert os.pread(held, 2 << 20, 0) == open('$tmp/want', 'rb').read(), 'stale through the held fd'
os.close(held)
for m in ('$A', '$B'):
    subprocess.run(['cmp', m + '/p', '$tmp/want'], check=True)
od = subprocess.run(['od', '-An', '-tx1', '-j', '4998', '-N', '4', '$A/p'],
                    capture_output=True, text=True, check=True).stdout.split()
assert od[2:] == ['00', '00'] and od[:2] != ['00', '00'], od"
check "fallocate -p of 200 MiB in a 256 MiB file: a hole (SEEK_HOLE, stored bytes), zeros" bash -c "
  head -c 256M /dev/urandom > '$tmp/rand' && cp '$tmp/rand' '$A/big' &&
  fallocate -p -o 32M -l 200M '$A/big' && [ \$(stat -c %s '$B/big') = $((256 << 20)) ] &&
  cmp -n $((32 << 20)) '$B/big' '$tmp/rand' &&
  cmp -n $((200 << 20)) -i $((32 << 20)):0 '$B/big' /dev/zero &&
  cmp -i $((232 << 20)) '$B/big' '$tmp/rand' &&
  [ \$(getfattr --only-values -n user.shovel.stored_bytes '$A/big') = $((56 << 20)) ] &&
  python3 -c \"import os; fd = os.open('$B/big', os.O_RDONLY); assert os.lseek(fd, 0, os.SEEK_HOLE) == 32 << 20\" &&
  rm -f '$tmp/rand' '$A/big'"
check "fallocate -p past the end changes nothing; -p over the tail keeps the size" bash -c "
  printf 0123456789 > '$A/t' && fallocate -p -o 100 -l 10 '$A/t' &&
  [ \"\$(cat '$A/t')\" = 0123456789 ] && fallocate -p -o 6 -l 100 '$A/t' &&
  [ \$(stat -c %s '$B/t') = 10 ] &&
  [ \"\$(od -An -tx1 '$B/t' | tr -d ' \\n')\" = 30313233343500000000 ]"

check "collapse, insert and zero ranges: Operation not supported" bash -c "
  fallocate -l 1M '$A/modes' && for m in -c -i -z; do
    ! fallocate \$m -o 0 -l 4096 '$A/modes' 2>'$tmp/mode.err' || exit 1
    cat '$tmp/mode.err'; grep -q 'not supported' '$tmp/mode.err' || exit 1
  done && [ \$(stat -c %s '$A/modes') = 1048576 ]"
check "a size no worker holds: File too large at once; the file is unchanged" bash -c "
  printf a > '$A/huge' && ! timeout 10 fallocate -l 999999999999999 '$A/huge' 2>'$tmp/huge.err';
  cat '$tmp/huge.err'; grep -q 'File too large' '$tmp/huge.err' &&
  [ \$(stat -c %s '$A/huge') = 1 ]"
check "bad arguments, a read-only descriptor, a directory: EINVAL, EBADF, EISDIR" python3 -c "
import errno, os
def err(f):
    try:
        f()
    except OSError as e:
        return e.errno
    return 0
fd = os.open('$A/keep', os.O_RDWR)
assert err(lambda: os.posix_fallocate(fd, -1, 10)) == errno.EINVAL
assert err(lambda: os.posix_fallocate(fd, 0, 0)) == errno.EINVAL
assert err(lambda: os.posix_fallocate(fd, (1 << 63) - 2, 10)) == errno.EFBIG
os.close(fd)
ro = os.open('$A/keep', os.O_RDONLY)
assert err(lambda: os.posix_fallocate(ro, 0, 100)) == errno.EBADF
os.close(ro)
os.mkdir('$A/dir')
d = os.open('$A/dir', os.O_RDONLY)
assert err(lambda: os.posix_fallocate(d, 0, 100)) == errno.EBADF   # not open for writing
os.close(d)
assert err(lambda: os.open('$A/dir', os.O_RDWR)) == errno.EISDIR  # fallocate(1) opens O_RDWR
assert os.stat('$A/keep').st_size == 10
"

echo "# $passes passed, $failures failed"
[ "$failures" = 0 ]
