"""Loads libshovel.so (the C ABI, ``shovel/shovel.h``) and declares it.

Search order: the ``SHOVEL_LIBRARY`` environment variable (a path), a
``libshovel.so*`` next to this package, then the system loader
(``libshovel.so.0``, e.g. after ``cmake --install`` + ``ldconfig``, or via
``LD_LIBRARY_PATH``). The library is loaded once per process, on first use.
ctypes releases the GIL around every call, so threads sharing one client run
their requests concurrently.
"""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import (POINTER, c_char_p, c_double, c_int, c_int64, c_size_t, c_uint32,
                    c_uint64, c_void_p)
from typing import List, Optional

_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None

c_status = c_int
c_err = POINTER(c_char_p)  # char** err; read with _take_error


class BlobStatC(ctypes.Structure):
    """shovel_blob_stat."""

    _fields_ = [
        ("id", c_char_p),
        ("size", c_uint64),
        ("stored_bytes", c_uint64),
        ("version", c_uint64),
        ("ctime_ns", c_int64),
        ("mtime_ns", c_int64),
        ("atime_ns", c_int64),
        ("pinned", c_int),
        ("holders", POINTER(c_char_p)),
        ("n_holders", c_size_t),
    ]


class NodeInfoC(ctypes.Structure):
    """shovel_node_info."""

    _fields_ = [
        ("node_id", c_char_p),
        ("endpoint", c_char_p),
        ("healthy", c_int),
        ("cores", c_uint32),
        ("mem_used", c_uint64),
        ("mem_limit", c_uint64),
        ("ids", c_uint64),
        ("load", c_double),
        ("consul_node", c_char_p),
    ]


# name: (restype, argtypes). Message pointers are c_void_p so that ctypes
# does not convert (and lose) the library's allocation before shovel_free.
_P = c_void_p
_PP = POINTER(c_void_p)
_SIGNATURES = {
    "shovel_version": (c_char_p, []),
    "shovel_status_name": (c_char_p, [c_int]),
    "shovel_free": (None, [c_void_p]),
    "shovel_strings_free": (None, [_PP, c_size_t]),
    "shovel_options_create": (_P, []),
    "shovel_options_destroy": (None, [_P]),
    "shovel_options_set_workers": (None, [_P, c_char_p]),
    "shovel_options_set_consul": (None, [_P, c_char_p]),
    "shovel_options_set_service_name": (None, [_P, c_char_p]),
    "shovel_options_set_deadline_ms": (None, [_P, c_uint64]),
    "shovel_options_set_replicas": (None, [_P, c_uint32]),
    "shovel_options_set_key_file": (None, [_P, c_char_p]),
    "shovel_options_set_worker_key": (None, [_P, c_char_p]),
    "shovel_options_set_stream_chunk": (None, [_P, c_uint64]),
    "shovel_connect": (c_status, [_P, _PP, _PP]),
    "shovel_close": (None, [_P]),
    "shovel_set": (c_status, [_P, c_char_p, c_void_p, c_size_t, POINTER(c_uint64), _PP]),
    "shovel_get": (c_status, [_P, c_char_p, c_uint64, c_uint64, _PP, POINTER(c_size_t),
                              _PP]),
    "shovel_get_into": (c_status, [_P, c_char_p, c_uint64, c_void_p, c_size_t,
                                   POINTER(c_size_t), _PP]),
    "shovel_append": (c_status, [_P, c_char_p, c_void_p, c_size_t, POINTER(c_uint64),
                                 _PP]),
    "shovel_set_many": (c_status, [_P, c_size_t, POINTER(c_char_p), _PP, POINTER(c_size_t),
                                   POINTER(c_uint64), POINTER(c_int), _PP, _PP]),
    "shovel_get_many": (c_status, [_P, c_size_t, POINTER(c_char_p), _PP, POINTER(c_size_t),
                                   POINTER(c_int), _PP, _PP]),
    "shovel_start_set_many": (c_status, [_P, c_size_t, POINTER(c_char_p), _PP,
                                         POINTER(c_size_t), _PP, _PP]),
    "shovel_start_get_many": (c_status, [_P, c_size_t, POINTER(c_char_p), _PP, _PP]),
    "shovel_pending_wait_set": (c_status, [_P, POINTER(c_uint64), POINTER(c_int), _PP,
                                           _PP]),
    "shovel_pending_wait_get": (c_status, [_P, _PP, POINTER(c_size_t), POINTER(c_int), _PP,
                                           _PP]),
    "shovel_pending_count": (c_size_t, [_P]),
    "shovel_pending_free": (None, [_P]),
    "shovel_delete": (c_status, [_P, c_char_p, _PP]),
    "shovel_exists": (c_status, [_P, c_char_p, POINTER(c_int), _PP]),
    "shovel_rename": (c_status, [_P, c_char_p, c_char_p, _PP]),
    "shovel_init": (c_status, [_P, POINTER(c_char_p), c_size_t, c_char_p, _PP]),
    "shovel_node_ids": (c_status, [_P, c_char_p, POINTER(_PP), POINTER(c_size_t), _PP]),
    "shovel_node_id": (c_status, [_P, c_char_p, c_char_p, _PP, _PP]),
    "shovel_node_cache_score": (c_status, [_P, c_char_p, c_char_p, POINTER(c_double),
                                           POINTER(c_int), _PP]),
    "shovel_stat": (c_status, [_P, c_char_p, POINTER(POINTER(BlobStatC)), _PP]),
    "shovel_blob_stat_free": (None, [POINTER(BlobStatC)]),
    "shovel_list": (c_status, [_P, c_char_p, c_char_p, c_uint32, POINTER(_PP),
                               POINTER(c_size_t), _PP, _PP]),
    "shovel_members": (c_status, [_P, POINTER(POINTER(NodeInfoC)), POINTER(c_size_t),
                                  _PP]),
    "shovel_members_free": (None, [POINTER(NodeInfoC), c_size_t]),
    "shovel_writer_open": (c_status, [_P, c_char_p, c_int, _PP, _PP]),
    "shovel_writer_write": (c_status, [_P, c_void_p, c_size_t, _PP]),
    "shovel_writer_commit": (c_status, [_P, POINTER(c_uint64), _PP]),
    "shovel_writer_abort": (None, [_P]),
    "shovel_writer_destroy": (None, [_P]),
}


