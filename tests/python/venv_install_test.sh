#!/usr/bin/env bash
# The Python module installed as python/README.md says, with PYTHON (a path,
# or a name looked up on PATH: "python3" is whatever the user's default is,
# e.g. a pyenv one without the `wheel` package): a fresh venv, then
#   VENV/bin/pip install --no-index SRC
# offline (no index, no network; PIP_NO_INDEX too), straight from the source
# folder. Fails when the source folder gained or changed any file (build/,
# *.egg-info, __pycache__), and unless the venv's interpreter imports the
# installed copy and does a set and a get against a real worker.
# Usage: venv_install_test.sh PYTHON SRC_DIR WORKER_BIN LIBSHOVEL
set -euo pipefail
python=$(command -v "$1") || { echo "venv_install_test: no '$1' on PATH" >&2; exit 1; }
src=$2 worker_bin=$3 library=$4
tmp=$(mktemp -d /tmp/shovel-pyvenv-XXXXXX)
worker_pid=
cleanup() {
  [ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
echo "interpreter: $python ($("$python" --version 2>&1))"
snapshot() { (cd "$src" && find . -printf '%p %s %T@\n' | sort); }
snapshot >"$tmp/before"

"$python" -m venv "$tmp/venv"
PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "$tmp/venv/bin/pip" install --quiet --no-index "$src" 2>&1 | tee "$tmp/pip.log"

snapshot >"$tmp/after"
if ! diff "$tmp/before" "$tmp/after" >"$tmp/diff"; then
  echo "FAIL: pip install wrote into the source folder $src:" >&2
  cat "$tmp/diff" >&2
  exit 1
fi

"$worker_bin" --listen tcp://127.0.0.1:0 --max-memory 64MiB \
  --ready-file "$tmp/ready" 2>"$tmp/worker.log" &
worker_pid=$!
for _ in $(seq 100); do [ -s "$tmp/ready" ] && break; sleep 0.1; done
[ -s "$tmp/ready" ] || { echo "FAIL: worker did not start" >&2; cat "$tmp/worker.log" >&2; exit 1; }
endpoint=$(head -1 "$tmp/ready")

cd "$tmp"  # not the source folder: the import must find the installed copy
SHOVEL_LIBRARY=$library "$tmp/venv/bin/python" - "$endpoint" "$tmp/venv" <<'PY'
import os, sys
import shoveling
venv = os.path.realpath(sys.argv[2])
where = os.path.realpath(shoveling.__file__)
assert where.startswith(venv + os.sep), "imported %s, not the venv's copy" % where
with shoveling.Client(workers=sys.argv[1]) as c:
    c.set("install/check", b"installed and working")
    got = c.get("install/check")
assert got == b"installed and working", got
print("ok: %s set and got through %s" % (sys.version.split()[0], where))
PY
