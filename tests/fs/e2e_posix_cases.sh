# POSIX cases of tests/fs/e2e.sh (sourced; uses its check/pass/fail helpers):
# symlinks, hard links, special files, times, long paths, open-unlinked
# files, a file size no worker can hold, and real trees through tar and cp -a.

symlink_cases() {  # MP
  local m=$1
  echo hi >"$m/target"
  mkdir -p "$m/ldir/sub"
  check "ln -s, readlink, lstat, follow" bash -c "ln -s target '$m/lnk' &&
    [ \"\$(readlink '$m/lnk')\" = target ] && [ -L '$m/lnk' ] &&
    [ \"\$(stat -c %F '$m/lnk')\" = 'symbolic link' ] && [ \$(stat -c %s '$m/lnk') = 6 ] &&
    [ \"\$(cat '$m/lnk')\" = hi ] && [ \"\$(stat -L -c %F '$m/lnk')\" = 'regular file' ]"
  check "symlink to a directory, dangling symlink, ln -s over a name is EEXIST" bash -c "
    ln -s ldir '$m/ld' && [ \"\$(ls '$m/ld/')\" = sub ] && ln -s /no/such '$m/dangling' &&
    [ -L '$m/dangling' ] && [ ! -e '$m/dangling' ] &&
    ln -s x '$m/target' 2>&1 | grep -q 'File exists'"
  check "O_NOFOLLOW on a symlink is ELOOP; lchown; rm removes the link only" python3 -c "
import errno, os
p = '$m/lnk'
try:
    os.open(p, os.O_RDONLY | os.O_NOFOLLOW); raise SystemExit('opened')
except OSError as e:
    assert e.errno == errno.ELOOP, e
os.lchown(p, 1234, 1234)
assert os.lstat(p).st_uid == 1234 and os.stat(p).st_uid != 1234
os.unlink(p)
assert not os.path.lexists(p) and open('$m/target').read() == 'hi\n'
"
}

hard_link_cases() {  # MP
  local m=$1
  check "ln: two names, one file; st_nlink counts names; rm keeps the other" bash -c "
    echo one > '$m/h1' && ln '$m/h1' '$m/h2' && [ \$(stat -c %h '$m/h1') = 2 ] &&
    [ \$(stat -c %i '$m/h1') = \$(stat -c %i '$m/h2') ] && echo two >> '$m/h2' &&
    [ \"\$(cat '$m/h1')\" = \$'one\ntwo' ] && rm '$m/h1' && [ \$(stat -c %h '$m/h2') = 1 ] &&
    [ \"\$(cat '$m/h2')\" = \$'one\ntwo' ] && ! ln '$m' '$m/hdir' 2>/dev/null"
}

special_file_cases() {  # MP
  local m=$1
  check "mkfifo: a FIFO that works" bash -c "mkfifo -m 600 '$m/fifo' && [ -p '$m/fifo' ] &&
    [ \$(stat -c %a '$m/fifo') = 600 ] && { echo through-fifo > '$m/fifo' & } &&
    [ \"\$(timeout 10 cat '$m/fifo')\" = through-fifo ]"
  check "mknod c / b keep their device numbers" bash -c "mknod '$m/null' c 1 3 &&
    mknod '$m/blk' b 8 1 && [ \"\$(stat -c '%F %t %T' '$m/null')\" = 'character special file 1 3' ] &&
    [ \"\$(stat -c '%F %t %T' '$m/blk')\" = 'block special file 8 1' ]"
  check "a unix socket binds, connects and shows as a socket" python3 -c "
import os, socket, stat
p = '$m/sock'
srv = socket.socket(socket.AF_UNIX); srv.bind(p); srv.listen(1)
assert stat.S_ISSOCK(os.lstat(p).st_mode)
cli = socket.socket(socket.AF_UNIX); cli.connect(p)
conn, _ = srv.accept(); cli.sendall(b'ping'); assert conn.recv(4) == b'ping'
"
}

posix_rule_cases() {  # MP
  local m=$1
  check "truncate to a size no worker can hold: EFBIG at once" bash -c "
    : > '$m/huge' && ! timeout 20 truncate -s 999999999999999 '$m/huge' 2>'$tmp/err' &&
    grep -q 'File too large' '$tmp/err' && [ \$(stat -c %s '$m/huge') = 0 ]"
  check "chmod/chown change ctime; entries change the parent's mtime and ctime" python3 -c "
import os, time
m = '$m'
os.mkdir(m + '/times')
f = m + '/times/f'
open(f, 'w').close()
def tick(): time.sleep(0.02)
c0 = os.stat(f).st_ctime_ns; tick(); os.chmod(f, 0o600)
assert os.stat(f).st_ctime_ns > c0, 'chmod'
c1 = os.stat(f).st_ctime_ns; tick(); os.chown(f, 7, 7)
assert os.stat(f).st_ctime_ns > c1, 'chown'
for what, op in [('create', lambda: open(m + '/times/g', 'w').close()),
                 ('mkdir', lambda: os.mkdir(m + '/times/sub')),
                 ('symlink', lambda: os.symlink('g', m + '/times/l')),
                 ('unlink', lambda: os.unlink(m + '/times/g')),
                 ('rmdir', lambda: os.rmdir(m + '/times/sub'))]:
    before = os.stat(m + '/times'); tick(); op()
    after = os.stat(m + '/times')
    assert after.st_mtime_ns > before.st_mtime_ns, what
    assert after.st_ctime_ns > before.st_ctime_ns, what
"
  check "255-byte names to PATH_MAX; 1024-byte paths; longer is ENAMETOOLONG" python3 -c "
import errno, os
m = '$m'
os.mkdir(m + '/long')
fd = os.open(m + '/long', os.O_RDONLY)
rel = 'long'
for i in range(15):
    name = chr(ord('A') + i) * 255
    os.mkdir(name, dir_fd=fd)
    nfd = os.open(name, os.O_RDONLY, dir_fd=fd); os.close(fd); fd = nfd
    rel += '/' + name
room = 4082 - len(rel) - 1  # shovelfs's longest path inside the mount
os.mkdir('x' * room, dir_fd=fd)
try:
    os.mkdir('y' * (room + 1), dir_fd=fd); raise SystemExit('made')
except OSError as e:
    assert e.errno == errno.ENAMETOOLONG, e
assert not os.path.exists(m + '/' + rel + '/' + 'y' * (room + 1))
try:
    open(m + '/' + 'n' * 256, 'w'); raise SystemExit('made')
except OSError as e:
    assert e.errno == errno.ENAMETOOLONG, e
rel = '/'.join(['k' * 200] * 4)  # 803 bytes inside the mount
base = m + '/' + rel
os.makedirs(base)
prefix = len(rel) + 1
for n in range(1011, 1025):
    os.mkdir(base + '/' + 'd' * (n - prefix))
    assert os.path.isdir(base + '/' + 'd' * (n - prefix)), n
with open(base + '/' + 'f' * (1024 - prefix), 'w') as f: f.write('x')
"
  check "a write by another user clears setuid/setgid (>> and dd conv=notrunc)" bash -c "
    echo x > '$m/suid' && chmod 6777 '$m/suid' &&
    setpriv --reuid=65534 --regid=65534 --clear-groups bash -c \"echo more >> '$m/suid'\" &&
    [ \$(stat -c %a '$m/suid') = 777 ] && chmod 6777 '$m/suid' &&
    setpriv --reuid=65534 --regid=65534 --clear-groups dd of='$m/suid' conv=notrunc status=none <<< y &&
    [ \$(stat -c %a '$m/suid') = 777 ]"
  check "a set-group-ID directory gives new files its group, new dirs its bit" bash -c "
    mkdir '$m/sgid' && chgrp 1234 '$m/sgid' && chmod 2775 '$m/sgid' &&
    touch '$m/sgid/f' && mkdir '$m/sgid/s' && [ \$(stat -c %g '$m/sgid/f') = 1234 ] &&
    [ \"\$(stat -c '%g %a' '$m/sgid/s')\" = '1234 2755' ]"
  check "a file unlinked while open: read and written through its fd, nlink 0, gone at close" python3 -c "
import os
p = '$m/tmpfile'
fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o600)
os.write(fd, b'before ')
os.unlink(p)
assert not os.path.exists(p)
os.write(fd, b'after')
assert os.fstat(fd).st_nlink == 0
os.lseek(fd, 0, 0)
assert os.read(fd, 100) == b'before after'
os.close(fd)
assert not os.path.exists(p) and 'tmpfile' not in os.listdir('$m')
"
}

tree_copy_cases() {  # MP: tar -x and cp -a of a tree with every kind of file
  local m=$1 src=$tmp/tree
  mkdir -p "$src/empty" "$src/a/b/c" "$src/links"
  echo data >"$src/a/b/c/file" && chmod 640 "$src/a/b/c/file"
  head -c 300000 /dev/urandom >"$src/a/blob"
  ln -s ../a/b/c/file "$src/links/rel" && ln -s /etc/hostname "$src/links/abs"
  ln -s nowhere "$src/links/dangling" && ln -s ../a "$src/links/dir"
  mkfifo "$src/links/fifo"
  ln "$src/a/blob" "$src/links/hard"
  local long=$src/$(printf 'L%.0s' $(seq 255))
  mkdir -p "$long/$(printf 'M%.0s' $(seq 255))/$(printf 'N%.0s' $(seq 255))"
  echo deep >"$long/$(printf 'M%.0s' $(seq 255))/$(printf 'N%.0s' $(seq 255))/$(printf 'F%.0s' $(seq 250))"
  touch -h -d '2001-02-03 04:05:06' "$src/links/rel"
  tar -C "$src" -cf "$tmp/tree.tar" .
  # diff names two FIFOs as a difference; anything else it prints is one.
  same() { diff -r --no-dereference "$1" "$2" | grep -v '^File .* is a fifo while file .* is a fifo$'; [ -p "$2/links/fifo" ]; }
  mkdir "$m/untarred"
  check "tar -xf of a tree with symlinks, a FIFO, empty dirs, long names" bash -c "
    tar -C '$m/untarred' -xf '$tmp/tree.tar' && [ -z \"\$($(declare -f same); same '$src' '$m/untarred')\" ] &&
    [ -p '$m/untarred/links/fifo' ] && tar -C '$m/untarred' --compare -f '$tmp/tree.tar' &&
    [ \$(stat -c %i '$m/untarred/a/blob') = \$(stat -c %i '$m/untarred/links/hard') ]"
  check "cp -a of the tree" bash -c "cp -a '$src' '$m/copied' &&
    [ -z \"\$($(declare -f same); same '$src' '$m/copied')\" ] && [ -p '$m/copied/links/fifo' ] &&
    [ \"\$(stat -c %Y '$m/copied/links/rel')\" = \"\$(stat -c %Y '$src/links/rel')\" ] &&
    [ \$(stat -c %h '$m/copied/links/hard') = 2 ]"
}

two_mount_posix_cases() {  # MP1 MP2 of one cluster: what one makes, the other sees
  local a=$1 b=$2
  check "a symlink and a FIFO made on one mount show on the other" bash -c "
    ln -s some/target '$a/shared-link' && mkfifo '$a/shared-fifo' &&
    [ \"\$(readlink '$b/shared-link')\" = some/target ] && [ -p '$b/shared-fifo' ]"
  check "a hard link made on one mount: written on the other, seen on both" bash -c "
    echo first > '$a/hl1' && ln '$a/hl1' '$a/hl2' && [ \$(stat -c %h '$b/hl2') = 2 ] &&
    echo second > '$b/hl2' && [ \"\$(cat '$a/hl1')\" = second ] && rm '$b/hl1' &&
    [ \"\$(cat '$a/hl2')\" = second ]"
}

program_cases() {  # MP: unmodified programs (after tree_copy_cases made $tmp/tree)
  local m=$1
  check "rsync -aH into the mount and back: identical, hard links kept" bash -c "
    rsync -aH '$tmp/tree/' '$m/rsynced/' && rsync -aH '$m/rsynced/' '$tmp/back/' &&
    [ -z \"\$(diff -r --no-dereference '$tmp/tree' '$tmp/back' | grep -v '^File .* is a fifo while file .* is a fifo$')\" ] &&
    [ \$(stat -c %i '$m/rsynced/a/blob') = \$(stat -c %i '$m/rsynced/links/hard') ] &&
    [ \$(stat -c %h '$tmp/back/links/hard') = 2 ]"
  check "git init, add, commit, fsck" bash -c "cd '$m' && git init -q repo && cd repo &&
    echo hi > a && mkdir d && echo x > d/b && ln -s a l && git add -A &&
    git -c user.email=t@example.com -c user.name=t commit -qm init && git fsck --strict &&
    [ \$(git log --oneline | wc -l) = 1 ] && [ \"\$(git show HEAD:l)\" = a ]"
  check "sqlite: 10,000 rows inserted, queried, integrity_check ok" python3 -c "
import sqlite3
c = sqlite3.connect('$m/db.sqlite')
c.execute('create table t(i integer primary key, v text)')
with c:
    for i in range(10000):
        c.execute('insert into t(v) values (?)', ('row%d' % i,))
assert c.execute('select count(*), max(i) from t').fetchone() == (10000, 10000)
assert c.execute('select v from t where i = 5000').fetchone() == ('row4999',)
c.close()
c = sqlite3.connect('$m/db.sqlite')
assert c.execute('pragma integrity_check').fetchone() == ('ok',)
"
  check "python3 -m venv in the mount, then import from it" bash -c "
    python3 -m venv '$m/venv' && site=\$('$m/venv/bin/python' -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])') &&
    echo 'ANSWER = 42' > \"\$site/answer.py\" &&
    [ \"\$('$m/venv/bin/python' -c 'import answer, pip; print(answer.ANSWER)')\" = 42 ]"
}
