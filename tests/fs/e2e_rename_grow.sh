#!/usr/bin/env bash
# Directory rename and file growth through the kernel. `mv` of a full tree
# (nested directories, symlinks, hard links, a FIFO, an empty directory) is
# one rename(2), not a copy, and the tree is identical afterwards; each errno
# case of rename(2) from python's os.rename; on a cluster of two real
# workers, a tree moved on one mount shows whole on another. Growing a file
# by truncate, ftruncate or a write past its end gives zeros, keeps the old
# bytes, and moves the mount's memory by a bounded amount; a size no worker
# can hold is EFBIG at once. Needs root and /dev/fuse;
# FAILS (never skips) when a mount cannot be made. Teardown unmounts what it
# mounted and kills what it started, by pid.
#   tests/fs/e2e_rename_grow.sh BUILD_DIR
set -uo pipefail
build=$(cd "${1:?usage: e2e_rename_grow.sh BUILD_DIR}" && pwd)
e2e_name=rename
# shellcheck source=e2e_lib.sh
. "$(dirname "$0")/e2e_lib.sh"

require_fuse

# A source tree with every kind of entry.
src=$tmp/src
mkdir -p "$src/empty" "$src/a/b/c" "$src/links"
echo data >"$src/a/b/c/file" && chmod 640 "$src/a/b/c/file"
head -c 300000 /dev/urandom >"$src/a/blob"
for i in $(seq 50); do echo "$i" >"$src/a/b/f$i"; done
ln -s ../a/b/c/file "$src/links/rel" && ln -s nowhere "$src/links/dangling"
mkfifo "$src/links/fifo"
ln "$src/a/blob" "$src/links/hard"
chmod 711 "$src/a/b"
# diff names two FIFOs as a difference; anything else it prints is one.
same() {
  diff -r --no-dereference "$1" "$2" | grep -v '^File .* is a fifo while file .* is a fifo$'
  [ -p "$2/links/fifo" ] || echo "no FIFO in $2"
}

