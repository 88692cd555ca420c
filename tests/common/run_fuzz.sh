#!/bin/sh
# Runs the protocol fuzzer for a bounded time. The fuzzer is built by
# build_fuzz.sh; if that failed (e.g. libFuzzer's runtime is missing) this
# test fails with the reason.
# usage: run_fuzz.sh BUILD_DIR SECONDS
set -u
dir=$1
secs=$2
if [ ! -x "$dir/protocol_fuzzer" ]; then
  echo "FAIL: the libFuzzer target was not built:" >&2
  cat "$dir/protocol_fuzzer.error" >&2 2>/dev/null
  echo "Install the fuzzer runtime: apt-get install -y libclang-rt-14-dev clang" >&2
  exit 1
fi
corpus=$(mktemp -d /tmp/shovel-fuzz-XXXXXX)
trap 'rm -rf "$corpus"' EXIT
exec "$dir/protocol_fuzzer" -max_total_time="$secs" -rss_limit_mb=1024 \
  -max_len=4096 -print_final_stats=1 "$corpus"