def _candidates() -> List[str]:
    out = []
    env = os.environ.get("SHOVEL_LIBRARY")
    if env:
        out.append(env)
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("libshovel.so.0", "libshovel.so"):
        if os.path.exists(os.path.join(here, name)):
            out.append(os.path.join(here, name))
    out += ["libshovel.so.0", "libshovel.so"]
    return out


def library() -> ctypes.CDLL:
    """Returns the loaded, declared libshovel (loading it on first call)."""
    global _lib
    with _lock:
        if _lib is None:
            tried = []
            for path in _candidates():
                try:
                    lib = ctypes.CDLL(path)
                    break
                except OSError as e:
                    tried.append(f"{path}: {e}")
            else:
                raise OSError(
                    "cannot load libshovel.so (the shoveling C library); install it "
                    "with `cmake --install BUILD` (+ ldconfig), or set SHOVEL_LIBRARY "
                    "to its path. Tried:\n  " + "\n  ".join(tried))
            for name, (restype, argtypes) in _SIGNATURES.items():
                fn = getattr(lib, name)
                fn.restype = restype
                fn.argtypes = argtypes
            _lib = lib
        return _lib


def take_string(lib: ctypes.CDLL, ptr: Optional[int]) -> str:
    """Decodes a library-allocated C string and frees it."""
    if not ptr:
        return ""
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        lib.shovel_free(ptr)


def take_strings(lib: ctypes.CDLL, array: ctypes.Array, n: int) -> List[str]:
    """Decodes a library-allocated array of n C strings and frees it."""
    try:
        return [ctypes.string_at(array[i]).decode("utf-8") for i in range(n)]
    finally:
        lib.shovel_strings_free(array, n)
