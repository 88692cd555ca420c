"""shoveling: the distributed in-memory blob cache, from Python.

>>> import shoveling
>>> with shoveling.Client(workers="tcp://127.0.0.1:7070") as c:
...     c.set("greeting", b"hello")
...     c.append("greeting", b", world")
...     c.get("greeting", offset=7)
b'world'

A thin layer over the C library libshovel.so (``shovel/shovel.h``) through
ctypes; nothing here speaks the wire protocol. See ``python/README.md``.
"""

from .client import (BlobStat, Client, NodeInfo, Pending, Writer, library_path,
                     library_version)
from .errors import (AlreadyExists, Conflict, Corruption, Error, InternalError,
                     InvalidArgument, NoSpace, NotFound, PermissionDenied,
                     ProtocolError, Timeout, Unavailable)

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists", "BlobStat", "Client", "Conflict", "Corruption", "Error",
    "InternalError", "InvalidArgument", "NoSpace", "NodeInfo", "NotFound",
    "Pending", "PermissionDenied", "ProtocolError", "Timeout", "Unavailable", "Writer", "library_path",
    "library_version",
]
