#!/usr/bin/env bash
# shovelfs end to end: real FUSE mounts driven by shell tools and unmodified
# programs. Needs root and /dev/fuse; FAILS (never skips) when a mount cannot
# be made. Teardown always unmounts and kills what it started, by pid.
#   tests/fs/e2e.sh BUILD_DIR
set -uo pipefail
build=$(cd "${1:?usage: e2e.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
e2e_name=e2e
worker_memory=1GiB
# shellcheck source=e2e_lib.sh
. "$here/e2e_lib.sh"
CTL=$build/cli/shovelctl
chmod 755 "$tmp"  # allow_other cases run as another user
shm=/dev/shm/shovelfs-e2e.$$
mkdir -p "$shm"
cleanup_dirs+=("$shm")

wait_unmounted() {
  for _ in $(seq 100); do mounted "$1" || return 0; sleep 0.1; done
  return 1
}
# The pid of the shovelfs serving mountpoint $1 (its command line names it).
fs_pid() {
  local p
  for p in $(pgrep -x shovelfs); do
    tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- " $1\( \|$\)" && { echo "$p"; return; }
  done
}
# mount_fs MP ARGS...: mounts in daemon mode (not e2e_lib.sh's foreground
# mount) and records it.
mount_fs() {
  local mp=$1
  shift
  mkdir -p "$mp"
  mounts+=("$mp")
  "$SHOVELFS" "$@" "$mp" || return 1
  wait_mounted "$mp" || return 1
  pids+=("$(fs_pid "$mp")")
}

require_fuse

source "$here/e2e_cases.sh"
source "$here/e2e_posix_cases.sh"
source "$here/e2e_fault_cases.sh"

echo "# embedded worker, daemon mode, allow_other"
A=$tmp/a
mount_fs "$A" -o max_memory=3GiB,allow_other || die "cannot mount shovelfs at $A"
basic_cases "$A"
append_cases "$A"
big_copy_case "$A"
many_ids_case "$A"
metadata_cases "$A"
xattr_cases "$A"
permission_cases "$A"
embedded_endpoint_cases "$A"
symlink_cases "$A"
hard_link_cases "$A"
special_file_cases "$A"
posix_rule_cases "$A"
tree_copy_cases "$A"
program_cases "$A"

echo "# real worker processes, two mounts of one cluster"
start_worker w1 || die "cannot start shovel-worker w1"
start_worker w2 || die "cannot start shovel-worker w2"
e1=$(head -1 "$tmp/w1.ready")
e2=$(head -1 "$tmp/w2.ready")
B1=$tmp/b1
B2=$tmp/b2
mount_fs "$B1" -o "workers=$e1,$e2" || die "cannot mount $B1"
mount_fs "$B2" "$e1,$e2" || die "cannot mount $B2 (SOURCE form)"
two_mount_cases "$B1" "$B2"
two_mount_posix_cases "$B1" "$B2"
cluster_xattr_cases "$B1" "$e1,$e2"
fuse_killed_case "$B2" "$e1,$e2"
worker_killed_case "$B1" "$B2"

echo "# a replicated cluster (R=2) under faults, through a mount"
replicated_fault_case

echo "# options, signals and mount(8)"
option_cases
sigterm_case
mount_helper_cases

echo "# $passes passed, $failures failed"
[ "$failures" -eq 0 ]
