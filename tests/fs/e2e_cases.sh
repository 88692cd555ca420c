# Cases of tests/fs/e2e.sh (sourced; uses its check/pass/fail helpers).

basic_cases() {  # MP
  local m=$1
  check "echo > f; cat f" bash -c "echo hello > '$m/f' && [ \"\$(cat '$m/f')\" = hello ]"
  check "tee writes" bash -c "echo one | tee '$m/t' >/dev/null && [ \"\$(cat '$m/t')\" = one ]"
  check "tee -a appends" bash -c "echo two | tee -a '$m/t' >/dev/null && [ \"\$(cat '$m/t')\" = \$'one\ntwo' ]"
  check "missing id is ENOENT" bash -c "! cat '$m/nope' 2>&1 | grep -q x; cat '$m/nope' 2>&1 | grep -q 'No such file'"
  check "name over 255 bytes is ENAMETOOLONG" bash -c \
    "touch '$m/$(printf 'n%.0s' $(seq 300))' 2>&1 | grep -q 'File name too long'"
  check "mkdir -p, ls, rmdir" bash -c "mkdir -p '$m/d1/d2/d3' && [ \"\$(ls '$m/d1/d2')\" = d3 ] &&
    ! rmdir '$m/d1' 2>/dev/null && rmdir '$m/d1/d2/d3' '$m/d1/d2' '$m/d1' && [ ! -e '$m/d1' ]"
  check "mv replaces, rm deletes" bash -c "echo a > '$m/mv1' && echo b > '$m/mv2' &&
    mv '$m/mv1' '$m/mv2' && [ ! -e '$m/mv1' ] && [ \"\$(cat '$m/mv2')\" = a ] &&
    rm '$m/mv2' && [ ! -e '$m/mv2' ]"
  check "truncate shrinks and grows" bash -c "printf 0123456789 > '$m/tr' &&
    truncate -s 4 '$m/tr' && [ \"\$(cat '$m/tr')\" = 0123 ] &&
    truncate -s 8 '$m/tr' && [ \$(stat -c %s '$m/tr') = 8 ] && truncate -s 0 '$m/tr' &&
    [ \$(stat -c %s '$m/tr') = 0 ]"
  # dd with offsets, compared with the same dd on a local file.
  head -c 1048576 /dev/urandom >"$tmp/ddsrc"
  check "dd seek= conv=notrunc" bash -c "
    for t in '$tmp/ddref' '$m/dd'; do
      dd if='$tmp/ddsrc' of=\$t bs=64k count=16 status=none &&
      dd if=/dev/zero of=\$t bs=64k seek=3 count=2 conv=notrunc status=none &&
      dd if='$tmp/ddsrc' of=\$t bs=64k seek=20 count=1 conv=notrunc status=none || exit 1
    done; cmp '$tmp/ddref' '$m/dd'"
  check "dd seek= without notrunc cuts there" bash -c "
    for t in '$tmp/ddref2' '$m/dd2'; do
      dd if='$tmp/ddsrc' of=\$t bs=4k count=8 status=none &&
      dd if='$tmp/ddsrc' of=\$t bs=4k seek=5 count=1 status=none || exit 1
    done; cmp '$tmp/ddref2' '$m/dd2'"
  check "mmap read" python3 -c "
import mmap, os
p = '$m/mm'
with open(p, 'wb') as f: f.write(os.urandom(3 * 1048576 + 17))
with open(p, 'rb') as f:
    data = f.read()
with open(p, 'rb') as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
    assert mm[:] == data and mm[1048576:1048580] == data[1048576:1048580]
"
  check "df shows the cluster" bash -c "df -B1 '$m' | awk 'NR==2 {exit !(\$2 > 0)}'"
}

append_cases() {  # MP: 8 concurrent >> writers and 8 tee -a writers
  local m=$1 w
  : >"$m/log"
  for w in $(seq 8); do
    (for i in $(seq 200); do echo "writer $w line $i $(printf 'x%.0s' $(seq 60))" >>"$m/log"; done) &
  done
  wait
  for w in $(seq 8); do
    (for i in $(seq 100); do echo "tee $w line $i $(printf 'y%.0s' $(seq 60))"; done |
      tee -a "$m/log" >/dev/null) &
  done
  wait
  check "8 >> writers and 8 tee -a: every line, none torn, in order" python3 -c "
import re, collections
lines = open('$m/log').read().split('\n')
assert lines[-1] == '', 'no final newline'
nxt = collections.Counter()
for l in lines[:-1]:
    m = re.fullmatch(r'(writer|tee) (\d+) line (\d+) ([xy]+)', l)
    assert m and len(m.group(4)) == 60, 'torn line: %r' % l
    key = (m.group(1), m.group(2))
    nxt[key] += 1
    assert int(m.group(3)) == nxt[key], 'out of order: %r' % l
assert len(lines) - 1 == 8 * 200 + 8 * 100, len(lines)
"
}

big_copy_case() {  # MP: cp of a 1 GiB file + cmp, then a page-cache repeat read
  local m=$1
  head -c 1073741824 /dev/urandom >"$shm/big" || { fail "cannot make a 1 GiB source"; return; }
  check "cp 1 GiB + cmp" bash -c "cp '$shm/big' '$m/big' && cmp '$shm/big' '$m/big'"
  check "repeat read of 1 GiB matches" cmp "$shm/big" "$m/big"
  rm -f "$m/big"
  rm -f "$shm/big"
}

many_ids_case() {  # MP: ls of 10,000 ids
  local m=$1
  mkdir "$m/many"
  python3 -c "
import os
for i in range(10000):
    with open('$m/many/id%05d' % i, 'w') as f: f.write('x')
"
  check "ls of 10,000 ids" bash -c "[ \$(ls '$m/many' | wc -l) = 10000 ] && [ \$(ls -f '$m/many' | sort -u | wc -l) = 10002 ]"
}

metadata_cases() {  # MP: cp -p and tar -x keep modes and times
  local m=$1 src=$tmp/meta
  mkdir -p "$src/sub"
  echo a >"$src/a" && chmod 600 "$src/a" && touch -d '2001-02-03 04:05:06' "$src/a"
  echo b >"$src/sub/b" && chmod 751 "$src/sub/b" && touch -d '2011-12-13 14:15:16' "$src/sub/b"
  check "cp -p keeps mode and mtime" bash -c "cp -p '$src/a' '$m/cpp' &&
    [ \"\$(stat -c '%a %Y' '$m/cpp')\" = \"\$(stat -c '%a %Y' '$src/a')\" ]"
  check "chown is stored" bash -c "chown 1234:4321 '$m/cpp' && [ \"\$(stat -c '%u %g' '$m/cpp')\" = '1234 4321' ]"
  tar -C "$src" -cf "$tmp/meta.tar" .
  mkdir "$m/untar"
  check "tar -x keeps modes and mtimes" bash -c "tar -C '$m/untar' -xf '$tmp/meta.tar' &&
    [ \"\$(stat -c '%a %Y' '$m/untar/a' '$m/untar/sub/b')\" = \"\$(stat -c '%a %Y' '$src/a' '$src/sub/b')\" ] &&
    cmp '$src/sub/b' '$m/untar/sub/b'"
  # rsync comes from scripts/deps.sh; a missing rsync fails here, never skips.
  check "rsync -a keeps modes and mtimes" bash -c "rsync -a '$src/' '$m/rs/' &&
    [ \"\$(stat -c '%a %Y' '$m/rs/a' '$m/rs/sub/b')\" = \"\$(stat -c '%a %Y' '$src/a' '$src/sub/b')\" ] &&
    cmp '$src/sub/b' '$m/rs/sub/b'"
}

xattr_cases() {  # MP
  local m=$1
  echo data >"$m/x"
  check "getfattr -d shows user.shovel.*" bash -c "getfattr -d '$m/x' | grep -q '^user.shovel.node_ids=' &&
    getfattr -d '$m/x' | grep -q '^user.shovel.version=' && getfattr -d '$m/x' | grep -q '^user.shovel.score.'"
  check "user.shovel.* is read-only (EPERM)" bash -c "setfattr -n user.shovel.pinned -v 1 '$m/x' 2>&1 | grep -q 'not permitted'"
  check "user.* xattrs are stored" bash -c "setfattr -n user.color -v blue '$m/x' &&
    [ \"\$(getfattr --only-values -n user.color '$m/x')\" = blue ] && setfattr -x user.color '$m/x' &&
    ! getfattr -n user.color '$m/x' 2>/dev/null"
}

permission_cases() {  # MP mounted with allow_other: the kernel enforces modes
  local m=$1
  echo open >"$m/pub" && echo secret >"$m/priv" && chmod 600 "$m/priv"
  check "allow_other: another user reads a 0644 file" \
    setpriv --reuid=65534 --regid=65534 --clear-groups cat "$m/pub"
  check "allow_other: another user cannot read a 0600 file" bash -c \
    "! setpriv --reuid=65534 --regid=65534 --clear-groups cat '$m/priv' 2>/dev/null"
}

embedded_endpoint_cases() {  # MP embedded, allow_other: no route around the modes
  local m=$1 pid
  pid=$(fs_pid "$m")
  check "the embedded worker listens on no TCP port" bash -c "
    ! ss -ltnpH | grep -q 'pid=$pid,'"
  check "shovelctl --mount reads the 0600 file as the owner" bash -c "
    [ \"\$('$CTL' --mount '$m' get priv)\" = secret ]"
  check "another user cannot reach the embedded worker" bash -c "
    out=\$(setpriv --reuid=65534 --regid=65534 --clear-groups '$CTL' --mount '$m' get priv 2>&1)
    [ \$? -ne 0 ] && ! grep -q secret <<<\"\$out\" && grep -q 'no embedded worker' <<<\"\$out\""
  # The socket itself, named directly: its directory (0700) keeps another
  # user out; the owner, as a control, reads through it.
  check "another user cannot connect to the embedded worker's socket" bash -c "
    sock=\$(ss -xlpH | grep 'pid=$pid,' | awk '{print \$5}' | head -1)
    [ -n \"\$sock\" ] && [ \"\$('$CTL' --workers ipc://\$sock get priv)\" = secret ] || exit 1
    out=\$(setpriv --reuid=65534 --regid=65534 --clear-groups '$CTL' --workers ipc://\$sock \\
      --deadline 2000 get priv 2>&1)
    [ \$? -ne 0 ] && ! grep -q secret <<<\"\$out\""
}

two_mount_cases() {  # MP1 MP2 of one cluster: close-to-open
  local a=$1 b=$2
  check "closed file on one mount is whole on the other" bash -c "
    head -c 5000000 /dev/urandom > '$tmp/c2o' && cp '$tmp/c2o' '$a/shared' && cmp '$tmp/c2o' '$b/shared'"
  check "a change on the other mount shows at the next open" bash -c "
    cat '$a/shared' >/dev/null && echo changed > '$b/shared' && [ \"\$(cat '$a/shared')\" = changed ]"
  check "rm on one mount, gone on the other" bash -c "rm '$b/shared' && [ ! -e '$a/shared' ]"
}

cluster_xattr_cases() {  # MP WORKERS: node ids match shovelctl's
  local m=$1 workers=$2
  if [ ! -x "$CTL" ]; then fail "shovelctl is not built ($CTL)"; return; fi
  check "shovelctl init" env SHOVEL_WORKERS="$workers" "$CTL" init --prefix pinned/p --count 8
  check "user.shovel.node_ids matches shovelctl node-ids" bash -c "
    for i in 0 1 2 3 4 5 6 7; do
      a=\$(getfattr --only-values -n user.shovel.node_ids '$m/pinned/p'\$i) || exit 1
      b=\$(SHOVEL_WORKERS='$workers' '$CTL' node-ids pinned/p\$i | tr -s ' \n' ',' | sed 's/,\$//') || exit 1
      [ \"\$a\" = \"\$b\" ] || { echo \"p\$i: xattr '\$a' vs shovelctl '\$b'\"; exit 1; }
    done
    [ \"\$(getfattr --only-values -n user.shovel.pinned '$m/pinned/p0')\" = 1 ]"
  check "a score per live worker" bash -c "
    [ \$(getfattr -d -m 'user.shovel.score' '$m/pinned/p0' | grep -c '^user.shovel.score') = 2 ]"
}

fuse_killed_case() {  # MP WORKERS: kill -9 the FUSE process
  local m=$1 workers=$2 pid
  pid=$(fs_pid "$m")
  kill -9 "$pid"
  sleep 0.3
  check "killed FUSE process: the mount reports ENOTCONN" bash -c "ls '$m' 2>&1 | grep -q 'not connected'"
  fusermount3 -u "$m" || umount -l "$m"
  mount_fs "$m" -o "workers=$workers" && pass "a new mount works after fusermount3 -u" ||
    fail "a new mount works after fusermount3 -u"
  check "the new mount serves" bash -c "echo again > '$m/again' && [ \"\$(cat '$m/again')\" = again ]"
}

worker_killed_case() {  # MP1 MP2: a worker dies while a file is being read
  local a=$1 b=$2 holder pid
  head -c 64000000 /dev/urandom >"$b/victim"
  holder=$(getfattr --only-values -n user.shovel.node_id "$a/victim")
  pid=$(cat "$tmp/$holder.pid" 2>/dev/null)
  [ -n "$pid" ] || { fail "cannot find the worker holding victim ('$holder')"; return; }
  rm -f "$tmp/reading"
  timeout 60 python3 -c "
import errno, os, sys, time
fd = os.open('$a/victim', os.O_RDONLY)
os.read(fd, 1 << 20)
open('$tmp/reading', 'w').close()
try:
    while os.read(fd, 1 << 20):
        time.sleep(0.05)
except OSError as e:
    sys.exit(0 if e.errno == errno.EIO else 3)
sys.exit(2)
" &
  local reader=$!
  for _ in $(seq 100); do [ -e "$tmp/reading" ] && break; sleep 0.1; done
  kill -9 "$pid"
  wait "$reader"
  local rc=$?
  [ "$rc" -eq 0 ] && pass "worker killed mid-read: EIO, no hang" ||
    fail "worker killed mid-read: EIO, no hang (reader exit $rc; 124 = hung)"
}

option_cases() {
  check "unknown option: clear error, non-zero exit" bash -c "
    ! '$SHOVELFS' '$tmp/none' -o bogus=1 2>'$tmp/err' && grep -q \"unknown option 'bogus=1'\" '$tmp/err'"
  check "--help" bash -c "'$SHOVELFS' --help | grep -q usage"
  check "mounting on a missing dir fails on the terminal" bash -c "
    ! '$SHOVELFS' '$tmp/missing/dir' -o max_memory=64MiB 2>'$tmp/err' && grep -q 'does not exist' '$tmp/err'"
}

sigterm_case() {
  local m=$tmp/sig pid
  mount_fs "$m" -o max_memory=64MiB,compression_level=0 || { fail "mount for SIGTERM"; return; }
  yes "the same text line, again and again" | head -c 1000000 >"$m/text"
  sleep 1.5  # past the worker's raw window: level 1 would have compressed it
  check "-o compression_level=0: text stays raw (stored_bytes >= size)" bash -c "
    [ \"\$(getfattr --only-values -n user.shovel.stored_bytes '$m/text')\" -ge 1000000 ]"
  pid=$(fs_pid "$m")
  kill -TERM "$pid"
  check "SIGTERM unmounts cleanly" wait_unmounted "$m"
}

mount_helper_cases() {
  # mount(8) runs helpers with a fixed PATH (/usr/local/bin, /usr/bin...), so
  # the installed tree is bind-mounted over /usr/local/bin inside a private
  # mount namespace: the real mount -> mount.fuse3 -> shovelfs path, with
  # nothing touched outside this test.
  local prefix=$tmp/prefix
  check "cmake --install into a temp prefix" cmake --install "$build/fs" --prefix "$prefix"
  [ -x "$prefix/bin/shovelfs" ] || { fail "installed shovelfs missing"; return; }
  mkdir -p "$tmp/h1" "$tmp/h2" "$tmp/h3"
  echo "local $tmp/h3 fuse.shovelfs noauto,max_memory=64MiB 0 0" >"$tmp/fstab"
  check "mount -t fuse.shovelfs / mount -t fuse shovelfs / fstab" unshare -m --propagation private bash -c "
    set -e
    mount --bind '$prefix/bin' /usr/local/bin
    mount -t fuse.shovelfs local '$tmp/h1' -o max_memory=64MiB
    echo one > '$tmp/h1/f'; [ \"\$(cat '$tmp/h1/f')\" = one ]
    mount -t fuse shovelfs '$tmp/h2'
    echo two > '$tmp/h2/f'; [ \"\$(cat '$tmp/h2/f')\" = two ]
    mount -T '$tmp/fstab' '$tmp/h3'
    echo three > '$tmp/h3/f'; [ \"\$(cat '$tmp/h3/f')\" = three ]
    [ \$(grep -c ' $tmp/h[123] fuse.shovelfs ' /proc/self/mounts) = 3 ]
    umount '$tmp/h1'; fusermount3 -u '$tmp/h2'; umount '$tmp/h3'
  "
  local h p
  for h in h1 h2 h3; do  # the namespace's daemons, if a step above failed
    p=$(fs_pid "$tmp/$h")
    [ -n "$p" ] && kill "$p"
  done
}
