"""shoveling.Client: the cache from Python, over the C ABI (libshovel.so).

Thread-safety: a Client may be shared by any number of threads (the C client
is thread-safe and ctypes releases the GIL during each call), except that
:meth:`Client.close` must not run while other calls are in progress. A
:class:`Writer` is for one thread at a time.

Errors: every method raises a :class:`shoveling.Error` subclass carrying the
library's message: :class:`~shoveling.NotFound` (also a ``KeyError``) for a
missing id, :class:`~shoveling.InvalidArgument` (also a ``ValueError``) for a
malformed id or argument, :class:`~shoveling.NoSpace`,
:class:`~shoveling.Unavailable`, :class:`~shoveling.Timeout`, ...
"""

from __future__ import annotations

import ctypes
import os
import weakref
from ctypes import byref, c_char_p, c_double, c_int, c_size_t, c_uint64, c_void_p
from dataclasses import dataclass
from typing import (Any, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple,
                    Union)

from . import _native
from ._buffers import readable, writable
from .errors import InvalidArgument, error_for

WHOLE = 2**64 - 1  # SHOVEL_WHOLE_BLOB
NOT_FOUND = 1  # SHOVEL_NOT_FOUND
Id = Union[str, bytes]


@dataclass(frozen=True)
class BlobStat:
    """What :meth:`Client.stat` returns (times are ns since the Unix epoch)."""

    id: str
    size: int
    stored_bytes: int  # compressed bytes held in memory
    version: int  # changes on every write
    ctime_ns: int
    mtime_ns: int
    atime_ns: int
    pinned: bool  # made by init: never evicted, never moved
    holders: Tuple[str, ...]  # node ids, primary first


@dataclass(frozen=True)
class NodeInfo:
    """One worker, as :meth:`Client.members` reports it."""

    node_id: str
    endpoint: str
    healthy: bool
    cores: int
    mem_used: int
    mem_limit: int
    ids: int
    load: float
    consul_node: str


def _id(value: Id, what: str = "id") -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if b"\0" in raw:  # a C string would silently end there
        shown = raw[:64].decode("utf-8", "replace").replace("\0", "\\x00")
        raise InvalidArgument(f"invalid argument: {what} '{shown}' contains a NUL byte")
    return raw


class _Handle:
    """Owns one C handle; checks every call's status."""

    def __init__(self) -> None:
        self._lib = _native.library()

    def _check(self, status: int, err: c_void_p) -> None:
        message = _native.take_string(self._lib, err.value)
        if status != 0:
            raise error_for(status, message)


class Writer(_Handle):
    """Streams a large value; nothing is visible until :meth:`commit`.

    As a context manager it commits on a normal exit and aborts when the
    block raises (the old value then stays whole). Made by
    :meth:`Client.writer`; close it before its client.
    """

    def __init__(self, client: "Client", id: Id, append: bool) -> None:
        super().__init__()
        self._ptr = c_void_p()
        self._client = client  # keeps the client alive while writing
        self.version: Optional[int] = None
        err = c_void_p()
        self._check(self._lib.shovel_writer_open(client._live(), _id(id), 1 if append else 0,
                                                 byref(self._ptr), byref(err)), err)

    def write(self, data: Any) -> int:
        """Sends bytes-like ``data`` (no copy); returns its length."""
        err = c_void_p()
        with readable(data) as (addr, n):
            self._check(self._lib.shovel_writer_write(self._live(), addr, n, byref(err)),
                        err)
        return n

    def commit(self) -> int:
        """Makes the value visible atomically; returns the new version."""
        version, err = c_uint64(), c_void_p()
        self._check(self._lib.shovel_writer_commit(self._live(), byref(version),
                                                   byref(err)), err)
        self.version = version.value
        return self.version

    def abort(self) -> None:
        """Drops what was written; the old value stays whole."""
        if self._ptr:
            self._lib.shovel_writer_abort(self._ptr)

    def close(self) -> None:
        """Frees the writer (aborting it if it was not committed)."""
        if self._ptr:
            self._lib.shovel_writer_destroy(self._ptr)
            self._ptr = c_void_p()

    def _live(self) -> c_void_p:
        if not self._ptr:
            raise InvalidArgument("invalid argument: the writer is closed")
        return self._ptr

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        try:
            if exc_type is None and self.version is None:
                self.commit()
            elif exc_type is not None:
                self.abort()
        finally:
            self.close()

    def __del__(self) -> None:
        if getattr(self, "_ptr", None):
            self.close()


