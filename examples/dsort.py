#!/usr/bin/env python3
"""dsort: a distributed sort with the shoveling cache as the shuffle.

Records are newline-terminated lines and the key is the whole line, compared
as bytes -- the order of ``LC_ALL=C sort``, so the result can be checked
byte for byte against GNU sort. (``gen_records.py`` writes sortbenchmark-style
100-byte lines whose first 10 bytes are a random key; any text works.) A last
line without a newline is sorted as if it had one, as GNU sort does.

The flow (a job named J with P partitions):

1. sample: read a few thousand lines at random offsets; P-1 of them, evenly
   spaced in sorted order, are the range boundaries;
2. ``init`` the ids ``J/part/00000`` .. with ``uniform_nodes``, so every
   worker holds the same number of (empty, pinned) partitions;
3. map: M processes each read a slice of the input (split at line starts) in
   blocks and ``append`` each block's lines to the partition of their range
   -- one append per partition per block;
4. reduce: for each partition ``node_id`` names the worker best placed to sort
   it (on a cluster the reducer would run there; on one machine the placement
   is reported); R processes ``get`` a partition, sort it and ``set`` the
   result as ``J/out/00000`` ..;
5. collect: the outputs, concatenated in partition order, are the sorted
   input; ``--check`` compares them with ``LC_ALL=C sort``.

Usage: dsort.py --workers tcp://127.0.0.1:7070,... INPUT OUTPUT [--check]
(or --consul http://127.0.0.1:8500, or SHOVEL_WORKERS in the environment).
"""

from __future__ import annotations

import argparse
import bisect
import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "python"))  # run from a source tree
import shoveling  # noqa: E402

BLOCK_BYTES = 8 << 20  # mapper read size: one append per partition per block


@dataclass
class Job:
    """What a mapper or reducer process needs (picklable)."""

    name: str
    workers: Optional[str]
    consul: Optional[str]
    partitions: int
    deadline: float = 60.0
    bounds: List[bytes] = field(default_factory=list)

    def client(self) -> shoveling.Client:
        return shoveling.Client(workers=self.workers, consul=self.consul,
                                deadline=self.deadline)

    def part(self, p: int) -> str:
        return f"{self.name}/part/{p:05d}"

    def out(self, p: int) -> str:
        return f"{self.name}/out/{p:05d}"


@dataclass
class Result:
    """Sizes, placement and the seconds each phase took."""

    input_bytes: int
    records: int
    partitions: int
    placement: Dict[str, List[int]]
    seconds: Dict[str, float]
    checked: Optional[bool] = None

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


# ---- sampling ---------------------------------------------------------------

