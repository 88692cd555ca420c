#!/usr/bin/env bash
# The two commands of the README:
#   ./shovel.sh mount [MOUNTPOINT]   set up, build, install, mount the cache
#                                    (embedded worker) at MOUNTPOINT (/mnt/shovel)
#   ./shovel.sh test                 set up, build, run the whole test suite,
#                                    then the unit and integration tests under
#                                    ASan+UBSan and under TSan (docs/testing.md)
# Also: ./shovel.sh build, ./shovel.sh bench [--full].
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${SHOVEL_BUILD_DIR:-$here/build}
jobs=${SHOVEL_JOBS:-$(nproc)}

step() { printf '\n== %s\n' "$*" >&2; }

# do_build [CMAKE_ARGS...]: install packages, configure and build $build.
do_build() {
  step "installing packages (scripts/deps.sh)"
  "$here/scripts/deps.sh"
  step "building in $build"
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$build" -j "$jobs"
}

# sanitizer_leg NAME SANITIZERS: build the unit and integration tests in
# $here/build-NAME with -DSHOVEL_SANITIZE=SANITIZERS and run them. Benchmarks,
# the fuzzer (already ASan) and tests labelled nosanitize are left out (see
# docs/testing.md). Reports go to files under build-NAME/sanitizer-logs, so
# one from a worker process a test started fails the leg as well.
# Extra CMAKE_ARGS after SANITIZERS go to its configure step.
sanitizer_leg() {
  local name=$1 sanitizers=$2 dir=$here/build-$1
  shift 2
  step "$name: building in $dir (SHOVEL_SANITIZE=$sanitizers)"
  local t0=$SECONDS
  cmake -S "$here" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSHOVEL_SANITIZE="$sanitizers" -DSHOVEL_WERROR=ON \
    -DSHOVEL_BUILD_BENCH=OFF -DSHOVEL_BUILD_FUZZ=OFF "$@" >/dev/null || return 1
  cmake --build "$dir" -j "$jobs" || return 1
  local t1=$SECONDS
  local logs=$dir/sanitizer-logs
  rm -rf "$logs" && mkdir -p "$logs"
  step "$name: running unit and integration tests"
  local rc=0
  (
    # halt_on_error: the first report ends the process with a failure.
    export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:log_path=$logs/asan:log_exe_name=1"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan:log_exe_name=1"
    export TSAN_OPTIONS="suppressions=$here/tests/tsan.supp:halt_on_error=1:exitcode=66:second_deadlock_stack=1:print_suppressions=0:log_path=$logs/tsan:log_exe_name=1"
    ctest --test-dir "$dir" --output-on-failure --timeout 900 -j1 \
      -L '^(unit|integration)$' -LE '^nosanitize$' --output-log "$logs/ctest.log"
  ) || rc=$?
  # UBSan (in ASan builds) prints to stderr whatever log_path says, so look
  # for its reports in what the tests and their workers printed too.
  if compgen -G "$logs/*san.*" >/dev/null ||
     grep -q ': runtime error: ' "$logs/ctest.log" 2>/dev/null; then
    echo "$name: sanitizer reports (from test or worker processes):" >&2
    cat "$logs"/*san.* 2>/dev/null >&2 || true
    grep -B2 -A20 ': runtime error: ' "$logs/ctest.log" >&2 || true
    rc=1
  fi
  printf '%s: build %ds, tests %ds\n' "$name" $((t1 - t0)) $((SECONDS - t1)) >&2
  return $rc
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
    # Three legs; each runs even when one before it failed, and any failure
    # fails the command.
    t0=$SECONDS
    do_build -DSHOVEL_WERROR=ON
    t1=$SECONDS
    step "running the test suite (ctest: unit, integration, e2e, bench smoke)"
    failed=()
    # Two at a time: what measures time or CPU (benchmarks, mounts, the
    # fault run, clang-tidy's two jobs) is RUN_SERIAL and runs alone.
    ctest --test-dir "$build" --output-on-failure --timeout 900 -j "$jobs" || failed+=(normal)
    printf 'normal: build %ds, tests %ds\n' $((t1 - t0)) $((SECONDS - t1)) >&2
    # g++ instruments for ASan about twice as slowly at -O2 as at -O1; line
    # tables (-g1) are all a report's stack needs.
    # The tests' own sources build at -Og (SHOVEL_TEST_OPT): the code under
    # test keeps the leg's level.
    sanitizer_leg asan address,undefined -DSHOVEL_TEST_OPT=-Og \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" || failed+=(asan)
    sanitizer_leg tsan thread -DSHOVEL_TEST_OPT=-Og \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" || failed+=(tsan)
    printf '\n== test: %ds in all; ' $((SECONDS - t0)) >&2
    if [ "${#failed[@]}" -gt 0 ]; then
      echo "FAILED legs: ${failed[*]}" >&2
      exit 1
    fi
    echo "all legs passed" >&2
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
