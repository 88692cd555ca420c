"""shoveling.Client against three real workers (see conftest.py).

Each test writes under its own namespace so the tests share one cluster.
"""

from __future__ import annotations

import array
import dataclasses
import os
import threading
from collections import Counter

import pytest

import shoveling


def test_set_get_ranges(client: shoveling.Client) -> None:
    v1 = client.set("py/rw/a", b"hello")
    assert v1 > 0
    assert client.get("py/rw/a") == b"hello"
    assert client.get("py/rw/a", offset=1, length=3) == b"ell"
    assert client.get("py/rw/a", offset=3) == b"lo"
    assert client.get("py/rw/a", 2, 100) == b"llo"  # truncated like pread
    assert client.get("py/rw/a", offset=10) == b""
    v2 = client.append("py/rw/a", b", world")
    assert v2 > v1
    assert client.get("py/rw/a") == b"hello, world"
    client.append("py/rw/created", b"x")
    assert client.get("py/rw/created") == b"x"
    client.set("py/rw/empty", b"")
    assert client.get("py/rw/empty") == b""


def test_bytes_like_inputs(client: shoveling.Client) -> None:
    raw = bytes(range(256)) * 4
    client.set("py/buf/bytearray", bytearray(raw))
    client.set("py/buf/memoryview", memoryview(raw)[10:20])  # read-only slice
    client.set("py/buf/strided", memoryview(raw)[::2])  # non-contiguous: copied
    client.set("py/buf/array", array.array("I", [1, 2, 3]))
    assert client.get("py/buf/bytearray") == raw
    assert client.get("py/buf/memoryview") == raw[10:20]
    assert client.get("py/buf/strided") == raw[::2]
    assert client.get("py/buf/array") == array.array("I", [1, 2, 3]).tobytes()
    with pytest.raises(TypeError, match="encode it first"):
        client.set("py/buf/str", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not int"):
        client.append("py/buf/int", 5)
    buf = bytearray(6)
    assert client.get_into("py/buf/bytearray", memoryview(buf)[1:], offset=65) == 5
    assert buf == b"\0" + raw[65:70]
    with pytest.raises(TypeError, match="writable"):
        client.get_into("py/buf/bytearray", b"read-only")


def test_large_value_round_trip(client: shoveling.Client) -> None:
    data = os.urandom(20 << 20)
    client.set("py/large", data)
    assert client.get("py/large") == data
    assert client.get("py/large", offset=(5 << 20) + 3, length=1000) == \
        data[(5 << 20) + 3:(5 << 20) + 1003]
    assert client.stat("py/large").size == len(data)


def test_missing_id_is_key_error(client: shoveling.Client) -> None:
    with pytest.raises(KeyError) as info:
        client.get("py/missing/x")
    e = info.value
    assert isinstance(e, shoveling.NotFound) and isinstance(e, shoveling.Error)
    assert e.code == 1
    assert str(e).startswith("not found: ") and "py/missing/x" in str(e)
    for call in (lambda: client.stat("py/missing/x"),
                 lambda: client.delete("py/missing/x"),
                 lambda: client.node_ids("py/missing/x")):
        with pytest.raises(shoveling.NotFound):
            call()
    assert not client.exists("py/missing/x")
    assert "py/missing/x" not in client


@pytest.mark.parametrize("bad,message", [
    ("a//b", "invalid argument: id 'a//b' has an empty path component"),
    ("", "invalid argument: the id is empty; ids are 1 to 4096 bytes"),
    ("x/../y", "invalid argument: id 'x/../y' has a '..' path component"),
    ("a\0b", "invalid argument: id 'a\\x00b' contains a NUL byte"),
    (b"\xff", "invalid argument: id '\\xff' is not valid UTF-8 (at byte 0)"),
])
def test_invalid_ids(client: shoveling.Client, bad: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        client.set(bad, b"x")
    assert isinstance(info.value, shoveling.InvalidArgument)
    assert str(info.value) == message  # a byte that is not UTF-8 shows as \xNN
    assert info.value.code == 3


def test_init_uniform_nodes_and_placement(client: shoveling.Client,
                                          workers: list) -> None:
    ids = [f"py/init/p{i:02d}" for i in range(12)]
    client.init(ids, strategy="uniform_nodes")
    homes = Counter()
    for i in ids:
        st = client.stat(i)
        assert st.pinned and st.size == 0
        holders = client.node_ids(i)
        assert len(holders) == 1
        assert client.node_id(i) == holders[0]
        homes[holders[0]] += 1
    assert sorted(homes) == ["w1", "w2", "w3"]
    assert set(homes.values()) == {4}  # exact quotas, not hashing
    home = client.node_ids(ids[0])
    client.append(ids[0], b"data")  # pinned: a write does not move it
    assert client.node_ids(ids[0]) == home and client.get(ids[0]) == b"data"
    assert client.node_id(ids[0], strategy="least_loaded") in {"w1", "w2", "w3"}
    with pytest.raises(shoveling.InvalidArgument, match="uniform_nodes") as info:
        client.init(["py/init/bad"], strategy="round_robin")
    assert "round_robin" in str(info.value)
    assert not client.exists("py/init/bad")


def test_node_cache_score(client: shoveling.Client) -> None:
    client.set("py/score/a", b"x")
    holder = client.node_ids("py/score/a")[0]
    score = client.node_cache_score(holder, "py/score/a")
    assert score is None or score == 0.0  # no Consul: coordinates unknown


def test_stat_is_a_frozen_dataclass(client: shoveling.Client) -> None:
    version = client.set("py/stat/a", b"12345")
    st = client.stat("py/stat/a")
    assert isinstance(st, shoveling.BlobStat)
    assert (st.id, st.size, st.version, st.pinned) == ("py/stat/a", 5, version, False)
    assert st.stored_bytes > 0 and st.mtime_ns > 0 and len(st.holders) == 1
    assert st.holders[0] in {"w1", "w2", "w3"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.size = 3  # type: ignore[misc]


def test_delete_exists_rename(client: shoveling.Client) -> None:
    client.set("py/del/a", b"1")
    assert client.exists("py/del/a")
    client.delete("py/del/a")
    assert not client.exists("py/del/a")
    client.set("py/del/b", b"moved")
    client.rename("py/del/b", "py/del/c")
    assert client.get("py/del/c") == b"moved" and not client.exists("py/del/b")


def test_list_iterates_all_pages(client: shoveling.Client) -> None:
    want = sorted(f"py/list/{i:03d}" for i in range(25))
    for i in want:
        client.set(i, b"")
    client.set("py/listx", b"")  # same string prefix, other namespace
    assert list(client.list("py/list/", page_size=7)) == want
    page, cursor = client.list_page("py/list/", limit=10)
    assert page == want[:10] and cursor
    assert list(client.list("py/list/nothing/")) == []


def test_members(client: shoveling.Client, workers: list) -> None:
    members = client.members()
    assert sorted(m.node_id for m in members) == ["w1", "w2", "w3"]
    by_id = {m.node_id: m for m in members}
    for w in workers:
        m = by_id[w.node_id]
        assert m.endpoint == w.endpoint and m.healthy
        assert m.mem_limit == 256 << 20


def test_writer_commits_or_aborts(client: shoveling.Client) -> None:
    with client.writer("py/w/a") as w:
        w.write(b"part1,")
        w.write(memoryview(b"part2"))
        assert not client.exists("py/w/a")  # not visible before commit
    assert w.version and client.get("py/w/a") == b"part1,part2"
    with client.writer("py/w/a", append=True) as w:
        w.write(b"!")
    assert client.get("py/w/a") == b"part1,part2!"
    with pytest.raises(RuntimeError):
        with client.writer("py/w/a") as w:
            w.write(b"never seen")
            raise RuntimeError("boom")
    assert client.get("py/w/a") == b"part1,part2!"


def test_no_space(client: shoveling.Client) -> None:
    client.init(["py/nospace/pinned"])
    client.append("py/nospace/pinned", b"keep")
    with pytest.raises(shoveling.NoSpace) as info:
        client.set("py/nospace/huge", os.urandom(300 << 20))
    assert info.value.code == 4 and str(info.value).startswith("no space: ")
    assert client.get("py/nospace/pinned") == b"keep"


def test_threads_share_one_client(client: shoveling.Client) -> None:
    errors = []

    def run(t: int) -> None:
        try:
            for i in range(30):
                value = f"thread {t} round {i}".encode()
                client.set(f"py/threads/{t}", value)
                assert client.get(f"py/threads/{t}") == value
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)


def test_connect_from_environment_and_close(endpoints: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOVEL_WORKERS", endpoints)
    with shoveling.Client() as c:
        c.set("py/env/a", b"env")
        assert c.get("py/env/a") == b"env"
        assert len(c.members()) == 3
    assert c.closed
    with pytest.raises(shoveling.InvalidArgument, match="the client is closed"):
        c.get("py/env/a")
    monkeypatch.delenv("SHOVEL_WORKERS")
    monkeypatch.delenv("CONSUL_HTTP_ADDR", raising=False)
    with pytest.raises(shoveling.InvalidArgument, match="SHOVEL_WORKERS"):
        shoveling.Client()


def test_unreachable_worker() -> None:
    with pytest.raises((shoveling.Unavailable, shoveling.Timeout)) as info:
        with shoveling.Client(workers=["tcp://127.0.0.1:1"], deadline=0.3) as c:
            c.set("py/dead/a", b"x")
    assert "tcp://127.0.0.1:1" in str(info.value)
    assert isinstance(info.value, (ConnectionError, TimeoutError))


def test_set_many_and_get_many(client: shoveling.Client) -> None:
    items = {f"py/many/{i}": bytes([i]) * (i * 37) for i in range(50)}
    versions = client.set_many(items)
    assert len(versions) == 50 and all(v > 0 for v in versions)
    assert client.stat("py/many/7").version == versions[7]
    ids = ["py/many/3", "py/many/missing", "py/many/0", "py/many/49"]
    assert client.get_many(ids) == [items["py/many/3"], None, b"", items["py/many/49"]]
    assert client.get_many([]) == [] and client.set_many([]) == []
    # Pairs work as well as a mapping; bytes-like values are taken.
    assert len(client.set_many([("py/many/a", bytearray(b"A")), ("py/many/b", b"B")])) == 2
    assert client.get_many(["py/many/b", "py/many/a"]) == [b"B", b"A"]
    # A bad id fails its own item; the others are stored, the first error raises.
    with pytest.raises(shoveling.InvalidArgument) as info:
        client.set_many([("py/many/c", b"C"), ("py//bad", b"x")])
    assert str(info.value) == "invalid argument: id 'py//bad' has an empty path component"
    assert client.get("py/many/c") == b"C"
    with pytest.raises(shoveling.InvalidArgument):
        client.get_many(["py/many/a", "py//bad"])


def test_started_calls_keep_many_in_flight(client: shoveling.Client) -> None:
    # Ten of each started before the first is waited for.
    batches = [{f"py/start/{k}/{i}": f"{k}.{i}".encode() * 30 for i in range(40)}
               for k in range(10)]
    sets = [client.start_set_many(b) for b in batches]
    for pending in sets:
        versions = pending.wait()
        assert len(versions) == 40 and all(v > 0 for v in versions)
    gets = [client.start_get_many(list(b) + ["py/start/missing"]) for b in batches]
    for pending, batch in reversed(list(zip(gets, batches))):  # any order
        assert pending.wait() == list(batch.values()) + [None]
    # Results are taken once.
    with pytest.raises(shoveling.InvalidArgument) as info:
        gets[0].wait()
    assert "already waited for" in str(info.value)
    # An item's error raises at wait, as set_many's does; the rest are stored.
    bad = client.start_set_many([("py/start/ok", b"fine"), ("py//bad", b"x")])
    with pytest.raises(shoveling.InvalidArgument) as info:
        bad.wait()
    assert str(info.value) == "invalid argument: id 'py//bad' has an empty path component"
    assert client.get("py/start/ok") == b"fine"
    # A NUL in an id is refused before anything is sent.
    with pytest.raises(shoveling.InvalidArgument):
        client.start_get_many(["py/start/a\0b"])


def test_closing_the_client_drops_its_pendings(endpoints: str) -> None:
    c = shoveling.Client(workers=endpoints)
    unwaited = c.start_get_many(["py/start/never-read"])
    c.close()
    with pytest.raises(shoveling.InvalidArgument) as info:
        unwaited.wait()
    assert "its client closed" in str(info.value)


def test_get_many_from_an_unreachable_worker_raises() -> None:
    with shoveling.Client(workers=["tcp://127.0.0.1:1"], deadline=0.3) as c:
        with pytest.raises((shoveling.Unavailable, shoveling.Timeout)) as info:
            c.get_many(["py/dead/a", "py/dead/b"])
    assert "tcp://127.0.0.1:1" in str(info.value)


def test_library_is_the_one_under_test() -> None:
    assert shoveling.library_version() == shoveling.__version__
    assert shoveling.library_path() == os.environ["SHOVEL_LIBRARY"]


def test_imported_copy_is_the_one_under_test() -> None:
    # install_test.sh runs this file against the pip-installed copy.
    src = os.environ.get("SHOVEL_PYTHON_SRC")
    if src:
        assert os.path.realpath(shoveling.__file__).startswith(os.path.realpath(src))
    if os.environ.get("SHOVEL_EXPECT_INSTALLED"):
        assert "site" in os.path.basename(os.path.dirname(
            os.path.dirname(os.path.realpath(shoveling.__file__))))
