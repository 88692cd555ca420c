"""Fixtures for the shoveling Python tests: real shovel-worker processes.

Environment (set by ctest, see CMakeLists.txt here):
  SHOVEL_WORKER_BIN  path of shovel-worker
  SHOVEL_LIBRARY     path of libshovel.so (read by the shoveling module)
  SHOVEL_PYTHON_SRC  the python/ folder of the source tree (put on sys.path)
Workers listen on port 0 and report their endpoint through --ready-file;
teardown stops each by pid (SIGTERM, SIGKILL after 5 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, List

import pytest

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, os.environ.get("SHOVEL_PYTHON_SRC", str(_HERE.parents[1] / "python")))

import shoveling  # noqa: E402


def _require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set; run these tests through ctest "
                    f"(ctest -R python) or set it by hand", returncode=2)
    return value


def _stop_process(proc: subprocess.Popen, log) -> None:
    """Ends a process this test started (SIGTERM, SIGKILL after 5 s) and
    closes its log."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    log.close()


class Worker:
    """One shovel-worker child process."""

    def __init__(self, binary: str, node_id: str, max_memory: str, tmp: Path) -> None:
        self.node_id = node_id
        ready = tmp / f"{node_id}.ready"
        self.log = open(tmp / f"{node_id}.log", "wb")
        self.proc = subprocess.Popen(
            [binary, "--listen", "tcp://127.0.0.1:0", "--max-memory", max_memory,
             "--node-id", node_id, "--ready-file", str(ready)],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"shovel-worker {node_id} exited with "
                                   f"{self.proc.returncode}")
            text = ready.read_text().strip() if ready.exists() else ""
            if text.startswith("tcp://") and text.rsplit(":", 1)[-1].isdigit():
                self.endpoint = text
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"shovel-worker {node_id} not ready within 20 s")

    def stop(self) -> None:
        _stop_process(self.proc, self.log)


@pytest.fixture(scope="session")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[List[Worker]]:
    """Three workers w1..w3 with a 256 MiB limit each."""
    binary = _require_env("SHOVEL_WORKER_BIN")
    _require_env("SHOVEL_LIBRARY")
    tmp = tmp_path_factory.mktemp("workers")
    started: List[Worker] = []
    try:
        for i in range(1, 4):
            started.append(Worker(binary, f"w{i}", "256MiB", tmp))
        yield started
    finally:
        for w in started:
            w.stop()


@pytest.fixture(scope="session")
def endpoints(workers: List[Worker]) -> str:
    return ",".join(w.endpoint for w in workers)


@pytest.fixture
def client(endpoints: str) -> Iterator[shoveling.Client]:
    with shoveling.Client(workers=endpoints) as c:
        yield c
