#!/usr/bin/env bash
# The core benchmark's 1 KiB rows (metrics must not cost the hot
# path), side by side in one run: a worker serving /metrics and scraped
# every second, as Prometheus does ("on"), against the same binary without
# --metrics-listen ("off"), alternated ROUNDS times (on, off, on, off...) so
# a busy neighbour hurts both alike. Each round runs shovel-bench-core
# --rows small --reps 1; the table gives each row's median over the rounds,
# the median of the rounds' on/off ratios and their range.
# Note: the request counters themselves (RequestCounters, relaxed atomics)
# run in every worker; what "off" leaves out is the endpoint and its
# scrapes. docs/operations.md gives the counters' own cost per request.
# --smoke (third argument) passes --smoke to the benchmark: tiny sizes, to
# check that the script and the "on" worker still work, not to measure.
# Usage: bench/metrics_ab.sh BUILD_DIR [ROUNDS] [--smoke]
set -euo pipefail
build=$(cd "${1:?usage: metrics_ab.sh BUILD_DIR [ROUNDS] [--smoke]}" && pwd)
rounds=${2:-3}
size=()
case "${3:-}" in
  "") ;;
  --smoke) size=(--smoke) ;;
  *) echo "usage: metrics_ab.sh BUILD_DIR [ROUNDS] [--smoke]" >&2; exit 2 ;;
esac
bench=$build/bench/shovel-bench-core
worker=$build/worker/shovel-worker
tmp=$(mktemp -d /tmp/shovel-metrics-ab-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# The "on" worker: a free port for /metrics, a scraper that ends with it.
cat >"$tmp/worker-metrics" <<EOS
#!/usr/bin/env bash
port=\$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
( while kill -0 \$\$ 2>/dev/null; do
    curl -s -o /dev/null "http://127.0.0.1:\$port/metrics"; sleep 1
  done ) &
exec "$worker" "\$@" --metrics-listen "127.0.0.1:\$port"
EOS
chmod +x "$tmp/worker-metrics"
for r in $(seq "$rounds"); do
  for mode in on off; do
    bin=$worker
    [ "$mode" = on ] && bin=$tmp/worker-metrics
    echo "round $r, metrics $mode" >&2
    "$bench" --rows small --reps 1 "${size[@]}" --json --worker-bin "$bin" >"$tmp/$mode.$r.json"
  done
done
python3 - "$tmp" "$rounds" <<'PY'
import json, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
def rows(mode):
    out = {}
    for r in range(1, rounds + 1):
        for row in json.load(open(f"{tmp}/{mode}.{r}.json")):
            if row["system"] == "shoveling" and row["unit"] == "ops/s":
                name = row["test"] + (" (" + row["note"] + ")" if row["note"] else "")
                out.setdefault(name, []).append(row["median"])
    return out
on, off = rows("on"), rows("off")
# Each round's on/off pair ran back to back: its ratio is less exposed to a
# neighbour's load that changes over minutes than the ratio of medians.
print(f"| row (shoveling, 1 KiB) | metrics on ops/s | metrics off ops/s | on/off (median of rounds) | on/off range |")
print("|---|---|---|---|---|")
for name in sorted(set(on) & set(off)):
    a, b = statistics.median(on[name]), statistics.median(off[name])
    ratios = [x / y for x, y in zip(on[name], off[name])]
    print(f"| {name} | {a:,.0f} | {b:,.0f} | {statistics.median(ratios):.2f}x | "
          f"{min(ratios):.2f}-{max(ratios):.2f}x |")
PY
