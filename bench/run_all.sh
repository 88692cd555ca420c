#!/usr/bin/env bash
# Runs every benchmark at full size (or --smoke) and prints their tables.
#   bench/run_all.sh BUILD_DIR [--smoke] [--json]
# Each benchmark measures shoveling side by side with its peers in one run
# (redis, memcached, tmpfs, a FUSE passthrough, GNU sort). Full size takes a
# while on 2 cores; progress goes to stderr on a terminal.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: bench/run_all.sh BUILD_DIR [--smoke] [--json]}
shift
build=$(cd "$build" && pwd)
args=("$@")
worker="$build/worker/shovel-worker"
export SHOVEL_LIBRARY="$build/client/libshovel.so"

section() { printf '\n### %s\n' "$*"; }

section "core cache: shovel-worker vs redis and memcached (bench/core_bench.cc)"
"$build/bench/shovel-bench-core" "${args[@]}"

section "replicas and hand-over: R=1 vs R=2, a restarted worker (bench/replication_bench.cc)"
"$build/bench/shovel-bench-replication" "${args[@]}"

if [ -x "$here/fs_bench" ]; then
  section "shovelfs vs tmpfs and a FUSE passthrough (bench/fs_bench)"
  "$here/fs_bench" --build "$build" "${args[@]}"
fi

section "RSS under abuse: slow readers, idle connections, mixed sizes, uploads (bench/abuse_bench.cc)"
"$build/bench/shovel-bench-abuse" "${args[@]}"

section "distributed sort vs GNU sort (bench/sort_bench)"
/usr/bin/python3 "$here/sort_bench" --worker-bin "$worker" "${args[@]}"
