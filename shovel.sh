#!/usr/bin/env bash
# The two commands of the README:
#   ./shovel.sh mount [MOUNTPOINT]   set up, build, install, mount the cache
#                                    (embedded worker) at MOUNTPOINT (/mnt/shovel)
#   ./shovel.sh test                 set up, build, run the whole test suite
# Also: ./shovel.sh build, ./shovel.sh bench [--full].
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${SHOVEL_BUILD_DIR:-$here/build}
jobs=${SHOVEL_JOBS:-$(nproc)}

step() { printf '\n== %s\n' "$*" >&2; }

do_build() {
  step "installing packages (scripts/deps.sh)"
  "$here/scripts/deps.sh"
  step "building in $build"
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j "$jobs"
}

cmd=${1:-}
case "$cmd" in
  build)
    do_build
    ;;
  mount)
    mp=${2:-/mnt/shovel}
    do_build
    step "installing to /usr/local"
    cmake --install "$build" --prefix /usr/local >/dev/null
    mkdir -p "$mp"
    if grep -q " $mp fuse.shovelfs " /proc/mounts; then
      echo "shovelfs is already mounted at $mp" >&2
    else
      step "mounting shovelfs at $mp (embedded worker)"
      /usr/local/bin/shovelfs "$mp"
    fi
    cat >&2 <<MSG

shovelfs is mounted at $mp. Try:
  echo hello > $mp/greeting && cat $mp/greeting
  getfattr -d $mp/greeting
Unmount with: fusermount3 -u $mp   (or umount $mp)
MSG
    ;;
  test)
    do_build
    step "running the test suite (ctest: unit, integration, e2e, bench smoke)"
    ctest --test-dir "$build" --output-on-failure --timeout 900 -j1
    ;;
  bench)
    shift
    do_build
    "$here/bench/run_all.sh" "$build" "$@"
    ;;
  *)
    echo "usage: $0 mount [MOUNTPOINT] | test | build | bench [--full]" >&2
    exit 2
    ;;
esac
