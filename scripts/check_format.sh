#!/usr/bin/env bash
# Fails when a tracked C/C++ file differs from .clang-format (Google base).
# Fix with: clang-format -i FILE
set -uo pipefail
cd "$(dirname "$0")/.."
bad=()
while IFS= read -r f; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.cc' '*.h' '*.c')
if [ "${#bad[@]}" -gt 0 ]; then
  echo "not clang-formatted (run clang-format -i on them):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "clang-format: all $(git ls-files '*.cc' '*.h' '*.c' | wc -l) files formatted"
