#!/usr/bin/env python3
"""Fault-injection run against a replicated shoveling cluster.

Real shovel-worker processes, each in a network namespace of its own, on
one bridge with the root namespace (link-local 169.254.x.y/24 addresses on
interfaces this run creates, so no traffic leaves the machine), and several
clients (the Python module over libshovel) in the root namespace doing set,
get, append and delete on a small key set. Meanwhile one fault at a time:
SIGKILL then restart, SIGSTOP then SIGCONT, the link cut then restored (a
partition), a graceful leave (SIGTERM) then restart, and a worker that
joins. Every operation is recorded (start, end, outcome); after the faults
heal, the final value of every id and what each of its replicas holds. The
history checker (history_checker.py) then reads the history.

Append ids are renewed every --append-span seconds (a/<span>.<k>): each
read of an append id records its whole value, so values that grew for the
whole run made the history, and the run's memory, grow with the square of
its length (a 300 s run needed more than 24 GB). Every id of every span is
read in the final state.

Usage:
  fault_run.py --worker-bin PATH [--seconds 20] [--workers 3] [--clients 4]
               [--replicas 2] [--faults kill,stop,partition,leave,join]
               [--append-span 30] [--history FILE] [--seed N] [--json]
Environment: SHOVEL_LIBRARY (libshovel.so) and SHOVEL_PYTHON_SRC (python/)
as for the Python tests. Needs root (network namespaces). Exit 0 when the
checker finds no violation, 1 when it does, 2 when the run could not be set
up. Progress goes to stderr; the report to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))
sys.path.insert(0, os.environ.get("SHOVEL_PYTHON_SRC", str(_HERE.parents[1] / "python")))

import history_checker  # noqa: E402
import shoveling  # noqa: E402

PORT = 7070


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(*args: str) -> None:
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"'{' '.join(args)}' failed: {r.stderr.strip()}")


class Net:
    """One L2 segment: a bridge in a "switch" namespace, the root namespace
    (where the clients run) and one namespace per worker, each on a veth pair
    to the bridge, with link-local 169.254.x.y/24 addresses on interfaces this
    run creates. Cutting a worker's port on the bridge partitions it from
    everyone (clients and the other workers)."""

    def __init__(self, count: int) -> None:
        pid = os.getpid()
        self._octet = 100 + pid % 100
        self._tag = f"shf{pid % 100000}"
        self.sw = f"shvf-{pid}-sw"
        self.ns = [f"shvf-{pid}-{i}" for i in range(count)]
        self.ip = [f"169.254.{self._octet}.{10 + i}" for i in range(count)]
        self._made: List[str] = []

    def _port(self, name: str, ns: Optional[str], ip: Optional[str]) -> None:
        """A veth from `ns` (None: the root namespace) to the bridge."""
        peer = name + "p"
        sh("ip", "link", "add", name, "type", "veth", "peer", "name", peer)
        sh("ip", "link", "set", peer, "netns", self.sw)
        sh("ip", "netns", "exec", self.sw, "ip", "link", "set", peer, "master", "br0")
        sh("ip", "netns", "exec", self.sw, "ip", "link", "set", peer, "up")
        inside = [] if ns is None else ["ip", "netns", "exec", ns]
        if ns is not None:
            sh("ip", "link", "set", name, "netns", ns)
        sh(*inside, "ip", "addr", "add", f"{ip}/24", "dev", name)
        sh(*inside, "ip", "link", "set", name, "up")

    def create(self) -> None:
        sh("ip", "netns", "add", self.sw)
        self._made.append(self.sw)
        sh("ip", "netns", "exec", self.sw, "ip", "link", "add", "br0", "type", "bridge")
        sh("ip", "netns", "exec", self.sw, "ip", "link", "set", "br0", "up")
        self._port(self._tag + "r", None, f"169.254.{self._octet}.1")
        for i, ns in enumerate(self.ns):
            sh("ip", "netns", "add", ns)
            self._made.append(ns)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            self._port(f"{self._tag}{i}", ns, self.ip[i])

    def link(self, i: int, up: bool) -> None:
        sh("ip", "netns", "exec", self.sw, "ip", "link", "set", f"{self._tag}{i}p",
           "up" if up else "down")

    def destroy(self) -> None:
        subprocess.run(["ip", "link", "del", self._tag + "r"], capture_output=True)
        for ns in self._made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


class Worker:
    def __init__(self, binary: str, net: Net, i: int, tmp: Path) -> None:
        self.binary, self.net, self.i, self.tmp = binary, net, i, tmp
        self.node = f"w{i + 1}"
        self.endpoint = f"tcp://{net.ip[i]}:{PORT}"
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> None:
        ready = self.tmp / f"{self.node}.ready"
        ready.unlink(missing_ok=True)
        with open(self.tmp / f"{self.node}.log", "ab") as out:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.net.ns[self.i], self.binary,
                 "--listen", self.endpoint, "--node-id", self.node,
                 "--max-memory", "256MiB", "--threads", "2", "--ready-file", str(ready)],
                stdout=out, stderr=out)
        for _ in range(100):
            if ready.exists() and ready.read_text().strip():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.node} exited at start; see {self.tmp}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.node} did not get ready in 5 s")

    def send(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is None:
            return
        self.send(signal.SIGCONT)
        self.send(sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: List[dict] = []
        self.crashed: List[str] = []  # a client thread's unexpected exception

    def add(self, rec: dict) -> None:
        with self.lock:
            self.records.append(rec)


def outcome_of(exc: Exception) -> Optional[bool]:
    """False when the cache says the write was not applied, else unknown."""
    return False if "not applied" in str(exc) else None


def client_loop(name: str, endpoints: List[str], args: argparse.Namespace, rec: Recorder,
                stop: threading.Event, seed: int) -> None:
    try:
        client_ops(name, endpoints, args, rec, stop, seed)
    except Exception as e:  # a bug in the run itself: fail it loudly
        rec.crashed.append(f"{name}: {type(e).__name__}: {e}")
        stop.set()


def client_ops(name: str, endpoints: List[str], args: argparse.Namespace, rec: Recorder,
               stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    c = shoveling.Client(endpoints, replicas=args.replicas, deadline=args.deadline)
    n = 0

    def append_id() -> str:
        span = int((time.monotonic() - args.started) / args.append_span)
        return f"a/{span}.{rng.randrange(args.keys)}"

    try:
        while not stop.is_set():
            n += 1
            roll = rng.random()
            if roll < 0.3:
                key, op = f"s/{rng.randrange(args.keys)}", "set"
            elif roll < 0.55:
                key, op = append_id(), "append"
            elif roll < 0.95:
                key, op = (f"s/{rng.randrange(args.keys)}" if rng.random() < 0.5
                           else append_id()), "get"
            else:
                key, op = f"s/{rng.randrange(args.keys)}", "delete"
            value = f"{name}-{n}" + (";" if op == "append" else "")
            r = {"type": "op", "client": name, "op": op, "id": key}
            if op in ("set", "append"):
                r["value"] = value
            r["start"] = time.monotonic()
            try:
                if op == "set":
                    c.set(key, value.encode())
                elif op == "append":
                    c.append(key, value.encode())
                elif op == "delete":
                    try:
                        c.delete(key)
                    except shoveling.NotFound:
                        pass
                else:
                    try:
                        r["result"] = c.get(key).decode()
                    except shoveling.NotFound:
                        r["result"] = None
                r["ok"] = True
            except shoveling.Error as e:
                r["ok"] = None if op == "get" else outcome_of(e)
                r["error"] = str(e)[:200]
            r["end"] = time.monotonic()
            rec.add(r)
    finally:
        c.close()


def final_state(workers: List[Worker], endpoints: List[str], args: argparse.Namespace,
                rec: Recorder) -> None:
    c = shoveling.Client(endpoints, replicas=args.replicas, deadline=5.0)
    direct = {w.node: shoveling.Client([w.endpoint], replicas=1, deadline=5.0)
              for w in workers if w.proc is not None}
    spans = int((time.monotonic() - args.started) / args.append_span) + 1
    keys = [f"s/{k}" for k in range(args.keys)]
    keys += [f"a/{span}.{k}" for span in range(spans) for k in range(args.keys)]
    def settled(call):
        # The last fault's worker may still be coming back (leases, a new
        # epoch): an error other than "not found" is asked again, for a while.
        for attempt in range(20):
            try:
                return call()
            except shoveling.NotFound:
                raise
            except shoveling.Error:
                if attempt == 19:
                    raise
                time.sleep(0.5)

    try:
        for key in keys:
            try:
                value: Optional[str] = settled(lambda: c.get(key)).decode()
            except shoveling.NotFound:
                value = None
            final = {"type": "final", "id": key, "value": value, "replicas": {}}
            for node in settled(lambda: c.node_ids(key)) if value is not None else []:
                if node not in direct:
                    continue
                try:
                    final["replicas"][node] = settled(lambda: direct[node].get(key)).decode()
                except shoveling.NotFound:
                    final["replicas"][node] = None
            rec.add(final)
    finally:
        c.close()
        for d in direct.values():
            d.close()


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    faults = [f for f in args.faults.split(",") if f]
    total = args.workers + (1 if "join" in faults else 0)
    net = Net(total)
    tmp = Path(tempfile.mkdtemp(prefix="shovel-fault-"))
    workers: List[Worker] = []
    rec = Recorder()
    stop = threading.Event()
    threads: List[threading.Thread] = []
    try:
        try:
            net.create()
        except RuntimeError as e:
            print(f"fault_run: network namespaces are needed (run as root with iproute2): {e}",
                  file=sys.stderr)
            return 2
        workers = [Worker(args.worker_bin, net, i, tmp) for i in range(total)]
        for w in workers[:args.workers]:
            w.start()
        joiner = workers[args.workers] if total > args.workers else None
        endpoints = [w.endpoint for w in workers]
        log(f"{args.workers} workers up ({', '.join(endpoints[:args.workers])}), "
            f"R={args.replicas}, {args.clients} clients, {args.seconds} s of faults "
            f"({', '.join(faults) or 'none'})")
        args.started = time.monotonic()
        for k in range(args.clients):
            t = threading.Thread(target=client_loop,
                                 args=(f"c{k + 1}", endpoints, args, rec, stop, rng.random()))
            t.start()
            threads.append(t)
        end = time.monotonic() + args.seconds
        rounds = 0
        while time.monotonic() < end:
            time.sleep(args.settle)
            if not faults or time.monotonic() >= end:
                continue
            what = rng.choice(faults)
            if what == "join":
                if joiner is None or joiner.proc is not None:
                    what = "kill"
                else:
                    rec.add({"type": "fault", "at": time.monotonic(), "what": f"join {joiner.node}"})
                    log(f"fault: {joiner.node} joins")
                    joiner.start()
                    rounds += 1
                    continue
            live = [w for w in workers if w.proc is not None]
            victim = rng.choice(live)
            rec.add({"type": "fault", "at": time.monotonic(), "what": f"{what} {victim.node}"})
            log(f"fault: {what} {victim.node}")
            if what == "kill":
                victim.stop(signal.SIGKILL)
            elif what == "leave":
                victim.stop(signal.SIGTERM)
            elif what == "stop":
                victim.send(signal.SIGSTOP)
            elif what == "partition":
                net.link(victim.i, False)
            time.sleep(args.hold)
            if what in ("kill", "leave"):
                victim.start()
            elif what == "stop":
                victim.send(signal.SIGCONT)
            elif what == "partition":
                net.link(victim.i, True)
            rec.add({"type": "fault", "at": time.monotonic(), "what": f"healed {victim.node}"})
            rounds += 1
        stop.set()
        for t in threads:
            t.join()
        log(f"{rounds} faults; settling, then reading the final state")
        time.sleep(2.0)
        try:
            final_state(workers, endpoints, args, rec)
        except Exception as e:  # reported below, with the logs kept
            rec.crashed.append(f"reading the final state: {type(e).__name__}: {e}")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        for w in workers:
            w.stop()
        net.destroy()
    if args.history:
        with open(args.history, "w") as f:
            for r in rec.records:
                f.write(json.dumps(r) + "\n")
    if rec.crashed:
        why = "fault_run: a client failed unexpectedly: " + "; ".join(rec.crashed)
        (tmp / "report.txt").write_text(why + "\n")
        print(why, file=sys.stderr)
        print(f"workers' logs and the report kept in {tmp}", file=sys.stderr)
        return 2
    report = history_checker.check(rec.records)
    if report.violations:
        # The verdict beside the workers' logs: a failed suite run's stdout
        # may be gone when someone looks.
        (tmp / "report.txt").write_text(history_checker.format_human(report) + "\n")
        log(f"workers' logs and the report kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps({"ok": not report.violations, "counts": report.counts,
                          "violations": report.violations[:50]}))
    else:
        print(history_checker.format_human(report))
    return 1 if report.violations else 0


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker-bin", required=True)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--keys", type=int, default=12)
    p.add_argument("--append-span", type=float, default=30.0,
                   help="seconds each generation of append ids is used")
    p.add_argument("--deadline", type=float, default=2.0, help="client deadline, s")
    p.add_argument("--hold", type=float, default=1.5, help="seconds a fault lasts")
    p.add_argument("--settle", type=float, default=1.5, help="seconds between faults")
    p.add_argument("--faults", default="kill,stop,partition,leave,join")
    p.add_argument("--history", help="write the recorded history here (JSON lines)")
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("fault_run: needs root (network namespaces)", file=sys.stderr)
        return 2
    log(f"seed {args.seed}")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
