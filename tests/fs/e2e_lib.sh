# Shared by the e2e scripts that mount shovelfs in the foreground
# (e2e_reads.sh, e2e_rename_grow.sh): a temp dir, pass/fail counting,
# mounting, starting workers, and a teardown that unmounts what was mounted
# and kills what was started, by pid. Source it after setting `build` (the
# build dir) and `e2e_name` (the temp dir's name).
# shellcheck shell=bash
SHOVELFS=$build/fs/shovelfs
WORKER=$build/worker/shovel-worker
tmp=$(mktemp -d "/tmp/shovelfs-$e2e_name.XXXXXX")
pids=()
mounts=()
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
  rm -rf "$tmp"
}
trap cleanup EXIT

pass() { passes=$((passes + 1)); echo "ok   - $*"; }
fail() { failures=$((failures + 1)); echo "FAIL - $*"; }
check() {
  local name=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then pass "$name"; else fail "$name"; sed 's/^/     /' "$tmp/out" | tail -5; fi
}
die() { echo "FATAL: $*"; exit 1; }
mounted() { grep -q " $1 fuse.shovelfs " /proc/mounts; }
mount_fs() {  # mount_fs MP ARGS...: shovelfs in the foreground, in the background
  local mp=$1
  shift
  mkdir -p "$mp"
  mounts+=("$mp")
  "$SHOVELFS" -f "$@" "$mp" 2>"$tmp/$(basename "$mp").log" &
  pids+=($!)
  for _ in $(seq 100); do mounted "$mp" && return 0; sleep 0.1; done
  return 1
}
# start_worker NAME: starts it in this shell (so cleanup knows its pid);
# its endpoint is the first line of $tmp/NAME.ready.
start_worker() {
  local ready=$tmp/$1.ready
  "$WORKER" --listen tcp://127.0.0.1:0 --node-id "$1" --max-memory 512MiB \
    --ready-file "$ready" >"$tmp/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$ready" ] && return 0; sleep 0.1; done
  return 1
}