class Pending(_Handle):
    """Requests started by :meth:`Client.start_set_many` or
    :meth:`Client.start_get_many`: sent, their results not yet taken.

    :meth:`wait` gives what :meth:`Client.set_many` / :meth:`Client.get_many`
    would have returned (or raises what they would have raised), once. One
    thread waits for a pending. Closing its client waits for nothing: its
    pendings are dropped (a write not yet answered may or may not be
    applied, as with a redis connection closed mid-pipeline) and their
    :meth:`wait` raises InvalidArgument.
    """

    def __init__(self, client: "Client", ptr: c_void_p, n: int, kind: str) -> None:
        super().__init__()
        self._ptr, self._n, self._kind = ptr, n, kind
        client._pendings.add(self)

    def wait(self) -> Union[List[int], List[Optional[bytes]]]:
        """The versions (set) or values (get, ``None`` for a missing id)."""
        ptr = self._live()
        n = self._n
        statuses, messages, err = (c_int * n)(), (c_void_p * n)(), c_void_p()
        try:
            if self._kind == "set":
                versions = (c_uint64 * n)()
                status = self._lib.shovel_pending_wait_set(ptr, versions, statuses, messages,
                                                           byref(err))
                _raise_first(self._lib, status, err, statuses, messages, n, ())
                return list(versions)
            data, lens = (c_void_p * n)(), (c_size_t * n)()
            status = self._lib.shovel_pending_wait_get(ptr, data, lens, statuses, messages,
                                                       byref(err))
            return _take_values(self._lib, status, err, statuses, messages, data, lens, n)
        finally:
            self.close()

    def close(self) -> None:
        """Drops the pending without waiting (its writes still land, unless
        the client is closed before they are sent)."""
        if self._ptr:
            self._lib.shovel_pending_free(self._ptr)
            self._ptr = c_void_p()

    def _live(self) -> c_void_p:
        if not self._ptr:
            raise InvalidArgument("invalid argument: the pending was already waited for, "
                                  "closed, or its client closed")
        return self._ptr

    def __del__(self) -> None:
        if getattr(self, "_ptr", None):
            self.close()


def _raise_first(lib: ctypes.CDLL, status: int, err: c_void_p, statuses: Any,
                 messages: Any, n: int, allowed: Tuple[int, ...]) -> None:
    """Frees the messages of a many-ids call and raises its first failure
    whose status is not in ``allowed`` (the call's own, else an item's)."""
    message = _native.take_string(lib, err.value)
    texts = [_native.take_string(lib, messages[i]) for i in range(n)]
    if status not in (0,) + allowed:
        raise error_for(status, message)
    for i in range(n):
        if statuses[i] not in (0,) + allowed:
            raise error_for(statuses[i], texts[i])


def _take_values(lib: ctypes.CDLL, status: int, err: c_void_p, statuses: Any,
                 messages: Any, data: Any, lens: Any, n: int) -> List[Optional[bytes]]:
    """The values of a get_many (``None`` for a missing id), freeing the
    library's buffers; raises as get_many does."""
    try:
        _raise_first(lib, status, err, statuses, messages, n, (NOT_FOUND,))
        return [ctypes.string_at(data[i], lens[i]) if statuses[i] == 0 else None
                for i in range(n)]
    finally:
        for i in range(n):
            lib.shovel_free(data[i])


def _set_arrays(items: Union[Mapping[Id, Any], Iterable[Tuple[Id, Any]]]) -> Tuple[Any, ...]:
    """(n, ids, data, lens, values) of a set_many: C arrays over ``values``,
    which the caller keeps alive during the call."""
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    n = len(pairs)
    ids = (c_char_p * n)(*[_id(i) for i, _ in pairs])
    values = [bytes(d) for _, d in pairs]
    data = (c_void_p * n)(*[ctypes.cast(c_char_p(v), c_void_p) for v in values])
    lens = (c_size_t * n)(*[len(v) for v in values])
    return n, ids, data, lens, values


