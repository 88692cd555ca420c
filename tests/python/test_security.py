"""CURVE security through the Python module (docs/security.md).

Two workers with a key pair and an authorized-keys file; keys are made with
``shovelctl keygen`` (SHOVELCTL_BIN). Each refusal must come at once (well
inside the 20 s deadline) as one line naming the cause.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

import shoveling
from conftest import Worker, _require_env


def _keygen(path: Path) -> str:
    out = subprocess.run([_require_env("SHOVELCTL_BIN"), "keygen", str(path)],
                         check=True, capture_output=True, text=True).stdout
    assert len(out) == 41 and out.endswith("\n")
    return out.strip()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, object]]:
    binary = _require_env("SHOVEL_WORKER_BIN")
    tmp = tmp_path_factory.mktemp("keyed")
    pubs = {name: _keygen(tmp / f"{name}.key")
            for name in ("worker", "rw", "ro", "gone", "stranger")}
    authorized = tmp / "authorized"
    authorized.write_text(f"# clients\n{pubs['rw']}\n{pubs['ro']} ro\n{pubs['gone']}\n")
    started: List[Worker] = []
    try:
        for i in (1, 2):
            started.append(_start(binary, f"k{i}", tmp, tmp / "worker.key", authorized))
        yield {"tmp": tmp, "pubs": pubs, "authorized": authorized, "workers": started,
               "endpoints": ",".join(w.endpoint for w in started)}
    finally:
        for w in started:
            w.stop()


def _start(binary: str, node_id: str, tmp: Path, key: Path, authorized: Path) -> Worker:
    ready = tmp / f"{node_id}.ready"
    w = Worker.__new__(Worker)
    w.node_id = node_id
    w.log = open(tmp / f"{node_id}.log", "wb")
    w.proc = subprocess.Popen(
        [binary, "--listen", "tcp://127.0.0.1:0", "--max-memory", "256MiB",
         "--node-id", node_id, "--ready-file", str(ready), "--key-file", str(key),
         "--authorized-keys", str(authorized)],
        stdout=w.log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert w.proc.poll() is None, f"worker {node_id} exited"
        text = ready.read_text().strip() if ready.exists() else ""
        if text.startswith("tcp://"):
            w.endpoint = text
            return w
        time.sleep(0.02)
    w.stop()
    raise RuntimeError(f"worker {node_id} not ready")


def _client(k: Dict[str, object], key: str = "", **kw: object) -> shoveling.Client:
    tmp = k["tmp"]
    assert isinstance(tmp, Path)
    pubs = k["pubs"]
    assert isinstance(pubs, dict)
    args: Dict[str, object] = {"worker_key": pubs["worker"], "deadline": 20.0}
    if key:
        args["key_file"] = str(tmp / f"{key}.key")
    args.update(kw)
    return shoveling.Client(str(k["endpoints"]), **args)  # type: ignore[arg-type]


def _refused_at_once(fn, text: str) -> None:
    start = time.monotonic()
    with pytest.raises(shoveling.Error) as e:
        fn()
    assert time.monotonic() - start < 5, "refused only after a deadline"
    assert text in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def test_rw_key_works(keyed: Dict[str, object]) -> None:
    with _client(keyed, "rw") as c:
        c.set("py/sec", b"hello")
        assert c.get("py/sec") == b"hello"


def test_no_key_refused(keyed: Dict[str, object], monkeypatch) -> None:
    monkeypatch.delenv("SHOVEL_KEY_FILE", raising=False)
    _refused_at_once(lambda: _client(keyed).get("py/sec"), "requires a key")


def test_unknown_key_refused(keyed: Dict[str, object]) -> None:
    _refused_at_once(lambda: _client(keyed, "stranger").get("py/sec"),
                     "worker refused this key")


def test_wrong_worker_key_refused(keyed: Dict[str, object]) -> None:
    pubs = keyed["pubs"]
    assert isinstance(pubs, dict)
    _refused_at_once(
        lambda: _client(keyed, "rw", worker_key=pubs["stranger"]).get("py/sec"),
        "worker's key does not match")


def test_ro_key_reads_and_cannot_write(keyed: Dict[str, object]) -> None:
    with _client(keyed, "rw") as c:
        c.set("py/ro", b"readable")
    with _client(keyed, "ro") as c:
        assert c.get("py/ro") == b"readable"
        assert "py/ro" in list(c.list("py/"))
        start = time.monotonic()
        with pytest.raises(shoveling.PermissionDenied) as e:
            c.set("py/ro", b"overwritten")
        assert time.monotonic() - start < 5
        assert "read-only key cannot write" in str(e.value)
        with pytest.raises(shoveling.PermissionDenied):
            c.delete("py/ro")
        assert c.get("py/ro") == b"readable"


def test_removed_key_refused_on_its_open_connection(keyed: Dict[str, object]) -> None:
    pubs = keyed["pubs"]
    authorized = keyed["authorized"]
    workers = keyed["workers"]
    assert isinstance(pubs, dict) and isinstance(authorized, Path)
    assert isinstance(workers, list)
    with _client(keyed, "gone") as c:
        c.set("py/gone", b"v1")
        assert c.get("py/gone") == b"v1"  # the connections are open
        authorized.write_text(f"{pubs['rw']}\n{pubs['ro']} ro\n")
        for w in workers:
            w.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        for w in workers:
            log = Path(w.log.name)
            while b"authorized: 2 keys" not in log.read_bytes():
                assert time.monotonic() < deadline, "no reload logged"
                time.sleep(0.02)
        _refused_at_once(lambda: c.get("py/gone"), "worker refused this key")
    authorized.write_text(f"{pubs['rw']}\n{pubs['ro']} ro\n{pubs['gone']}\n")
    for w in workers:
        w.proc.send_signal(signal.SIGHUP)


def _reload(k: Dict[str, object], text: str, logged: bytes) -> None:
    authorized = k["authorized"]
    workers = k["workers"]
    assert isinstance(authorized, Path) and isinstance(workers, list)
    before = [Path(w.log.name).read_bytes().count(logged) for w in workers]
    authorized.write_text(text)
    for w in workers:
        w.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    for w, n in zip(workers, before):
        log = Path(w.log.name)
        while log.read_bytes().count(logged) <= n:  # this reload's line
            assert time.monotonic() < deadline, "no reload logged"
            time.sleep(0.02)


def test_client_key_rotation_with_both_keys_authorized(keyed: Dict[str, object]) -> None:
    """docs/security.md, Key rotation: the new key works next to the old one
    once listed (no worker restart); the old one is refused once removed."""
    pubs = keyed["pubs"]
    tmp = keyed["tmp"]
    assert isinstance(pubs, dict) and isinstance(tmp, Path)
    new_pub = _keygen(tmp / "next.key")
    base = f"{pubs['rw']}\n{pubs['ro']} ro\n"
    with _client(keyed, "gone") as old:
        old.set("py/rot", b"old key")
        _refused_at_once(lambda: _client(keyed, "next").get("py/rot"),
                         "worker refused this key")
        name = str(keyed["authorized"]).encode()
        _reload(keyed, base + f"{pubs['gone']}\n{new_pub}\n", b"reloaded " + name + b": 4 keys")
        with _client(keyed, "next") as new:
            assert new.get("py/rot") == b"old key"
            new.set("py/rot", b"new key")
            assert old.get("py/rot") == b"new key"  # both at once
            _reload(keyed, base + f"{new_pub}\n", b"reloaded " + name + b": 3 keys")
            _refused_at_once(lambda: old.get("py/rot"), "worker refused this key")
            assert new.get("py/rot") == b"new key"
        _reload(keyed, base + f"{pubs['gone']}\n", b"reloaded " + name + b": 3 keys")
