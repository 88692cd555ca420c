#!/usr/bin/env bash
# The docker/ check must find the faults once found by hand: it runs
# check_docker.py on a copy of the repository whose docker/ is the faulty
# one of before (tests/docker/faulty/), with no .dockerignore and a large
# build folder, and fails unless the check exits 1 naming each fault.
# Usage: check_finds_faults.sh REPO WORKER_BIN
set -euo pipefail
repo=$1 worker_bin=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/shovel-dockercheck-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rsync -a --exclude '/build*' --exclude /.git --exclude /.dockerignore "$repo/" "$tmp/repo/"
cp "$here/faulty/compose.yaml" "$here/faulty/Dockerfile" "$tmp/repo/docker/"
mkdir -p "$tmp/repo/build" && truncate -s 200M "$tmp/repo/build/big"  # sparse
rc=0
python3 "$here/check_docker.py" --repo "$tmp/repo" --worker-bin "$worker_bin" \
  >"$tmp/out" 2>&1 || rc=$?
cat "$tmp/out"
[ "$rc" -eq 1 ] || { echo "FAIL: the check exited $rc, not 1"; exit 1; }
failed=0
expect() {
  if grep -q -- "$1" "$tmp/out"; then echo "found: $2"; else echo "FAIL: not found: $2"; failed=1; fi
}
expect "mount point /mnt/shovel does not exist in the image" "the mount point missing in the image"
expect "has no .dockerignore" "no .dockerignore"
expect "service worker-2: uses shoveling:latest but has no build:" "a service with no build:"
expect "service mount: uses shoveling:latest but has no build:" "the mount with no build:"
expect "service worker-1: --max-memory is overridden by the Consul KV" "KV max-memory over the flag"
expect "service worker-3: worker listens on tcp://0.0.0.0:7070 without --key-file" "a worker without keys"
expect "service mount: shovelfs without a key" "a mount without a key"
expect "build stage lacks prometheus-cpp-dev" "a build dependency missing from the image"
expect "runtime stage lacks libprometheus-cpp" "a runtime library missing from the image"
exit $failed
