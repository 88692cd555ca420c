#!/usr/bin/env python3
"""Time the history checker on a fault run's history, optionally against another checker.

Without a history file, a synthetic one is generated in the shape fault_run.py
records: CLIENTS clients doing set/append/get/delete (30/25/40/5 %) on KEYS set
ids and KEYS append ids for SECONDS at RATE operations per second in all, every
operation linearized at a random point of its span, a few failing or ending
indeterminate (applied or not), then the final value of every id on two
replicas. A correct history, unless --lose-append drops one acknowledged
append from everything read after it (a violation the checker must find).

Usage:
  bench_checker.py [--history FILE] [--seconds 60] [--clients 4] [--rate 3000]
                   [--keys 12] [--seed 1] [--save FILE] [--compare OLD_CHECKER.py]
                   [--lose-append] [--json]
--compare loads another history_checker.py (e.g. `git show main:...`), times it
on the same records and fails unless both reports are identical. Only the
checking is timed (the records are decoded once, before).
Exit: 0 fine; 1 the reports differ, or the checker's verdict on a synthetic
history is wrong (a violation in a correct one, none with --lose-append);
2 unreadable history.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import history_checker  # noqa: E402


def synthetic(seconds: float, clients: int, rate: float, keys: int, seed: int,
              lose_append: bool = False) -> list[dict]:
    """A fault-run-like history (see the module doc)."""
    rng = random.Random(seed)
    per_client = rate / clients
    ops = []
    for c in range(1, clients + 1):
        name, t, n = f"c{c}", 0.0, 0
        while t < seconds:
            n += 1
            roll = rng.random()
            if roll < 0.3:
                kind, key = "set", f"s/{rng.randrange(keys)}"
            elif roll < 0.55:
                kind, key = "append", f"a/{rng.randrange(keys)}"
            elif roll < 0.95:
                kind = "get"
                key = f"{rng.choice('sa')}/{rng.randrange(keys)}"
            else:
                kind, key = "delete", f"s/{rng.randrange(keys)}"
            took = rng.expovariate(per_client) if rng.random() > 0.00005 else 2.0
            rec = {"type": "op", "client": name, "op": kind, "id": key,
                   "start": t, "end": t + took}
            if kind in ("set", "append"):
                rec["value"] = f"{name}-{n}" + (";" if kind == "append" else "")
            fate = rng.random()
            rec["ok"] = True if fate > 0.01 else (None if fate > 0.004 or kind == "get" else False)
            applied = rec["ok"] is True or (rec["ok"] is None and rng.random() < 0.5)
            ops.append((rng.uniform(t, t + took), applied, rec))
            t += took + 0.0001
    state: dict[str, Optional[str]] = {}
    dropped: set = set()
    for _, applied, rec in sorted(ops, key=lambda o: o[0]):
        key = rec["id"]
        if rec["op"] == "get":
            if rec["ok"] is True:
                rec["result"] = state.get(key)
        elif applied and rec["op"] == "set":
            state[key] = rec["value"]
        elif applied and rec["op"] == "delete":
            state[key] = None
        elif applied:
            if lose_append and not dropped and rec["ok"] is True and rec["start"] > seconds / 3:
                dropped.add(rec["value"])
                continue
            state[key] = (state.get(key) or "") + rec["value"]
    history = [rec for _, _, rec in ops]
    for prefix in ("s/", "a/"):
        for k in range(keys):
            value = state.get(f"{prefix}{k}")
            history.append({"type": "final", "id": f"{prefix}{k}", "value": value,
                            "replicas": {"w1": value, "w2": value}})
    return history


def load_checker(path: str):
    spec = importlib.util.spec_from_file_location("other_history_checker", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def timed(module, records: list) -> tuple[float, object]:
    began = time.monotonic()
    report = module.check(records)
    return round(time.monotonic() - began, 3), report


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--history", help="a recorded history (JSON lines) instead of a synthetic one")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--rate", type=float, default=3000.0, help="operations per second, all clients")
    p.add_argument("--keys", type=int, default=12)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lose-append", action="store_true")
    p.add_argument("--save", help="write the synthetic history here (JSON lines)")
    p.add_argument("--compare", help="another history_checker.py to time on the same records")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.history:
        try:
            with open(args.history, encoding="utf-8") as f:
                records = [json.loads(line) for line in f if line.strip()]
        except (OSError, ValueError) as exc:
            print(f"bench_checker: {args.history}: {exc}", file=sys.stderr)
            return 2
    else:
        records = synthetic(args.seconds, args.clients, args.rate, args.keys, args.seed,
                            args.lose_append)
        if args.save:
            with open(args.save, "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in records)
    reads = [r for r in records if r.get("op") == "get" and r.get("ok") is True]
    chars = sum(len(r.get("result") or "") for r in reads)
    result = {"records": len(records), "reads": len(reads), "read_chars": chars}
    result["seconds"], report = timed(history_checker, records)
    result["violations"] = len(report.violations)
    identical = True
    if args.compare:
        result["compare_seconds"], other = timed(load_checker(args.compare), records)
        identical = (other.counts == report.counts and other.violations == report.violations)
        result["identical"] = identical
    if args.json:
        print(json.dumps(result))
    else:
        print(" ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in result.items()))
    wrong = not args.history and bool(report.violations) != args.lose_append
    if wrong:
        print("bench_checker: wrong verdict on the synthetic history", file=sys.stderr)
    return 0 if identical and not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