def sample_bounds(path: str, partitions: int, samples_per_partition: int = 100,
                  seed: int = 1) -> List[bytes]:
    """P-1 range boundaries from lines read at random offsets."""
    size = os.path.getsize(path)
    if partitions <= 1 or size == 0:
        return []
    rng = random.Random(seed)
    samples = []
    with open(path, "rb") as f:
        for _ in range(partitions * samples_per_partition):
            f.seek(rng.randrange(size))
            f.readline()  # skip to the next line start
            line = f.readline()
            if not line:
                f.seek(0)
                line = f.readline()
            samples.append(line.rstrip(b"\n"))
    samples.sort()
    bounds = [samples[len(samples) * k // partitions] for k in range(1, partitions)]
    return sorted(set(bounds))


# ---- map --------------------------------------------------------------------

def split_input(path: str, pieces: int) -> List[Tuple[int, int]]:
    """[start, end) byte ranges that begin at line starts and cover the file."""
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as f:
        for k in range(1, pieces):
            f.seek(max(size * k // pieces, cuts[-1]))
            if f.tell() > 0:
                f.seek(f.tell() - 1)
                f.readline()  # to the start of the next line
            cuts.append(min(max(f.tell(), cuts[-1]), size))
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def map_range(job: Job, path: str, start: int, end: int) -> int:
    """Appends the lines of [start, end) to their partitions; returns records."""
    bounds, parts = job.bounds, job.partitions
    where = bisect.bisect_right
    records = 0
    with job.client() as client, open(path, "rb") as f:
        f.seek(start)
        carry = b""
        pos = start
        while True:
            block = f.read(min(BLOCK_BYTES, end - pos))
            pos += len(block)
            data = carry + block
            last = pos >= end or not block
            # The range ends at a line start (or at EOF, maybe without "\n").
            cut = len(data) if last else data.rfind(b"\n") + 1
            carry = data[cut:]
            lines = data[:cut].split(b"\n")
            if lines[-1] == b"":
                lines.pop()  # after the final newline
            buckets: List[List[bytes]] = [[] for _ in range(parts)]
            for line in lines:
                buckets[where(bounds, line)].append(line)
            records += len(lines)
            for p, bucket in enumerate(buckets):
                if bucket:
                    bucket.append(b"")  # newline after the last line
                    client.append(job.part(p), b"\n".join(bucket))
            if last:
                break
    return records


# ---- reduce -----------------------------------------------------------------

def reduce_partition(job: Job, p: int) -> int:
    """Sorts one partition into J/out/p; returns its bytes."""
    with job.client() as client:
        data = client.get(job.part(p))
        lines = data.split(b"\n")
        lines.pop()  # every record ends with a newline
        lines.sort()
        lines.append(b"")
        out = b"\n".join(lines)
        client.set(job.out(p), out)
        return len(out)


# ---- the job ----------------------------------------------------------------

def _delete_job(client: shoveling.Client, name: str) -> None:
    for id in list(client.list(name + "/")):
        try:
            client.delete(id)
        except KeyError:
            pass


def run(input_path: str, output_path: str, *, workers: Optional[str] = None,
        consul: Optional[str] = None, partitions: int = 16,
        mappers: Optional[int] = None, reducers: Optional[int] = None,
        job_name: str = "dsort", keep: bool = False, deadline: float = 60.0,
        progress: Optional[Callable[[str], None]] = None) -> Result:
    """Sorts ``input_path`` into ``output_path`` through the cache."""
    say = progress or (lambda _msg: None)
    cpus = os.cpu_count() or 1
    mappers = mappers or cpus
    reducers = reducers or cpus
    job = Job(job_name, workers, consul, partitions, deadline)
    seconds: Dict[str, float] = {}
    ctx = multiprocessing.get_context("spawn")  # no fork of the client's threads

    with job.client() as client, ctx.Pool(max(mappers, reducers)) as pool:
        t = time.monotonic()
        _delete_job(client, job.name)  # a previous run's leftovers
        job.bounds = sample_bounds(input_path, partitions)
        client.init([job.part(p) for p in range(partitions)], "uniform_nodes")
        seconds["sample+init"] = time.monotonic() - t
        say(f"init: {partitions} partitions over {len(client.members())} workers")

        t = time.monotonic()
        ranges = split_input(input_path, mappers * 4)
        records = sum(pool.starmap(map_range, [(job, input_path, a, b)
                                               for a, b in ranges]))
        seconds["map"] = time.monotonic() - t
        say(f"map: {records} records in {len(ranges)} slices, "
            f"{seconds['map']:.1f} s")

        t = time.monotonic()
        placement: Dict[str, List[int]] = defaultdict(list)
        for p in range(partitions):
            placement[client.node_id(job.part(p))].append(p)
        sizes = pool.starmap(reduce_partition, [(job, p) for p in range(partitions)])
        seconds["reduce"] = time.monotonic() - t
        say(f"reduce: {partitions} partitions, {seconds['reduce']:.1f} s; placement "
            + ", ".join(f"{n}: {len(ps)}" for n, ps in sorted(placement.items())))

        t = time.monotonic()
        with open(output_path, "wb") as out:
            for p in range(partitions):
                if sizes[p]:
                    out.write(client.get(job.out(p)))
        seconds["collect"] = time.monotonic() - t
        if not keep:
            _delete_job(client, job.name)
    return Result(os.path.getsize(input_path), records, partitions, dict(placement),
                  seconds)


def gnu_sort(input_path: str, output_path: str) -> float:
    """``LC_ALL=C sort`` of the input; returns seconds."""
    t = time.monotonic()
    env = dict(os.environ, LC_ALL="C")
    subprocess.run(["sort", "-o", output_path, input_path], env=env, check=True)
    return time.monotonic() - t


def same_bytes(a: str, b: str) -> bool:
    return subprocess.run(["cmp", "-s", a, b]).returncode == 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--workers", help="worker endpoints, comma-separated "
                    "(default: SHOVEL_WORKERS)")
    ap.add_argument("--consul", help="Consul agent address")
    ap.add_argument("--partitions", "-p", type=int, default=16)
    ap.add_argument("--mappers", type=int, help="map processes (default: cores)")
    ap.add_argument("--reducers", type=int, help="reduce processes (default: cores)")
    ap.add_argument("--job", default="dsort", help="id namespace of the job")
    ap.add_argument("--keep", action="store_true", help="keep the job's ids")
    ap.add_argument("--deadline", type=float, default=60.0,
                    help="seconds per cache request (default 60)")
    ap.add_argument("--check", action="store_true",
                    help="compare with LC_ALL=C sort (exit 1 if they differ)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    if args.partitions < 1:
        ap.error("--partitions must be at least 1")

    def say(msg: str) -> None:
        print(f"dsort: {msg}", file=sys.stderr)

    try:
        result = run(args.input, args.output, workers=args.workers,
                     consul=args.consul, partitions=args.partitions,
                     mappers=args.mappers, reducers=args.reducers, job_name=args.job,
                     keep=args.keep, deadline=args.deadline, progress=None if args.json else say)
    except shoveling.Error as e:
        print(f"dsort: {e}", file=sys.stderr)
        return 1
    if args.check:
        reference = args.output + ".gnu-sort"
        gnu_sort(args.input, reference)
        result.checked = same_bytes(args.output, reference)
        os.unlink(reference)
    if args.json:
        print(json.dumps(asdict(result), indent=2))
    else:
        mb = result.input_bytes / 1e6
        print(f"sorted {result.records} records ({mb:.1f} MB) in "
              f"{result.total_seconds:.2f} s ({mb / result.total_seconds:.1f} MB/s)"
              + ("" if result.checked is None else
                 "; identical to LC_ALL=C sort" if result.checked else
                 "; DIFFERS from LC_ALL=C sort"))
    return 1 if result.checked is False else 0


if __name__ == "__main__":
    sys.exit(main())
