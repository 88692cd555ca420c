#!/usr/bin/env bash
# shovelfs refuses, with one line and a non-zero exit, a mount that could
# only fail or hide something: an unreachable cluster, a host name that does
# not resolve, a mount point that already has a shovelfs, a non-empty mount
# point (unless -o nonempty), a missing one. Needs root and /dev/fuse.
# Teardown unmounts what it mounted and kills what it started, by pid.
#   tests/fs/e2e_refusals.sh BUILD_DIR
set -uo pipefail
build=$(cd "${1:?usage: e2e_refusals.sh BUILD_DIR}" && pwd)
SHOVELFS=$build/fs/shovelfs
tmp=$(mktemp -d /tmp/shovelfs-refusals.XXXXXX)
mounts=()
failures=0
passes=0

cleanup() {
  local m
  for m in "${mounts[@]}"; do
    while grep -q " $m fuse" /proc/mounts; do
      fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || break
    done
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

pass() { passes=$((passes + 1)); echo "ok   - $*"; }
fail() { failures=$((failures + 1)); echo "FAIL - $*"; }
mount_count() { grep -c " $1 fuse.shovelfs " /proc/mounts; }

# refused NAME MESSAGE MOUNTPOINT ARGS...: shovelfs ARGS exits non-zero within
# 3 s, prints exactly one line on stderr that contains MESSAGE, nothing on
# stdout, and mounts nothing more at MOUNTPOINT.
refused() {
  local name=$1 msg=$2 mp=$3 before start rc took
  shift 3
  before=$(mount_count "$mp")
  start=$(date +%s%N)
  "$SHOVELFS" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  took=$((($(date +%s%N) - start) / 1000000))
  if [ "$rc" -ne 0 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qF -- "$msg" "$tmp/err" &&
    [ ! -s "$tmp/out" ] && [ "$(mount_count "$mp")" -eq "$before" ] && [ "$took" -lt 3000 ]; then
    pass "$name"
  else
    fail "$name (exit $rc, ${took} ms, mounts $before -> $(mount_count "$mp"))"
    sed 's/^/     /' "$tmp/err" | head -5
  fi
}

[ -c /dev/fuse ] || { echo "FATAL: /dev/fuse is missing"; exit 1; }

if [ "$("$SHOVELFS" --version)" = "shovelfs ${SHOVEL_VERSION:?}" ]; then
  pass "--version"
else
  fail "--version: $("$SHOVELFS" --version)"
fi

mp=$tmp/mp
mkdir -p "$mp"
mounts+=("$mp")
refused "worker down: connection refused" \
  "worker tcp://127.0.0.1:1: connection refused" "$mp" tcp://127.0.0.1:1 "$mp"
refused "worker down, in the foreground too" \
  "worker tcp://127.0.0.1:1: connection refused" "$mp" -f -o workers=tcp://127.0.0.1:1 "$mp"
refused "host name with a typo" \
  "cannot resolve host 'no-such-host.invalid'" "$mp" -o workers=tcp://no-such-host.invalid:7070 "$mp"
refused "Consul agent down" \
  "cannot reach the Consul agent" "$mp" -o consul=http://127.0.0.1:1 "$mp"
refused "missing mount point" "mount point $tmp/none does not exist" "$tmp/none" "$tmp/none"

touch "$mp/keep"
refused "non-empty mount point" "mount point $mp is not empty" "$mp" -o max_memory=64MiB "$mp"
if "$SHOVELFS" -o max_memory=64MiB,nonempty "$mp" 2>"$tmp/err" && [ "$(mount_count "$mp")" -eq 1 ] &&
  [ ! -e "$mp/keep" ]; then
  pass "-o nonempty mounts over the files"
else
  fail "-o nonempty: $(cat "$tmp/err")"
fi
refused "a second shovelfs on the same mount point" \
  "mount point $mp already has a shovelfs mounted" "$mp" -o max_memory=64MiB,nonempty "$mp"
fusermount3 -u "$mp"
if [ -e "$mp/keep" ] && [ "$(mount_count "$mp")" -eq 0 ]; then
  pass "unmounted: the hidden file is back"
else
  fail "unmount after -o nonempty"
fi

echo "# $passes passed, $failures failed"
[ "$failures" -eq 0 ]
