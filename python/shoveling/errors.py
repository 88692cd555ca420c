"""The exceptions of :mod:`shoveling`, one per library status code.

Every error raised by a :class:`shoveling.Client` call is a :class:`Error`
carrying the library's message (``str(e)``) and its numeric ``code`` (the
``shovel_status`` of ``shovel/shovel.h``). Where a builtin exception means
the same thing the class also derives from it, so ``except KeyError`` catches
a missing id and ``except ValueError`` catches a malformed id or argument.
"""

from __future__ import annotations

from typing import Dict, Type


class Error(Exception):
    """Base class of every error the cache reports."""

    #: shovel_status code (``shovel/shovel.h``); 0 is never raised.
    code: int = 8

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:  # KeyError would repr-quote the message
        return self.message


class NotFound(Error, KeyError):
    """The id (or node) does not exist."""

    code = 1


class AlreadyExists(Error):
    """A create found the id already there."""

    code = 2


class InvalidArgument(Error, ValueError):
    """A malformed id, strategy, size or option; the message names the rule."""

    code = 3


class NoSpace(Error):
    """The owning worker's memory limit cannot fit the write."""

    code = 4


class Unavailable(Error, ConnectionError):
    """A worker or the Consul agent cannot be reached."""

    code = 5


class Timeout(Error, TimeoutError):
    """A request deadline passed."""

    code = 6


class Corruption(Error):
    """Stored or received bytes failed a check."""

    code = 7


class InternalError(Error):
    """A bug in the library: an invariant did not hold."""

    code = 8


class ProtocolError(Error):
    """A malformed or unknown message on the wire."""

    code = 10


class Conflict(Error):
    """A conditional write saw another version."""

    code = 11


class PermissionDenied(Error, PermissionError):
    """The client's key may not do this (a read-only key tried to write)."""

    code = 12


_BY_CODE: Dict[int, Type[Error]] = {
    cls.code: cls
    for cls in (NotFound, AlreadyExists, InvalidArgument, NoSpace, Unavailable,
                Timeout, Corruption, InternalError, ProtocolError, Conflict,
                PermissionDenied)
}


def error_for(code: int, message: str) -> Error:
    """Returns the exception for a non-zero ``shovel_status``."""
    cls = _BY_CODE.get(code, Error)
    return cls(message or f"shovel status {code}", code)