# rename_cases MP: a moved tree and every errno case, on one mount.
rename_cases() {
  local m=$1
  cp -a "$src" "$m/t1" || { fail "cp -a of the source tree into $m"; return; }
  check "os.rename of a full tree succeeds (one rename, no EXDEV)" \
    python3 -c "import os; os.rename('$m/t1', '$m/t2')"
  check "the moved tree is identical; the old name is gone" bash -c "
    [ -z \"\$(same '$src' '$m/t2')\" ] && [ ! -e '$m/t1' ] &&
    [ \$(stat -c %h '$m/t2/links/hard') = 2 ] && [ \$(stat -c %a '$m/t2/a/b') = 711 ] &&
    [ \$(stat -c %i '$m/t2/a/blob') = \$(stat -c %i '$m/t2/links/hard') ]"
  check "mv of a directory into another directory, then back" bash -c "
    mkdir '$m/into' && mv '$m/t2' '$m/into/t3' && [ -z \"\$(same '$src' '$m/into/t3')\" ] &&
    mv '$m/into/t3/a' '$m/a-moved' && [ \"\$(cat '$m/a-moved/b/c/file')\" = data ] &&
    mv '$m/a-moved' '$m/into/t3/a' && [ -z \"\$(same '$src' '$m/into/t3')\" ] &&
    [ ! -e '$m/t2' ] && [ ! -e '$m/a-moved' ]"
  check "an empty directory keeps its mode; rename onto an empty directory replaces it" bash -c "
    mkdir -m 700 '$m/e1' && mkdir '$m/e2' &&
    python3 -c \"import os; os.rename('$m/e1', '$m/e2')\" && [ ! -e '$m/e1' ] &&
    [ \$(stat -c %a '$m/e2') = 700 ] && [ -z \"\$(ls -A '$m/e2')\" ]"
  check "an open file inside a moved directory keeps being written" python3 -c "
import os
os.mkdir('$m/od')
f = open('$m/od/f', 'w'); f.write('first '); f.flush()
os.rename('$m/od', '$m/od2')
f.write('second'); f.close()
assert open('$m/od2/f').read() == 'first second', open('$m/od2/f').read()
assert not os.path.exists('$m/od')
"
  check "rename(2) errno cases: EINVAL, ENOTEMPTY, ENOTDIR, EISDIR" python3 -c "
import errno, os
m = '$m'
os.makedirs(m + '/ed/sub'); os.makedirs(m + '/full/x'); os.mkdir(m + '/emp')
open(m + '/file', 'w').write('f')
def refused(a, b, code):
    try:
        os.rename(m + '/' + a, m + '/' + b)
    except OSError as e:
        assert e.errno == code, (a, b, errno.errorcode[e.errno], errno.errorcode[code])
        return
    raise SystemExit('rename %s -> %s succeeded' % (a, b))
refused('ed', 'ed/sub/ed', errno.EINVAL)
refused('ed', 'full', errno.ENOTEMPTY)
refused('ed', 'file', errno.ENOTDIR)
refused('file', 'emp', errno.EISDIR)
for d in ('ed/sub', 'full/x', 'emp'):
    assert os.path.isdir(m + '/' + d), d
assert open(m + '/file').read() == 'f'
"
}

echo "# embedded worker"
A=$tmp/a
mount_fs "$A" -o max_memory=1GiB || die "cannot mount shovelfs at $A"
rename_cases "$A"

echo "# two real workers, two mounts of one cluster"
start_worker w1 || die "cannot start shovel-worker w1"
start_worker w2 || die "cannot start shovel-worker w2"
e1=$(head -1 "$tmp/w1.ready")
e2=$(head -1 "$tmp/w2.ready")
B1=$tmp/b1
B2=$tmp/b2
mount_fs "$B1" -o "workers=$e1,$e2" || die "cannot mount $B1"
fs1=${pids[-1]}  # the shovelfs serving B1 (-f: the process itself)
mount_fs "$B2" -o "workers=$e1,$e2" || die "cannot mount $B2"
rename_cases "$B1"
check "a tree moved on one mount shows whole on the other" bash -c "
  cp -a '$src' '$B1/shared' && [ -z \"\$(same '$src' '$B2/shared')\" ] &&
  mv '$B1/shared' '$B1/shared-moved' && [ -z \"\$(same '$src' '$B2/shared-moved')\" ] &&
  sleep 1.2 && [ ! -e '$B2/shared' ]"

# hwm PID: the peak resident memory of process PID, in KiB.
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
echo "# growing files on a mount of real workers (512 MiB each)"
before=$(hwm "$fs1")
check "truncate -s 400M of a small file: zeros after the old bytes, at once" bash -c "
  echo head > '$B1/grown' && timeout 60 truncate -s 400M '$B1/grown' &&
  [ \$(stat -c %s '$B1/grown') = 419430400 ] && [ \"\$(head -c 4 '$B1/grown')\" = head ] &&
  [ \$(tail -c 1048576 '$B1/grown' | tr -d '\\0' | wc -c) = 0 ]"
check "ftruncate up, and a write 300 MiB past the end of a new file" timeout 60 python3 -c "
import os
p = '$B1/grown'
fd = os.open(p, os.O_RDWR); os.ftruncate(fd, 450 << 20); os.close(fd)
assert os.stat(p).st_size == 450 << 20
with open(p, 'rb') as f:
    assert f.read(5) == b'head\\n'; f.seek(420 << 20); assert f.read(1 << 20) == bytes(1 << 20)
fd = os.open('$B1/far', os.O_WRONLY | os.O_CREAT); os.pwrite(fd, b'end', 300 << 20); os.close(fd)
with open('$B1/far', 'rb') as f:
    assert f.read(1 << 20) == bytes(1 << 20); f.seek(300 << 20); assert f.read() == b'end'
"
after=$(hwm "$fs1")
# Bounded by the writer's chunks in flight and the read-ahead blocks, not
# by the size grown.
check "growing files by 750 MiB moved the mount's peak memory by < 160 MiB" \
  test $((after - before)) -lt 163840
check "a size no worker can hold: EFBIG at once (truncate, ftruncate, pwrite)" timeout 10 python3 -c "
import errno, os
fd = os.open('$B1/huge', os.O_RDWR | os.O_CREAT)
for grow in (lambda: os.ftruncate(fd, 1 << 40), lambda: os.pwrite(fd, b'x', 1 << 40),
             lambda: os.truncate('$B1/huge', 999999999999999)):
    try:
        grow(); raise SystemExit('grew')
    except OSError as e:
        assert e.errno == errno.EFBIG, e
os.close(fd)
assert os.stat('$B1/huge').st_size == 0
"
rm -f "$B1/grown" "$B1/far" "$B1/huge"

echo "# $passes passed, $failures failed"
[ "$failures" -eq 0 ]
