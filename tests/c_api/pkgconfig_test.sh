#!/usr/bin/env bash
# The installed C library, as a user meets it: `cmake --install` the
# shovel_c component to a temporary prefix, build examples/c/hello.c with
# `cc $(pkg-config --cflags --libs shovel)`, run it against a real worker.
# Usage: pkgconfig_test.sh BUILD_DIR SHOVEL_WORKER HELLO_C
set -euo pipefail
build=$1 worker=$2 hello=$3
tmp=$(mktemp -d /tmp/shovel-pkgconfig-XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "pkgconfig_test: FAIL: $*" >&2; exit 1; }

cmake --install "$build" --component shovel_c --prefix "$tmp/prefix" >/dev/null
for f in include/shovel/shovel.h lib/libshovel.so lib/libshovel.so.0 \
         lib/pkgconfig/shovel.pc; do
  [ -e "$tmp/prefix/$f" ] || fail "cmake --install did not install $f"
done

export PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig
[ "$(pkg-config --modversion shovel)" = "0.1.0" ] || fail "pkg-config --modversion"
cflags=$(pkg-config --cflags shovel)
libs=$(pkg-config --libs shovel)
echo "pkg-config: $cflags $libs" >&2
# shellcheck disable=SC2086  # word splitting of the flags is intended
cc -std=c11 -Wall -Werror "$hello" $cflags $libs -o "$tmp/hello" ||
  fail "cc with pkg-config flags"

# Only shovel_* is exported.
leaked=$(nm -D --defined-only "$tmp/prefix/lib/libshovel.so" |
         awk '$2 ~ /[TDBRVW]/ && $3 !~ /^shovel_/ {print $3}' | head -5)
[ -z "$leaked" ] || fail "libshovel.so exports non-shovel_ symbols: $leaked"

"$worker" --listen tcp://127.0.0.1:0 --max-memory 64MiB --node-id pk1 \
  --ready-file "$tmp/ready" 2>"$tmp/worker.log" &
pid=$!
for _ in $(seq 200); do
  [ -s "$tmp/ready" ] && grep -q '^tcp://.*:[0-9]' "$tmp/ready" && break
  kill -0 "$pid" 2>/dev/null || fail "worker exited: $(cat "$tmp/worker.log")"
  sleep 0.1
done
endpoint=$(head -n1 "$tmp/ready" | tr -d '[:space:]')
[ -n "$endpoint" ] || fail "worker wrote no endpoint within 20 s"

out=$(LD_LIBRARY_PATH=$tmp/prefix/lib SHOVEL_WORKERS=$endpoint "$tmp/hello" pk/greeting)
[ "$out" = "hello, world (on pk1)" ] || fail "hello printed '$out'"

# A missing membership is a clear error and exit status 1.
set +e
msg=$(env -u SHOVEL_WORKERS -u CONSUL_HTTP_ADDR LD_LIBRARY_PATH=$tmp/prefix/lib \
      "$tmp/hello" 2>&1 >/dev/null)
rc=$?
set -e
[ "$rc" = 1 ] || fail "hello without membership exited $rc"
case "$msg" in "hello: connect: "?*) ;; *) fail "unexpected message '$msg'";; esac
echo "pkgconfig_test: ok ($out)" >&2
