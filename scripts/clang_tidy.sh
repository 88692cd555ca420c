#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy's checks) over the project's own sources, as
# the build compiles them (BUILD_DIR/compile_commands.json), JOBS at a time.
# Library and program sources only: tests/ and bench/ are left out to keep
# the run short. Any finding fails (exit 1), with clang-tidy's report.
# usage: scripts/clang_tidy.sh BUILD_DIR [JOBS]
set -uo pipefail
build=${1:?usage: clang_tidy.sh BUILD_DIR [JOBS]}
jobs=${2:-2}
src=$(cd "$(dirname "$0")/.." && pwd)
tidy=$(command -v clang-tidy || command -v clang-tidy-14) || {
  echo "clang-tidy not found: apt-get install -y clang-tidy (scripts/deps.sh)" >&2
  exit 1
}
db=$build/compile_commands.json
[ -f "$db" ] || { echo "no $db (configure with CMake first)" >&2; exit 1; }

files=$(grep -o '"file": "[^"]*"' "$db" | sed 's/"file": "//; s/"$//' |
  grep "^$src/" | grep -v "^$src/\(tests\|bench\|build[^/]*\)/" | sort -u)
[ -n "$files" ] || { echo "no project sources in $db" >&2; exit 1; }
count=$(echo "$files" | wc -l)

out=$(mktemp /tmp/shovel-tidy-XXXXXX)
trap 'rm -f "$out"' EXIT
start=$(date +%s)
# g++'s flags in the database: clang ignores the warning options it lacks.
echo "$files" | xargs -P "$jobs" -n 4 "$tidy" -p "$build" --quiet \
  --extra-arg=-Wno-unknown-warning-option >"$out" 2>&1
status=$?
secs=$(($(date +%s) - start))
if grep -q "warning:\|error:" "$out"; then
  grep -A3 "warning:\|error:" "$out"
  echo "clang-tidy: findings in $count files (${secs}s); fix them, or disable" \
       "the check in .clang-tidy with the reason" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  cat "$out"
  echo "clang-tidy failed (exit $status) after ${secs}s" >&2
  exit 1
fi
echo "clang-tidy: $count files clean in ${secs}s"
