"""Storage faults, translated at the adapters' boundary into the ports' StorageUnavailable and
StorageFull, so that every front end answers them alike (503 + Retry-After, 507) and the
service never needs to know sqlite3, OSError numbers or botocore.

A translated error is a copy of the original whose type derives from both the original's type
and the port's: code that already handles the original type (an adapter catching
sqlite3.OperationalError, auth's throttle catching botocore's ClientError) keeps working
unchanged, and the router, which only knows the ports, sees the port type.
"""

from __future__ import annotations

import errno
import functools
import sqlite3
from typing import TypeVar

from .ports import StorageFull, StorageUnavailable

E = TypeVar("E", bound=BaseException)

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
UNAVAILABLE_ERRNOS = frozenset({errno.EIO, errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT})
_SQLITE_UNAVAILABLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_PROTOCOL")


@functools.cache
def both(original: type[E], port: type[Exception]) -> type[E]:
    """A type that is both `original` and `port` (one per pair)."""
    return type(f"{port.__name__}{original.__name__}", (original, port), {})  # type: ignore[return-value]


def retyped(error: E, port: type[Exception]) -> E:
    """A copy of `error` that is also a `port`; its cause is the original."""
    kind = both(type(error), port)
    if isinstance(error, OSError) and error.errno is not None:
        named = () if error.filename is None else (error.filename,)
        copy = kind(error.errno, error.strerror, *named)
    else:
        copy = kind.__new__(kind)
        copy.args = error.args
    copy.__dict__.update(error.__dict__)
    copy.__cause__ = error
    copy.__suppress_context__ = True
    copy.__traceback__ = error.__traceback__
    return copy


def port_type(error: BaseException) -> type[Exception] | None:
    """StorageFull or StorageUnavailable when `error` is a fault of the local disk or of
    SQLite that the client cannot cause nor cure; None for anything else."""
    if isinstance(error, (StorageFull, StorageUnavailable)):
        return None  # translated already
    if isinstance(error, sqlite3.OperationalError):
        return _sqlite_port(error)
    if isinstance(error, OSError) and error.errno in FULL_ERRNOS:
        return StorageFull
    if isinstance(error, OSError) and error.errno in UNAVAILABLE_ERRNOS:
        return StorageUnavailable
    return None


def _sqlite_port(error: sqlite3.OperationalError) -> type[Exception] | None:
    name = getattr(error, "sqlite_errorname", "") or ""
    message = str(error).lower()
    if name.startswith("SQLITE_FULL") or "database or disk is full" in message:
        return StorageFull
    if name.startswith(_SQLITE_UNAVAILABLE) or any(
        word in message for word in ("database is locked", "disk i/o error", "busy")
    ):
        return StorageUnavailable
    return None


def translated(error: E) -> E:
    """`error` retyped as its port fault when it is one, else `error` itself."""
    port = port_type(error)
    return retyped(error, port) if port is not None else error
