#!/usr/bin/env python3
"""gen_records: sortbenchmark-style input for dsort and bench/sort_bench.

Writes 100-byte newline-terminated records shaped like gensort's ASCII
records: a 10-byte random key of printable ASCII (' '..'~'), two spaces, the
record number as 32 hex digits, two spaces, 53 filler bytes and "\\n".
Deterministic for a seed.

Usage: gen_records.py OUTPUT SIZE_BYTES [--seed N]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from typing import Callable, Optional

RECORD_BYTES = 100
_KEY_BYTES = 10
# Random bytes -> printable ASCII ' '..'~' (95 symbols; a slight bias is fine).
_PRINTABLE = bytes(32 + (b % 95) for b in range(256))
_FILLER = [bytes([c]) * 53 for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"]


def write_records(path: str, size: int, seed: int = 0,
                  progress: Optional[Callable[[int], None]] = None) -> int:
    """Writes size // 100 records (at least 1 when size > 0); returns bytes."""
    count = max(1, size // RECORD_BYTES) if size > 0 else 0
    rng = random.Random(seed)
    written = 0
    batch = 100_000
    with open(path, "wb") as f:
        for first in range(0, count, batch):
            n = min(batch, count - first)
            keys = rng.randbytes(n * _KEY_BYTES).translate(_PRINTABLE)
            chunk = b"".join(
                keys[i * _KEY_BYTES:(i + 1) * _KEY_BYTES] + b"  %032X  " % (first + i)
                + _FILLER[(first + i) % 26] + b"\n"
                for i in range(n))
            f.write(chunk)
            written += len(chunk)
            if progress:
                progress(written)
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output")
    ap.add_argument("size", type=int, help="bytes (rounded down to 100-byte records)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n = write_records(args.output, args.size, args.seed)
    print(f"gen_records: {n} bytes, {n // RECORD_BYTES} records -> {args.output}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
