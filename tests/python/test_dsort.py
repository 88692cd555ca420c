"""examples/dsort.py: a distributed sort through three real workers, checked
byte for byte against GNU sort (LC_ALL=C)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import shoveling

EXAMPLES = Path(os.environ.get("SHOVEL_EXAMPLES",
                               Path(__file__).resolve().parents[2] / "examples"))
sys.path.insert(0, str(EXAMPLES))
import dsort  # noqa: E402
import gen_records  # noqa: E402


def gnu_sorted(path: Path) -> bytes:
    return subprocess.run(["sort", str(path)], env=dict(os.environ, LC_ALL="C"),
                          check=True, capture_output=True).stdout


def test_records_equal_gnu_sort(tmp_path: Path, endpoints: str) -> None:
    data = tmp_path / "in"
    gen_records.write_records(str(data), 4_000_000, seed=7)
    result = dsort.run(str(data), str(tmp_path / "out"), workers=endpoints,
                       partitions=12, mappers=2, reducers=2, job_name="t/dsort1")
    out = (tmp_path / "out").read_bytes()
    assert len(out) == 4_000_000 and result.records == 40_000
    assert out == gnu_sorted(data)
    # init(uniform_nodes): 12 partitions, 4 on each worker.
    assert sorted(len(ps) for ps in result.placement.values()) == [4, 4, 4]
    with shoveling.Client(workers=endpoints) as c:
        assert list(c.list("t/dsort1/")) == []  # the job cleaned up


def test_awkward_text_equals_gnu_sort(tmp_path: Path, endpoints: str) -> None:
    lines = [b"", b"b", b"a", b"a", b"\xc3\xa9t\xc3\xa9", b"Zebra", b"a b", b"\ta",
             b"a\r", b"~", b"\xff\xfe", b"10", b"9", b""] * 50
    data = tmp_path / "in"
    data.write_bytes(b"\n".join(lines) + b"\nno newline at the end")
    dsort.run(str(data), str(tmp_path / "out"), workers=endpoints, partitions=5,
              mappers=2, reducers=2, job_name="t/dsort2")
    assert (tmp_path / "out").read_bytes() == gnu_sorted(data)


def test_cli_check_and_keep(tmp_path: Path, endpoints: str) -> None:
    data = tmp_path / "in"
    gen_records.write_records(str(data), 500_000, seed=3)
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "dsort.py"), "--workers", endpoints,
         "--partitions", "6", "--job", "t/dsort3", "--keep", "--check",
         str(data), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert "sorted 5000 records (0.5 MB)" in proc.stdout
    assert "identical to LC_ALL=C sort" in proc.stdout
    assert "placement w1: 2, w2: 2, w3: 2" in proc.stderr
    with shoveling.Client(workers=endpoints) as c:
        parts = list(c.list("t/dsort3/part/"))
        assert len(parts) == 6 and all(c.stat(p).pinned for p in parts)
        assert Counter(c.node_ids(p)[0] for p in parts) == {"w1": 2, "w2": 2, "w3": 2}
        outs = list(c.list("t/dsort3/out/"))
        assert b"".join(c.get(o) for o in outs) == gnu_sorted(data)


@pytest.mark.parametrize("args,message", [
    (["--job", "bad//job"],
     "dsort: invalid argument: prefix 'bad//job/' has an empty path component"),
    (["--workers", "tcp://127.0.0.1:1", "--deadline", "0.3"],
     "tcp://127.0.0.1:1"),
])
def test_cli_reports_library_errors(tmp_path: Path, endpoints: str, args: list,
                                    message: str) -> None:
    data = tmp_path / "in"
    data.write_bytes(b"x\n")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "dsort.py"), "--workers", endpoints, *args,
         str(data), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith("dsort: ") and message in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()
