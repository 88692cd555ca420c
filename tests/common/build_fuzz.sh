#!/bin/sh
# Compiles the libFuzzer target with clang++ (the main build uses g++).
# Never fails the build: on error it records why in OUT.error, and the
# fuzz test then fails with that message.
# usage: build_fuzz.sh OUT INCLUDE_DIR SOURCES...
out=$1
inc=$2
shift 2
rm -f "$out" "$out.error"
cxx=$(command -v clang++ || command -v clang++-14 || echo /usr/bin/clang++)
if ! "$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address -I"$inc" "$@" -o "$out" \
     2>"$out.error"; then
  echo "clang++ -fsanitize=fuzzer failed (is libclang-rt-14-dev installed?):" \
    | cat - "$out.error" > "$out.error.tmp" && mv "$out.error.tmp" "$out.error"
  rm -f "$out"
  echo "warning: protocol_fuzzer not built; see $out.error" >&2
fi
exit 0
