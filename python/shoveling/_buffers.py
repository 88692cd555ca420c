"""Pointers into Python buffers without copying them.

:func:`readable` and :func:`writable` hold a buffer-protocol export
(``PyObject_GetBuffer``) for the duration of a ``with`` block and yield the
address and length, so ``bytes``, ``bytearray``, ``memoryview`` (slices too),
``array.array``, ``mmap`` ... go to the C library without a copy. A
non-contiguous buffer is copied once (``readable``) or rejected
(``writable``). CPython only (it uses ``ctypes.pythonapi``).
"""

from __future__ import annotations

import ctypes
from contextlib import contextmanager
from typing import Any, Iterator, Tuple

_PyBUF_SIMPLE = 0
_PyBUF_WRITABLE = 0x0001


class _PyBuffer(ctypes.Structure):
    # Py_buffer from CPython's Include/pybuffer.h (stable since 3.3).
    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.c_void_p),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.POINTER(ctypes.c_ssize_t)),
        ("strides", ctypes.POINTER(ctypes.c_ssize_t)),
        ("suboffsets", ctypes.POINTER(ctypes.c_ssize_t)),
        ("internal", ctypes.c_void_p),
    ]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
_get_buffer.restype = ctypes.c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [ctypes.POINTER(_PyBuffer)]
_release_buffer.restype = None


class _Export:
    """One held buffer export; release() ends it."""

    def __init__(self, obj: Any, flags: int) -> None:
        self.view = _PyBuffer()
        _get_buffer(obj, ctypes.byref(self.view), flags)  # TypeError/BufferError
        self.obj = obj  # keeps a temporary copy alive

    def release(self) -> None:
        _release_buffer(ctypes.byref(self.view))


_NOT_BYTES = "data must be bytes-like (bytes, bytearray, memoryview), not {}"


@contextmanager
def readable(data: Any) -> Iterator[Tuple[int, int]]:
    """Yields (address, length) of bytes-like ``data``, zero-copy if contiguous."""
    if isinstance(data, str):
        raise TypeError(_NOT_BYTES.format("str; encode it first"))
    try:
        export = _Export(data, _PyBUF_SIMPLE)
    except BufferError:  # non-contiguous: one copy
        export = _Export(memoryview(data).tobytes(), _PyBUF_SIMPLE)
    except TypeError:
        raise TypeError(_NOT_BYTES.format(type(data).__name__)) from None
    try:
        yield (export.view.buf or 0), export.view.len
    finally:
        export.release()


@contextmanager
def writable(buffer: Any) -> Iterator[Tuple[int, int]]:
    """Yields (address, length) of a writable, contiguous buffer."""
    try:
        export = _Export(buffer, _PyBUF_WRITABLE)
    except (TypeError, BufferError):
        raise TypeError("buffer must be a writable, contiguous bytes-like object "
                        f"(bytearray, memoryview of one, ...), not "
                        f"{type(buffer).__name__}") from None
    try:
        yield (export.view.buf or 0), export.view.len
    finally:
        export.release()
