# Shared by the e2e scripts (tests/fs/e2e*.sh, tests/e2e_consul/*.sh): a
# temp dir, pass/fail counting, mounting, starting workers, and a teardown
# that unmounts what was mounted, kills what was started, by pid, and removes
# $tmp and any dir added to `cleanup_dirs`. Source it after setting `build`
# (the build dir) and `e2e_name` (the temp dir's name), and optionally
# `worker_memory` (each worker's --max-memory, 512MiB by default). mount_fs
# mounts in the foreground; a script that mounts otherwise (e2e.sh, daemon
# mode) defines its own after sourcing this.
# shellcheck shell=bash
SHOVELFS=$build/fs/shovelfs
WORKER=$build/worker/shovel-worker
tmp=$(mktemp -d "/tmp/shovelfs-$e2e_name.XXXXXX")
pids=()
mounts=()
cleanup_dirs=()
failures=0
passes=0

cleanup() {
  local m p
  for m in "${mounts[@]}"; do
    if grep -q " $m fuse" /proc/mounts; then
      fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    fi
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp" "${cleanup_dirs[@]}"
}
trap cleanup EXIT

pass() { passes=$((passes + 1)); echo "ok   - $*"; }
fail() { failures=$((failures + 1)); echo "FAIL - $*"; }
# check NAME COMMAND...: passes when COMMAND succeeds.
check() {
  local name=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then pass "$name"; else fail "$name"; sed 's/^/     /' "$tmp/out" | tail -5; fi
}
# expect NAME WANT GOT: passes when GOT is WANT.
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: want '$2', got '$3'"; fi; }
die() { echo "FATAL: $*"; exit 1; }
# The shovelfs binary and /dev/fuse, or a FATAL (a mount test never skips).
require_fuse() {
  [ -x "$SHOVELFS" ] || die "no shovelfs binary at $SHOVELFS"
  [ -c /dev/fuse ] || die "/dev/fuse is missing: this test needs it (and root)"
}
mounted() { grep -q " $1 fuse.shovelfs " /proc/mounts; }
wait_mounted() {
  for _ in $(seq 100); do mounted "$1" && return 0; sleep 0.1; done
  return 1
}
mount_fs() {  # mount_fs MP ARGS...: shovelfs in the foreground, in the background
  local mp=$1
  shift
  mkdir -p "$mp"
  mounts+=("$mp")
  "$SHOVELFS" -f "$@" "$mp" 2>"$tmp/$(basename "$mp").log" &
  pids+=($!)
  wait_mounted "$mp"
}
# start_worker NAME: starts it in this shell (so cleanup knows its pid);
# its endpoint is the first line of $tmp/NAME.ready, its pid in $tmp/NAME.pid.
start_worker() {
  local ready=$tmp/$1.ready
  "$WORKER" --listen tcp://127.0.0.1:0 --node-id "$1" \
    --max-memory "${worker_memory:-512MiB}" --ready-file "$ready" >"$tmp/$1.log" 2>&1 &
  pids+=($!)
  echo $! >"$tmp/$1.pid"
  for _ in $(seq 100); do [ -s "$ready" ] && return 0; sleep 0.1; done
  return 1
}
