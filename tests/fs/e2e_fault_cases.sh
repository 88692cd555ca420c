# Sourced by e2e.sh: a mount of a replicated cluster (R=2) while workers
# die, come back and leave, with cp, cat and >> running. Every command that
# completed has its bytes intact afterwards; an append that completed is in
# the log exactly once, in its writer's order.

# restart_worker NAME PORT: starts NAME again on its old port (a restart).
restart_worker() {
  local ready=$tmp/$1.ready
  rm -f "$ready"
  "$WORKER" --listen "tcp://127.0.0.1:$2" --node-id "$1" --max-memory "$worker_memory" \
    --ready-file "$ready" >>"$tmp/$1.log" 2>&1 &
  pids+=($!)
  echo $! >"$tmp/$1.pid"
  for _ in $(seq 100); do [ -s "$ready" ] && return 0; sleep 0.1; done
  return 1
}

replicated_fault_case() {
  local m=$tmp/rep f e n port list
  # Room for every copy twice on the two workers left after the leave: a
  # fast machine makes about 350 copies of 3-5 MB; at 1 GiB each the
  # workers evicted completed copies, which read as missing.
  local worker_memory=4GiB
  for n in r1 r2 r3; do start_worker "$n" || { fail "start worker $n"; return; }; done
  list=$(cat "$tmp/r1.ready" "$tmp/r2.ready" "$tmp/r3.ready" | paste -sd,)
  mount_fs "$m" -o "workers=$list,replicas=2" || { fail "mount of a replicated cluster"; return; }
  mkdir -p "$m/cp" "$tmp/src"
  for f in 0 1 2 3; do head -c $((3000000 + f * 700000)) /dev/urandom >"$tmp/src/$f"; done
  rm -f "$tmp/stop" "$tmp/cp.done" "$tmp/append.done" "$tmp/cat.bad"
  # cp: whole files over and over; each completed copy is listed with its source.
  (
    i=0
    while [ ! -e "$tmp/stop" ]; do
      f=$((i % 4))
      if cp "$tmp/src/$f" "$m/cp/$i" 2>/dev/null; then echo "$i $f" >>"$tmp/cp.done"; fi
      i=$((i + 1))
    done
  ) &
  local cp_pid=$!
  # >>: numbered lines; each completed one is listed.
  (
    i=0
    while [ ! -e "$tmp/stop" ]; do
      if printf 'line %06d of the appender\n' "$i" >>"$m/log" 2>/dev/null; then
        echo "$i" >>"$tmp/append.done"
      fi
      i=$((i + 1))
    done
  ) &
  local append_pid=$!
  # cat: a copy that completed reads back whole, while the faults go on.
  (
    while [ ! -e "$tmp/stop" ]; do
      line=$(tail -n 1 "$tmp/cp.done" 2>/dev/null)
      [ -n "$line" ] || { sleep 0.05; continue; }
      set -- $line
      if cat "$m/cp/$1" >"$tmp/cat.out" 2>/dev/null && ! cmp -s "$tmp/cat.out" "$tmp/src/$2"; then
        echo "cp/$1" >>"$tmp/cat.bad"
      fi
    done
  ) &
  local cat_pid=$!
  sleep 1.5
  # A worker dies (SIGKILL), comes back empty on its port, then another leaves.
  port=$(sed 's/.*://' "$tmp/r2.ready")
  kill -9 "$(cat "$tmp/r2.pid")"
  sleep 1.5
  restart_worker r2 "$port" || fail "restart worker r2"
  sleep 2
  kill -TERM "$(cat "$tmp/r3.pid")"
  sleep 2
  touch "$tmp/stop"
  wait "$cp_pid" "$append_pid" "$cat_pid"
  # Right after the leave, ids it was primary of may answer EIO (unavailable)
  # until its leases have run out: the check is about bytes, so it starts
  # once every file answers stat again (at most 15 s; noted when it waited).
  local waited=0
  while ! stat -c %s "$m"/cp/* >/dev/null 2>&1 && [ "$waited" -lt 150 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  [ "$waited" -gt 0 ] && echo "     (files answered again after $((waited / 10)).$((waited % 10)) s)"
  local copies bad=0 lines
  copies=$(wc -l <"$tmp/cp.done" 2>/dev/null || echo 0)
  while read -r i f; do
    cmp -s "$m/cp/$i" "$tmp/src/$f" || {
      bad=$((bad + 1))
      echo "     cp/$i differs: $(cmp "$m/cp/$i" "$tmp/src/$f" 2>&1 | head -1), size $(stat -c %s "$m/cp/$i" 2>&1) of $(stat -c %s "$tmp/src/$f")"
    }
  done <"$tmp/cp.done"
  [ "$copies" -gt 3 ] && [ "$bad" -eq 0 ] &&
    pass "R=2 mount, kill + restart + leave during cp: all $copies completed copies intact" ||
    fail "R=2 mount under faults: $bad of $copies completed copies differ"
  [ ! -s "$tmp/cat.bad" ] && pass "R=2 mount under faults: cat of completed copies always whole" ||
    fail "R=2 mount under faults: cat read wrong bytes of $(paste -sd' ' "$tmp/cat.bad")"
  # Each completed append exactly once, in order; no torn line.
  lines=$(wc -l <"$tmp/append.done" 2>/dev/null || echo 0)
  python3 - "$m/log" "$tmp/append.done" >"$tmp/append.check" 2>&1 <<'EOF'
import re, sys
log = open(sys.argv[1]).read().split("\n")
done = [int(x) for x in open(sys.argv[2]).read().split()]
seen, last, bad = {}, -1, []
for line in log:
    if not line:
        continue
    m = re.fullmatch(r"line (\d{6}) of the appender", line)
    if not m:
        bad.append("torn: " + line[:60]); continue
    n = int(m.group(1))
    seen[n] = seen.get(n, 0) + 1
    if n <= last:
        bad.append("out of order: %d after %d" % (n, last))
    last = max(last, n)
for n in done:
    if seen.get(n, 0) != 1:
        bad.append("completed line %d appears %d times" % (n, seen.get(n, 0)))
print("\n".join(bad[:10]))
sys.exit(1 if bad else 0)
EOF
  if [ $? -eq 0 ] && [ "$lines" -gt 10 ]; then
    pass "R=2 mount under faults: all $lines completed appends once, in order"
  else
    fail "R=2 mount under faults: appends ($lines completed)"
    sed 's/^/     /' "$tmp/append.check" | head -10
  fi
  fusermount3 -u "$m" 2>/dev/null || umount -l "$m"
}
