#!/usr/bin/env bash
# shovelfs reads through the kernel: random reads of raw and compressed
# files return the right bytes, a file this mount wrote stays in the page
# cache for the next open, a change made on another mount still shows at the
# next open (close-to-open), directories count their subdirectories in
# st_nlink and readdir reports entry types. Needs root and /dev/fuse; FAILS
# (never skips) when a mount cannot be made. Teardown unmounts what it
# mounted and kills what it started, by pid.
#   tests/fs/e2e_reads.sh BUILD_DIR
set -uo pipefail
build=$(cd "${1:?usage: e2e_reads.sh BUILD_DIR}" && pwd)
e2e_name=reads
# shellcheck source=e2e_lib.sh
. "$(dirname "$0")/e2e_lib.sh"

[ -c /dev/fuse ] || die "/dev/fuse is missing: this test needs it (and root)"

# random_reads FILE SOURCE: 400 preads of 4 KiB and 64 KiB at random offsets
# after the file's page cache is dropped, each compared with SOURCE.
random_reads() {
  python3 - "$1" "$2" <<'EOF'
import os, random, sys
path, src = sys.argv[1], open(sys.argv[2], "rb").read()
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
rnd = random.Random(1)
for i in range(400):
    n = 4096 if i % 2 else 65536
    off = rnd.randrange(0, len(src) - 10) // 512 * 512
    got = os.pread(fd, n, off)
    if got != src[off:off + n]:
        sys.exit("pread(%d, %d) returned other bytes" % (off, n))
if os.pread(fd, 4096, len(src) - 100) != src[-100:]:
    sys.exit("the last bytes differ")
EOF
}

# resident FILE: how many bytes of FILE the page cache holds.
resident() { fincore --bytes --noheadings --output RES "$1" | tr -d ' '; }

# d_types DIR: "name type" per entry, as readdir(3) reports them.
d_types() {
  python3 - "$1" <<'EOF'
import ctypes, sys
libc = ctypes.CDLL("libc.so.6", use_errno=True)
class Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]
libc.opendir.restype = ctypes.c_void_p
libc.readdir64.restype = ctypes.POINTER(Dirent)
libc.readdir64.argtypes = [ctypes.c_void_p]
libc.closedir.argtypes = [ctypes.c_void_p]
d = libc.opendir(sys.argv[1].encode())
if not d:
    sys.exit("opendir failed")
names = {1: "fifo", 2: "chr", 4: "dir", 6: "blk", 8: "reg", 10: "lnk", 12: "sock", 0: "unknown"}
out = []
while True:
    e = libc.readdir64(d)
    if not e:
        break
    out.append("%s %s" % (e.contents.d_name.decode(), names.get(e.contents.d_type, "?")))
libc.closedir(d)
print("\n".join(sorted(out)))
EOF
}

export -f random_reads resident d_types

echo "# embedded worker"
A=$tmp/a
mount_fs "$A" -o max_memory=1GiB || die "cannot mount shovelfs at $A"
head -c $((48 << 20)) /dev/urandom >"$tmp/rand"
python3 -c "
import random, sys
rnd = random.Random(7)
words = [''.join(rnd.choice('abcdefghij') for _ in range(rnd.randint(2, 9))) for _ in range(3000)]
out = []
n = 0
while n < (24 << 20):
    line = '%d %s\n' % (rnd.randint(0, 10**6), ' '.join(rnd.choice(words) for _ in range(10)))
    out.append(line)
    n += len(line)
sys.stdout.write(''.join(out))" >"$tmp/text"
check "random reads of an incompressible file return its bytes" bash -c "
  cp '$tmp/rand' '$A/rand' && random_reads '$A/rand' '$tmp/rand'"