class Client(_Handle):
    """A connection to the shoveling cache.

    Membership, in order: ``workers`` (endpoints, a comma-separated string or
    a sequence, e.g. ``"tcp://10.0.0.1:7070,tcp://10.0.0.2:7070"``), ``consul``
    (a Consul agent address, e.g. ``"http://127.0.0.1:8500"``), else the
    environment (``SHOVEL_WORKERS``, then ``CONSUL_HTTP_ADDR``).
    ``deadline`` is the per-request deadline in seconds; ``replicas`` the
    copies of each id written (default ``SHOVEL_REPLICAS``, else 1).
    ``key_file`` is this client's CURVE key pair file (``shovelctl keygen``;
    default ``SHOVEL_KEY_FILE``) and ``worker_key`` the workers' public key
    when Consul does not give it, or a worker key file, read again as it
    changes (default ``SHOVEL_WORKER_KEY``); see docs/security.md.
    """

    def __init__(self, workers: Union[str, Sequence[str], None] = None, *,
                 consul: Optional[str] = None, service_name: Optional[str] = None,
                 deadline: Optional[float] = None,
                 stream_chunk: Optional[int] = None,
                 replicas: Optional[int] = None,
                 key_file: Optional[str] = None,
                 worker_key: Optional[str] = None) -> None:
        super().__init__()
        lib = self._lib
        self._ptr = c_void_p()
        self._pendings: "weakref.WeakSet[Pending]" = weakref.WeakSet()
        options = lib.shovel_options_create()
        if not options:
            raise MemoryError("shovel_options_create")
        try:
            if workers is not None and not isinstance(workers, str):
                workers = ",".join(workers)
            if workers:
                lib.shovel_options_set_workers(options, workers.encode())
            if consul:
                lib.shovel_options_set_consul(options, consul.encode())
            if service_name:
                lib.shovel_options_set_service_name(options, service_name.encode())
            if deadline is not None:
                if deadline <= 0:
                    raise InvalidArgument("invalid argument: deadline must be > 0 s")
                lib.shovel_options_set_deadline_ms(options, max(1, round(deadline * 1000)))
            if replicas is not None:
                if not 1 <= replicas <= 8:
                    raise InvalidArgument("invalid argument: replicas must be 1 to 8")
                lib.shovel_options_set_replicas(options, replicas)
            if key_file:
                lib.shovel_options_set_key_file(options, os.fsencode(key_file))
            if worker_key:
                lib.shovel_options_set_worker_key(options, worker_key.encode())
            if stream_chunk is not None:
                if stream_chunk <= 0:
                    raise InvalidArgument("invalid argument: stream_chunk must be > 0")
                lib.shovel_options_set_stream_chunk(options, stream_chunk)
            err = c_void_p()
            self._check(lib.shovel_connect(options, byref(self._ptr), byref(err)), err)
        finally:
            lib.shovel_options_destroy(options)

    # ---- lifetime -----------------------------------------------------------

    def close(self) -> None:
        """Closes the connection; later calls raise InvalidArgument.

        Pendings not yet waited for are dropped first: what they wrote may
        or may not be applied.
        """
        for pending in list(getattr(self, "_pendings", ())):
            pending.close()
        if self._ptr:
            self._lib.shovel_close(self._ptr)
            self._ptr = c_void_p()

    @property
    def closed(self) -> bool:
        return not self._ptr

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_ptr", None):
            self.close()

    def _live(self) -> c_void_p:
        if not self._ptr:
            raise InvalidArgument("invalid argument: the client is closed")
        return self._ptr

    # ---- values -------------------------------------------------------------

    def set(self, id: Id, data: Any) -> int:
        """Replaces the value atomically; returns the new version.

        ``data`` is any bytes-like object; contiguous buffers are not copied.
        """
        version, err = c_uint64(), c_void_p()
        with readable(data) as (addr, n):
            self._check(self._lib.shovel_set(self._live(), _id(id), addr, n, byref(version),
                                             byref(err)), err)
        return version.value

    def get(self, id: Id, offset: int = 0, length: Optional[int] = None) -> bytes:
        """The value, or ``length`` bytes from ``offset`` (truncated like pread)."""
        if offset < 0 or (length is not None and length < 0):
            raise InvalidArgument("invalid argument: offset and length must be >= 0")
        data, n, err = c_void_p(), c_size_t(), c_void_p()
        self._check(self._lib.shovel_get(self._live(), _id(id), offset,
                                         WHOLE if length is None else length,
                                         byref(data), byref(n), byref(err)), err)
        try:
            return ctypes.string_at(data.value, n.value)
        finally:
            self._lib.shovel_free(data)

    def set_many(self, items: Union[Mapping[Id, Any], Iterable[Tuple[Id, Any]]]) -> List[int]:
        """Sets many ids in one call; returns their new versions, in order.

        ``items`` is a mapping or (id, data) pairs. The ids of one worker
        travel together (one message per worker for up to 1024 ids), as
        redis's MSET or a pipeline. Every item is tried; if any failed,
        raises the first failure's error (the others are stored).
        """
        n, ids, data, lens, _values = _set_arrays(items)  # _values: alive for the call
        versions, statuses, err = (c_uint64 * n)(), (c_int * n)(), c_void_p()
        self._check(self._lib.shovel_set_many(self._live(), n, ids, data, lens, versions,
                                              statuses, None, byref(err)), err)
        return list(versions)

    def get_many(self, ids: Iterable[Id]) -> List[Optional[bytes]]:
        """The whole values of many ids in one call, in order.

        ``None`` for an id that does not exist, as redis's MGET; any other
        failure raises the first one's error. Sent as :meth:`set_many`.
        """
        keys = [_id(i) for i in ids]
        n = len(keys)
        data, lens = (c_void_p * n)(), (c_size_t * n)()
        statuses, messages, err = (c_int * n)(), (c_void_p * n)(), c_void_p()
        status = self._lib.shovel_get_many(self._live(), n, (c_char_p * n)(*keys), data,
                                           lens, statuses, messages, byref(err))
        return _take_values(self._lib, status, err, statuses, messages, data, lens, n)

    def start_set_many(self,
                       items: Union[Mapping[Id, Any], Iterable[Tuple[Id, Any]]]) -> Pending:
        """Sends what :meth:`set_many` would and returns at once, without
        waiting for the replies; ``Pending.wait()`` gives the versions.

        Start several before waiting for the first to keep many requests in
        flight from one thread (hiredis's async calls, redis pipelining).
        The data is copied: the caller may reuse its buffers at once.
        """
        n, ids, data, lens, _values = _set_arrays(items)  # _values: alive for the call
        ptr, err = c_void_p(), c_void_p()
        self._check(self._lib.shovel_start_set_many(self._live(), n, ids, data, lens,
                                                    byref(ptr), byref(err)), err)
        return Pending(self, ptr, n, "set")

    def start_get_many(self, ids: Iterable[Id]) -> Pending:
        """Sends what :meth:`get_many` would; ``Pending.wait()`` gives the
        values (``None`` for a missing id)."""
        keys = [_id(i) for i in ids]
        n = len(keys)
        ptr, err = c_void_p(), c_void_p()
        self._check(self._lib.shovel_start_get_many(self._live(), n, (c_char_p * n)(*keys),
                                                    byref(ptr), byref(err)), err)
        return Pending(self, ptr, n, "get")

    def get_into(self, id: Id, buffer: Any, offset: int = 0) -> int:
        """Reads into a writable buffer (no copy); returns the bytes read."""
        if offset < 0:
            raise InvalidArgument("invalid argument: offset must be >= 0")
        n, err = c_size_t(), c_void_p()
        with writable(buffer) as (addr, capacity):
            self._check(self._lib.shovel_get_into(self._live(), _id(id), offset, addr,
                                                  capacity, byref(n), byref(err)), err)
        return n.value

    def append(self, id: Id, data: Any) -> int:
        """Appends atomically (creating the id); returns the new version."""
        version, err = c_uint64(), c_void_p()
        with readable(data) as (addr, n):
            self._check(self._lib.shovel_append(self._live(), _id(id), addr, n,
                                                byref(version), byref(err)), err)
        return version.value

    def writer(self, id: Id, append: bool = False) -> Writer:
        """A :class:`Writer` streaming a set (or an append) of a large value."""
        return Writer(self, id, append)

    def delete(self, id: Id) -> None:
        """Deletes the id; NotFound (KeyError) when it does not exist."""
        err = c_void_p()
        self._check(self._lib.shovel_delete(self._live(), _id(id), byref(err)), err)

    def exists(self, id: Id) -> bool:
        found, err = c_int(), c_void_p()
        self._check(self._lib.shovel_exists(self._live(), _id(id), byref(found),
                                            byref(err)), err)
        return bool(found.value)

    def __contains__(self, id: Id) -> bool:
        return self.exists(id)

    def rename(self, old: Id, new: Id) -> None:
        """Renames ``old`` to ``new`` (replacing ``new``), across workers."""
        err = c_void_p()
        self._check(self._lib.shovel_rename(self._live(), _id(old, "from"), _id(new, "to"),
                                            byref(err)), err)

    # ---- placement ----------------------------------------------------------

    def init(self, ids: Iterable[Id], strategy: str = "uniform_nodes") -> None:
        """Creates empty, pinned ids spread exactly over the live workers.

        ``strategy``: ``uniform_nodes``, ``uniform_cpu`` or ``uniform_memory``.
        """
        raw = [_id(i) for i in ids]
        array = (c_char_p * max(1, len(raw)))(*raw)
        err = c_void_p()
        self._check(self._lib.shovel_init(self._live(), array, len(raw), strategy.encode(),
                                          byref(err)), err)

    def node_ids(self, id: Id) -> List[str]:
        """Node ids of the workers holding the data, primary first."""
        nodes, n, err = ctypes.POINTER(c_void_p)(), c_size_t(), c_void_p()
        self._check(self._lib.shovel_node_ids(self._live(), _id(id), byref(nodes),
                                              byref(n), byref(err)), err)
        return _native.take_strings(self._lib, nodes, n.value)

    def node_id(self, id: Id, strategy: str = "default") -> str:
        """Best worker to process ``id``: ``default``, ``least_loaded``, ``nearest``."""
        node, err = c_void_p(), c_void_p()
        self._check(self._lib.shovel_node_id(self._live(), _id(id), strategy.encode(),
                                             byref(node), byref(err)), err)
        return _native.take_string(self._lib, node.value)

    def node_cache_score(self, node: str, id: Id) -> Optional[float]:
        """Distance in ms between ``node`` and the data (0 when it holds it);
        None when network coordinates are unknown (no Consul)."""
        score, known, err = c_double(), c_int(), c_void_p()
        self._check(self._lib.shovel_node_cache_score(
            self._live(), _id(node, "node"), _id(id), byref(score), byref(known),
            byref(err)), err)
        return score.value if known.value else None

    # ---- metadata -----------------------------------------------------------

    def stat(self, id: Id) -> BlobStat:
        out, err = ctypes.POINTER(_native.BlobStatC)(), c_void_p()
        self._check(self._lib.shovel_stat(self._live(), _id(id), byref(out), byref(err)),
                    err)
        try:
            s = out.contents
            return BlobStat(
                id=s.id.decode("utf-8"), size=s.size, stored_bytes=s.stored_bytes,
                version=s.version, ctime_ns=s.ctime_ns, mtime_ns=s.mtime_ns,
                atime_ns=s.atime_ns, pinned=bool(s.pinned),
                holders=tuple(s.holders[i].decode("utf-8") for i in range(s.n_holders)))
        finally:
            self._lib.shovel_blob_stat_free(out)

    def list_page(self, prefix: str = "", cursor: str = "",
                  limit: int = 1000) -> Tuple[List[str], str]:
        """One page: (ids, next_cursor); next_cursor is "" on the last page."""
        if not 0 < limit < 2**32:
            raise InvalidArgument("invalid argument: limit must be 1..4294967295")
        ids, n = ctypes.POINTER(c_void_p)(), c_size_t()
        nxt, err = c_void_p(), c_void_p()
        self._check(self._lib.shovel_list(self._live(), _id(prefix, "prefix"),
                                          cursor.encode(), limit, byref(ids), byref(n),
                                          byref(nxt), byref(err)), err)
        page = _native.take_strings(self._lib, ids, n.value)
        return page, _native.take_string(self._lib, nxt.value)

    def list(self, prefix: str = "", page_size: int = 1000) -> Iterator[str]:
        """All ids starting with ``prefix``, sorted; fetched page by page."""
        cursor = ""
        while True:
            page, cursor = self.list_page(prefix, cursor, page_size)
            yield from page
            if not cursor:
                return

    def members(self) -> List[NodeInfo]:
        """The workers and their stats."""
        nodes = ctypes.POINTER(_native.NodeInfoC)()
        n, err = c_size_t(), c_void_p()
        self._check(self._lib.shovel_members(self._live(), byref(nodes), byref(n),
                                             byref(err)), err)
        try:
            return [NodeInfo(node_id=x.node_id.decode(), endpoint=x.endpoint.decode(),
                             healthy=bool(x.healthy), cores=x.cores, mem_used=x.mem_used,
                             mem_limit=x.mem_limit, ids=x.ids, load=x.load,
                             consul_node=x.consul_node.decode())
                    for x in (nodes[i] for i in range(n.value))]
        finally:
            self._lib.shovel_members_free(nodes, n.value)


def library_version() -> str:
    """Version of the loaded libshovel."""
    return _native.library().shovel_version().decode()


def library_path() -> str:
    """Path libshovel was loaded from (as given to the loader)."""
    return os.fspath(_native.library()._name)
