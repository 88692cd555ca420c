"""Consul over TLS through the Python module (docs/security.md).

The Consul test agent (SHOVEL_CONSUL_TEST_AGENT) serves https with a
throwaway PKI from tests/consul/make_test_pki.sh (SHOVEL_MAKE_TEST_PKI,
Debian's openssl); a real shovel-worker registers there over TLS. The module
reads CONSUL_CACERT / CONSUL_CAPATH from the environment as Consul's CLI
does. A CA that does not match, or a certificate made for another host
name, fails at once (well inside the deadline) with one line that names the
cause and the variable to fix.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List

import pytest

import shoveling
from conftest import _require_env, _stop_process

_TLS_VARS = ("CONSUL_CACERT", "CONSUL_CAPATH", "CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY",
             "CONSUL_HTTP_ADDR", "CONSUL_HTTP_SSL", "CONSUL_HTTP_SSL_VERIFY")


class _Agent:
    """consul-test-agent with one https node on 127.0.0.1."""

    def __init__(self, pki: Path, cert: str, tmp: Path) -> None:
        ready = tmp / f"agent-{cert}.ready"
        self.log = open(tmp / f"agent-{cert}.log", "wb")
        self.proc = subprocess.Popen(
            [_require_env("SHOVEL_CONSUL_TEST_AGENT"), "--node", "n1=127.0.0.1:0",
             "--ready-file", str(ready), "--tls-cert", str(pki / f"{cert}.pem"),
             "--tls-key", str(pki / f"{cert}.key")],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("consul-test-agent did not start")
            time.sleep(0.02)
        self.url = "https://" + ready.read_text().strip().split("=", 1)[1]

    def stop(self) -> None:
        _stop_process(self.proc, self.log)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in _TLS_VARS + ("SHOVEL_WORKERS", "SHOVEL_KEY_FILE", "SHOVEL_WORKER_KEY"):
        monkeypatch.delenv(v, raising=False)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, object]]:
    tmp = tmp_path_factory.mktemp("consul-tls")
    pki = tmp / "pki"
    pki.mkdir()
    subprocess.run([_require_env("SHOVEL_MAKE_TEST_PKI"), str(pki)], check=True)
    agents: List[_Agent] = []
    worker = None
    try:
        agents.append(_Agent(pki, "server", tmp))
        agents.append(_Agent(pki, "wrong-host", tmp))
        url = agents[0].url
        ready = tmp / "w1.ready"
        log = open(tmp / "w1.log", "wb")
        worker = subprocess.Popen(
            [_require_env("SHOVEL_WORKER_BIN"), "--listen", "tcp://127.0.0.1:0",
             "--max-memory", "64MiB", "--node-id", "w1", "--ready-file", str(ready),
             "--consul", url, "--consul-ttl", "1s"],
            stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "CONSUL_CACERT": str(pki / "ca.pem")})
        yield {"pki": pki, "url": url, "wrong_host_url": agents[1].url, "tmp": tmp}
    finally:
        if worker is not None:
            _stop_process(worker, log)
        for a in agents:
            a.stop()


def _pki(tls: Dict[str, object]) -> Path:
    pki = tls["pki"]
    assert isinstance(pki, Path)
    return pki


def _use_registered_worker(url: str) -> shoveling.Client:
    """A client of the https agent once the worker is registered there."""
    deadline = time.monotonic() + 15
    while True:
        c = shoveling.Client(consul=url, deadline=5.0)
        try:
            if len(c.members()) == 1:
                return c
        except shoveling.Error:
            pass
        c.close()
        assert time.monotonic() < deadline, "the worker did not register over https"
        time.sleep(0.1)


def _refused_at_once(fn: Callable[[], object], *parts: str,
                     kind: type = shoveling.PermissionDenied) -> str:
    start = time.monotonic()
    with pytest.raises(kind) as e:
        fn()
    assert time.monotonic() - start < 5, "failed only after a deadline"
    text = str(e.value)
    for part in parts:
        assert part in text, text
    assert "\n" not in text, text
    return text


def _set_then_get(url: str) -> None:
    with shoveling.Client(consul=url, deadline=5.0) as c:
        c.set("tls/k", b"over https")
        assert c.get("tls/k") == b"over https"


def test_right_ca_reaches_the_worker_through_consul(tls, monkeypatch) -> None:
    monkeypatch.setenv("CONSUL_CACERT", str(_pki(tls) / "ca.pem"))
    url = str(tls["url"])
    _use_registered_worker(url).close()
    _set_then_get(url)


def test_a_ca_that_does_not_match_is_refused_naming_it(tls, monkeypatch) -> None:
    other = str(_pki(tls) / "other-ca.pem")
    monkeypatch.setenv("CONSUL_CACERT", other)
    _refused_at_once(lambda: _set_then_get(str(tls["url"])),
                     "TLS certificate of the Consul agent not trusted",
                     f"CONSUL_CACERT={other}")


def test_no_ca_given_says_to_set_consul_cacert(tls) -> None:
    _refused_at_once(lambda: _set_then_get(str(tls["url"])), "set CONSUL_CACERT")


def test_ca_path_directory(tls, monkeypatch) -> None:
    monkeypatch.setenv("CONSUL_CAPATH", str(_pki(tls) / "capath"))
    url = str(tls["url"])
    _use_registered_worker(url).close()
    _set_then_get(url)
    other = str(_pki(tls) / "other-capath")
    monkeypatch.setenv("CONSUL_CAPATH", other)
    _refused_at_once(lambda: _set_then_get(url),
                     "TLS certificate of the Consul agent not trusted",
                     f"CONSUL_CAPATH={other}")


def test_a_certificate_for_another_host_name_is_named(tls, monkeypatch) -> None:
    monkeypatch.setenv("CONSUL_CACERT", str(_pki(tls) / "ca.pem"))
    text = _refused_at_once(lambda: _set_then_get(str(tls["wrong_host_url"])),
                            "TLS certificate of the Consul agent is not for 127.0.0.1")
    assert "not trusted" not in text


def test_an_unreadable_ca_file_is_named(tls, monkeypatch) -> None:
    missing = str(_pki(tls) / "missing.pem")
    monkeypatch.setenv("CONSUL_CACERT", missing)
    _refused_at_once(lambda: _set_then_get(str(tls["url"])), "CONSUL_CACERT", missing,
                     kind=shoveling.Error)
