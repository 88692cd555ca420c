#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy's checks) over the project's own sources, as
# the build compiles them (BUILD_DIR/compile_commands.json), JOBS at a time.
# Library and program sources only: tests/ and bench/ are left out to keep
# the run short. Any finding fails (exit 1), with clang-tidy's report.
#
# Clean results are kept in BUILD_DIR/clang-tidy-cache, one empty file per
# source, named by a hash of what clang-tidy sees: the preprocessed source
# (its own text and that of every header it includes), its compile command,
# .clang-tidy, clang-tidy's arguments and version. A source whose hash has a
# clean result is not checked again; any change to it or to a header it
# includes checks it again. Findings are never cached, so a run fails until
# they are fixed. Results unused for a week are dropped.
#
# The hash does not depend on where the tree or the build is (their paths
# are replaced before hashing), so results carry across clones: .ci/tidy-clean
# (tracked) lists the hashes of the sources found clean at the last recorded
# run, "HASH PATH" per line, and a source with a listed hash is not checked
# again either. A fresh clone (CI) then checks only what changed since.
# SHOVEL_TIDY_RECORD=1 rewrites that list after a run without findings;
# SHOVEL_TIDY_NO_CACHE=1 checks every source (and ignores the list).
# usage: scripts/clang_tidy.sh BUILD_DIR [JOBS]
set -uo pipefail
build=$(cd "${1:?usage: clang_tidy.sh BUILD_DIR [JOBS]}" && pwd)
jobs=${2:-2}
src=$(cd "$(dirname "$0")/.." && pwd)
tidy=$(command -v clang-tidy || command -v clang-tidy-14) || {
  echo "clang-tidy not found: apt-get install -y clang-tidy (scripts/deps.sh)" >&2
  exit 1
}
db=$build/compile_commands.json
[ -f "$db" ] || { echo "no $db (configure with CMake first)" >&2; exit 1; }
cache=$build/clang-tidy-cache
mkdir -p "$cache"
# g++'s flags in the database: clang ignores the warning options it lacks.
tidy_args="--quiet --extra-arg=-Wno-unknown-warning-option"
out=$(mktemp -d /tmp/shovel-tidy-XXXXXX)
trap 'rm -rf "$out"' EXIT
start=$(date +%s)

# "FILE KEY" for each project source; KEY is "none" when it does not
# preprocess (clang-tidy then reports why).
python3 - "$db" "$src" "$tidy" "$jobs" "$tidy_args" "$build" >"$out/keys" <<'PY' || exit 1
import concurrent.futures, hashlib, json, re, shlex, subprocess, sys

db, src, tidy, jobs, tidy_args, build = sys.argv[1:7]
# The longer path first: the build is often inside the tree.
places = sorted([(build.encode(), b"@BUILD@"), (src.encode(), b"@SRC@")],
                key=lambda p: -len(p[0]))

def portable(b):
    for path, name in places:
        b = b.replace(path, name)
    return b

common = hashlib.sha256(subprocess.run([tidy, "--version"], capture_output=True).stdout)
common.update(tidy_args.encode())
with open(src + "/.clang-tidy", "rb") as f:
    common.update(f.read())
left_out = re.compile(re.escape(src) + r"/(tests|bench|build[^/]*)/")
with open(db) as f:
    entries = {e["file"]: e for e in json.load(f)
               if e["file"].startswith(src + "/") and not left_out.match(e["file"])}

def key(e):
    args = shlex.split(e["command"])
    i = args.index("-o")
    del args[i:i + 2]
    args[args.index("-c")] = "-E"
    pre = subprocess.run(args, cwd=e["directory"], capture_output=True)
    if pre.returncode != 0:
        return "none"
    h = common.copy()
    h.update(portable(e["command"].encode()))
    h.update(portable(pre.stdout))
    return h.hexdigest()

files = sorted(entries)
with concurrent.futures.ThreadPoolExecutor(int(jobs)) as pool:
    for path, k in zip(files, pool.map(key, (entries[p] for p in files))):
        print(path, k)
PY
count=$(wc -l <"$out/keys")
[ "$count" -gt 0 ] || { echo "no project sources in $db" >&2; exit 1; }
listed=$src/.ci/tidy-clean
declare -A clean_listed=()
if [ "${SHOVEL_TIDY_NO_CACHE:-0}" = 1 ]; then
  rm -f "$cache"/*
elif [ -f "$listed" ]; then
  while read -r key _; do clean_listed[$key]=1; done <"$listed"
fi
while read -r file key; do
  if [ "$key" != none ] && [ -e "$cache/$key" ]; then
    touch "$cache/$key"
  elif [ "$key" != none ] && [ -n "${clean_listed[$key]:-}" ]; then
    : >"$cache/$key"
  else
    echo "$file $key"
  fi
done <"$out/keys" >"$out/todo"
todo=$(wc -l <"$out/todo")

# check FILE KEY: clang-tidy on one source; a clean result is cached.
check() {
  local log
  log=$out/$(basename "$1").$2.log
  # shellcheck disable=SC2086 # tidy_args is split on purpose
  "$tidy" -p "$build" $tidy_args "$1" >"$log" 2>&1 || return 1
  grep -q "warning:\|error:" "$log" && return 1
  [ "$2" = none ] || : >"$cache/$2"
}
export -f check
export tidy tidy_args build out cache
xargs -r -P "$jobs" -n 2 bash -c 'check "$@"' _ <"$out/todo"
status=$?
find "$cache" -type f -mtime +7 -delete
secs=$(($(date +%s) - start))
if cat "$out"/*.log 2>/dev/null | grep -q "warning:\|error:"; then
  cat "$out"/*.log | grep -A3 "warning:\|error:"
  echo "clang-tidy: findings ($todo of $count files checked, ${secs}s); fix them," \
       "or disable the check in .clang-tidy with the reason" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  cat "$out"/*.log
  echo "clang-tidy failed (exit $status) after ${secs}s" >&2
  exit 1
fi
if [ "${SHOVEL_TIDY_RECORD:-0}" = 1 ]; then
  while read -r file key; do
    [ "$key" = none ] || echo "$key ${file#"$src"/}"
  done <"$out/keys" | sort -k2 >"$listed"
  echo "clang-tidy: recorded $(wc -l <"$listed") clean sources in $listed"
fi
echo "clang-tidy: $count files clean ($todo checked, $((count - todo)) unchanged" \
     "since a clean check) in ${secs}s"
