#!/usr/bin/env bash
# examples/dsort_mount.sh end to end: three workers, a real shovelfs mount,
# shell tools (shovelctl init, awk >>, sort per partition file), result
# compared with LC_ALL=C sort. Stops what it started by pid, unmounts first.
# Usage: dsort_mount_test.sh SHOVEL_WORKER SHOVELFS SHOVELCTL_DIR EXAMPLES_DIR
set -euo pipefail
worker=$1 shovelfs=$2 ctl_dir=$3 examples=$4
tmp=$(mktemp -d /tmp/shovel-dsort-mount-XXXXXX)
pids=() fs_pid=
cleanup() {
  if grep -q " $tmp/mnt " /proc/mounts; then fusermount3 -u "$tmp/mnt" || true; fi
  for pid in $fs_pid "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
[ -e /dev/fuse ] || { echo "dsort_mount_test: no /dev/fuse" >&2; exit 1; }

endpoints=()
for i in 1 2 3; do
  "$worker" --listen tcp://127.0.0.1:0 --max-memory 256MiB --node-id "w$i" \
    --ready-file "$tmp/w$i.ready" >"$tmp/w$i.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do grep -qs '^tcp://.*:[0-9]' "$tmp/w$i.ready" && break; sleep 0.1; done
  endpoints+=("$(tr -d '[:space:]' <"$tmp/w$i.ready")")
done
workers=$(IFS=,; echo "${endpoints[*]}")

mkdir "$tmp/mnt"
"$shovelfs" "$workers" "$tmp/mnt" -f >"$tmp/fs.log" 2>&1 &
fs_pid=$!
for _ in $(seq 100); do grep -q " $tmp/mnt " /proc/mounts && break; sleep 0.1; done
grep -q " $tmp/mnt " /proc/mounts || { cat "$tmp/fs.log" >&2; exit 1; }

python3 "$examples/gen_records.py" "$tmp/in.txt" 3000000
printf '10\n9\n\nno final newline' >>"$tmp/in.txt"
PATH=$ctl_dir:$PATH SHOVEL_WORKERS=$workers \
  "$examples/dsort_mount.sh" "$tmp/mnt" "$tmp/in.txt" 6 sortjob 2>"$tmp/run.log" ||
  { cat "$tmp/run.log" >&2; exit 1; }
cat "$tmp/run.log" >&2
cmp "$tmp/in.txt.sorted" <(LC_ALL=C sort "$tmp/in.txt")
# uniform_nodes: 6 partitions, 2 on each worker
counts=$(grep -o 'best on w[0-9]' "$tmp/run.log" | sort | uniq -c | awk '{print $1}' | sort -u)
[ "$counts" = 2 ] || { echo "placement not 2 per worker: $counts" >&2; exit 1; }
echo "dsort_mount_test: ok" >&2