check "random reads of a file stored compressed return its bytes" bash -c "
  cp '$tmp/text' '$A/text'
  size=\$(stat -c %s '$A/text')
  for _ in \$(seq 100); do
    stored=\$(getfattr --only-values -n user.shovel.stored_bytes '$A/text')
    [ \"\$stored\" -lt \$((size * 9 / 10)) ] && break
    sleep 0.1
  done
  [ \"\$stored\" -lt \$((size * 9 / 10)) ] || { echo \"still raw: \$stored of \$size\"; exit 1; }
  random_reads '$A/text' '$tmp/text'"
check "a sequential read after random ones is whole" cmp "$tmp/text" "$A/text"
check "a random 4 KiB read puts the 32 KiB frame around it into the page cache" bash -c "
  python3 -c '
import os
fd = os.open(\"$A/text\", os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
off = (10 << 20) + 45056  # past the read-ahead reorder distance: random
assert os.pread(fd, 4096, off) == open(\"$tmp/text\", \"rb\").read()[off:off + 4096]
os.close(fd)'
  got=\$(resident '$A/text'); [ \"\$got\" = 32768 ] || { echo \"resident: \$got\"; exit 1; }"
check "a random 64 KiB read over three frames puts all three into the page cache" bash -c "
  python3 -c '
import os
fd = os.open(\"$A/text\", os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
off = (14 << 20) + 45056  # frames 14 MiB + [32, 128) KiB
assert os.pread(fd, 65536, off) == open(\"$tmp/text\", \"rb\").read()[off:off + 65536]
os.close(fd)'
  got=\$(resident '$A/text'); [ \"\$got\" = 98304 ] || { echo \"resident: \$got\"; exit 1; }"
check "reads through a read-only descriptor see writes made meanwhile through another" \
  python3 - "$A/text" "$tmp/text" <<'EOF2'
import os, sys
path, want = sys.argv[1], bytearray(open(sys.argv[2], "rb").read())
r = os.open(path, os.O_RDONLY)
os.posix_fadvise(r, 0, 0, os.POSIX_FADV_DONTNEED)
os.posix_fadvise(r, 0, 0, os.POSIX_FADV_RANDOM)
w = os.open(path, os.O_RDWR)
for k in range(1, 23):
    base = k * 5 % 23 << 20  # 5 or 18 MiB from the last: random reads
    new = bytes([65 + k]) * 4096
    os.pwrite(w, new, base + 8192)           # a page of this frame, written
    want[base + 8192:base + 12288] = new
    got = os.pread(r, 4096, base)             # another page of the same frame
    if got != want[base:base + 4096]:
        sys.exit("at %d: the unwritten page differs" % base)
    if os.pread(r, 4096, base + 8192) != new:
        sys.exit("at %d: a read after the write returned older bytes" % base)
os.close(w)
n = os.open(path, os.O_RDONLY)
if os.pread(n, len(want) + 1, 0) != want or os.pread(r, len(want) + 1, 0) != want:
    sys.exit("the file differs after close")
os.close(n)
os.close(r)
open(sys.argv[2], "wb").write(want)
EOF2
check "a file this mount wrote stays in the page cache at the next open" bash -c "
  cp '$tmp/rand' '$A/fresh' && python3 -c 'open(\"$A/fresh\", \"rb\").close()'
  got=\$(resident '$A/fresh')
  [ \"\$got\" = $((48 << 20)) ] || { echo \"resident after open: \$got\"; exit 1; }
  cmp '$tmp/rand' '$A/fresh'"
check "directories count their subdirectories in st_nlink" bash -c "
  mkdir -p '$A/d/s1' '$A/d/s2/x' '$A/d/s3' && touch '$A/d/f' && rmdir '$A/d/s3'
  [ \"\$(stat -c %h '$A/d' '$A/d/s1' '$A/d/s2' | tr '\n' ' ')\" = '4 2 3 ' ]"
check "readdir reports the type of every entry" bash -c "
  ln -s f '$A/d/l' && mkfifo '$A/d/p' && mknod '$A/d/c' c 1 3
  want=\$(printf '%s\n' '. dir' '.. dir' 'c chr' 'f reg' 'l lnk' 'p fifo' 's1 dir' 's2 dir')
  got=\$(d_types '$A/d'); [ \"\$got\" = \"\$want\" ] || { echo \"\$got\"; exit 1; }"

echo "# one FUSE thread"
# With -o threads=1 a read-around store on the only FUSE thread waited for a
# page locked by the next READ, which only that thread could answer: the
# reader hung in D state. Reads of the page after a random one race the store.
S=$tmp/one
mount_fs "$S" -o max_memory=256MiB,threads=1 || die "cannot mount $S"
check "with threads=1, reads right after random ones into the same frame return" bash -c "
  cp '$tmp/rand' '$S/rand' && timeout 120 python3 -c '
import os, random
src = open(\"$tmp/rand\", \"rb\").read()
fd = os.open(\"$S/rand\", os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
rnd = random.Random(3)
for _ in range(3000):
    base = rnd.randrange(0, len(src) >> 15) << 15
    for off in (base + 8192, base + 12288, base + 28672):
        assert os.pread(fd, 4096, off) == src[off:off + 4096], off
'"

echo "# two mounts of one cluster"
start_worker w1 || die "cannot start shovel-worker"
e1=$(head -1 "$tmp/w1.ready")
B1=$tmp/b1
B2=$tmp/b2
mount_fs "$B1" -o "workers=$e1" || die "cannot mount $B1"
mount_fs "$B2" -o "workers=$e1" || die "cannot mount $B2"
check "a file this mount wrote, changed on another mount, shows changed at the next open" bash -c "
  head -c 4000000 /dev/urandom >'$tmp/v1' && head -c 4000000 /dev/urandom >'$tmp/v2'
  cp '$tmp/v1' '$B1/f' && cmp '$tmp/v1' '$B1/f' && cp '$tmp/v2' '$B2/f' && cmp '$tmp/v2' '$B1/f'"
check "random reads see the other mount's bytes after reopening" bash -c "
  random_reads '$B2/f' '$tmp/v2' && random_reads '$B1/f' '$tmp/v2'"
check "pages read around are dropped when another mount's write is reopened" \
  python3 - "$B1/g" "$B2/g" <<'EOF2'
import os, sys
b1, b2 = sys.argv[1], sys.argv[2]
va, vb = os.urandom(24 << 20), os.urandom(24 << 20)
with open(b1, "wb") as f:
    f.write(va)
spots = [(m << 20) + 40960 for m in (3, 9, 15, 21)]  # 6 MiB apart: random reads
old = os.open(b1, os.O_RDONLY)
os.posix_fadvise(old, 0, 0, os.POSIX_FADV_DONTNEED)
os.posix_fadvise(old, 0, 0, os.POSIX_FADV_RANDOM)
for off in spots:
    if os.pread(old, 4096, off) != va[off:off + 4096]:
        sys.exit("read before the change differs at %d" % off)
with open(b2, "wb") as f:
    f.write(vb)
new = os.open(b1, os.O_RDONLY)
for off in spots:  # the pages before: read around, now stale
    at = off - 8192
    if os.pread(new, 4096, at) != vb[at:at + 4096]:
        sys.exit("a reopened file returned the old bytes at %d" % at)
if os.pread(new, len(vb) + 1, 0) != vb:
    sys.exit("the reopened file differs")
EOF2

check "no open on one mount returns bytes older than a change another mount had acknowledged" \
  python3 - "$B1" "$B2" <<'EOF2'
import os, sys, threading, time
b1, b2 = sys.argv[1], sys.argv[2]
names = ["cto%d" % i for i in range(6)]
acked = {}  # name -> the last version whose close(2) returned on b2
def body(n):
    return (b"v%08d\n" % n).ljust(4096, b".")
for name in names:
    with open(os.path.join(b2, name), "wb") as f:
        f.write(body(0))
    acked[name] = 0
stop = time.monotonic() + 4
bad = []
def writer():
    n = 0
    while time.monotonic() < stop and not bad:
        n += 1
        name = names[n % len(names)]
        with open(os.path.join(b2, name), "wb") as f:
            f.write(body(n))
        acked[name] = n
opens = 0
seen = set()
t = threading.Thread(target=writer)
t.start()
while time.monotonic() < stop:
    for name in names:
        before = acked[name]
        fd = os.open(os.path.join(b1, name), os.O_RDONLY)
        data = os.read(fd, 8192)
        os.close(fd)
        opens += 1
        if len(data) != 4096:
            bad.append("%s: %d bytes" % (name, len(data)))
            break
        got = int(data[1:9])
        seen.add(got)
        if got < before:
            bad.append("%s: read v%d after v%d was acknowledged" % (name, got, before))
t.join()
if bad:
    sys.exit("; ".join(bad[:5]))
if opens < 200 or len(seen) < 20:
    sys.exit("only %d opens saw %d versions" % (opens, len(seen)))
print("%d opens, %d versions seen" % (opens, len(seen)))
EOF2

echo "# $passes passed, $failures failed"
[ "$failures" -eq 0 ]
