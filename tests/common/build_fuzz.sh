#!/bin/sh
# Compiles a libFuzzer target with clang++ (the main build uses g++).
# Never fails the build: on error it records why in OUT.error, and the
# fuzz test then fails with that message.
# usage: build_fuzz.sh OUT CLANG_ARGS... (sources and -I flags)
out=$1
shift
rm -f "$out" "$out.error"
cxx=$(command -v clang++ || command -v clang++-14 || echo /usr/bin/clang++)
if ! "$cxx" -std=c++20 -O1 -g1 -fsanitize=fuzzer,address "$@" -o "$out" \
     2>"$out.error"; then
  echo "clang++ -fsanitize=fuzzer failed (is libclang-rt-14-dev installed?):" \
    | cat - "$out.error" > "$out.error.tmp" && mv "$out.error.tmp" "$out.error"
  rm -f "$out"
  echo "warning: $(basename "$out") not built; see $out.error" >&2
fi
exit 0
