#!/usr/bin/env bash
# The dsort flow with shell tools through a shovelfs mount (see README.md):
# shovelctl init spreads P empty partitions over the workers, awk appends
# every line to its partition file (>> is an O_APPEND write: a cache
# `append`), GNU sort sorts each partition file where it is, and the
# concatenated outputs are checked against `sort` of the whole input.
# Usage: dsort_mount.sh MOUNTPOINT INPUT [PARTITIONS] [JOB]
# Needs shovelctl on PATH and SHOVEL_WORKERS naming the mount's workers.
set -euo pipefail
mnt=$1 input=$2 P=${3:-8} job=${4:-sortjob}
export LC_ALL=C

shovelctl init --strategy uniform_nodes --prefix "$job/part/" --count "$P" >/dev/null
mkdir -p "$mnt/$job/out"

# P-1 boundaries from a sample of 100 lines per partition.
shuf -n $((P * 100)) "$input" | sort | awk -v P="$P" -v n=$((P * 100)) \
  'NR % int(n / P) == 0 && c < P - 1 { print; c++ }' > "$mnt/$job/bounds"

# Map: each line goes to the first partition whose boundary is above it.
# ("" forces string comparison; awk would compare numeric-looking lines as numbers.)
awk -v dir="$mnt/$job/part" '
  NR == FNR { b[n++] = $0 ""; next }
  { p = 0; while (p < n && ($0 "") >= b[p]) p++; print >> (dir "/" p) }
' "$mnt/$job/bounds" "$input"

# Reduce: one sort per partition, in parallel; node_id says where it would run.
for p in $(seq 0 $((P - 1))); do
  node=$(getfattr --absolute-names --only-values -n user.shovel.node_id "$mnt/$job/part/$p")
  echo "partition $p: $(stat -c %s "$mnt/$job/part/$p") bytes, best on $node" >&2
  sort "$mnt/$job/part/$p" > "$mnt/$job/out/$p" &
done
wait

for p in $(seq 0 $((P - 1))); do cat "$mnt/$job/out/$p"; done > "$input.sorted"
if cmp -s "$input.sorted" <(sort "$input"); then
  echo "dsort_mount: $input.sorted is identical to LC_ALL=C sort" >&2
else
  echo "dsort_mount: $input.sorted DIFFERS from LC_ALL=C sort" >&2
  exit 1
fi
