#!/usr/bin/env bash
# The Python module as a user installs it: `pip install` from the source tree
# offline (--no-build-isolation --no-index; the backend needs nothing installed),
# into a temporary --target, then the client test suite imports that copy.
# Usage: install_test.sh PYTHON PYTHON_SRC_DIR TEST_CLIENT_PY
set -euo pipefail
python=$1 src=$2 tests=$3
tmp=$(mktemp -d /tmp/shovel-pyinstall-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src" "$tmp/src"  # build in a copy: no build/ or egg-info in the tree
"$python" -m pip install --quiet --no-build-isolation --no-index \
  --target "$tmp/site" "$tmp/src"
[ -f "$tmp/site/shoveling/__init__.py" ] && [ -f "$tmp/site/shoveling/py.typed" ] || {
  echo "install_test: pip did not install the package files" >&2; exit 1; }
rm -rf "$tmp/src"
cd "$tmp"
SHOVEL_PYTHON_SRC=$tmp/site SHOVEL_EXPECT_INSTALLED=1 \
  "$python" -m pytest -q -p no:cacheprovider "$tests"
