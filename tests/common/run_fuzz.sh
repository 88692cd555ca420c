#!/bin/sh
# Runs a libFuzzer target for a bounded time on a fresh, empty corpus. The
# fuzzer is built by build_fuzz.sh; if that failed (e.g. libFuzzer's runtime
# is missing) this test fails with the reason.
# usage: run_fuzz.sh FUZZER SECONDS [MAX_LEN]
set -u
fuzzer=$1
secs=$2
max_len=${3:-4096}
if [ ! -x "$fuzzer" ]; then
  echo "FAIL: the libFuzzer target $(basename "$fuzzer") was not built:" >&2
  cat "$fuzzer.error" >&2 2>/dev/null
  echo "Install the fuzzer runtime: apt-get install -y libclang-rt-14-dev clang" >&2
  exit 1
fi
corpus=$(mktemp -d /tmp/shovel-fuzz-XXXXXX)
trap 'rm -rf "$corpus"' EXIT
# Not exec: the trap must remove the corpus after the run.
"$fuzzer" -max_total_time="$secs" -rss_limit_mb=1024 -max_len="$max_len" \
  -print_final_stats=1 "$corpus"
