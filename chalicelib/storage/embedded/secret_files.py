"""Secrets kept in the embedded data directory (the token signing key, the part-URL key):
created once, readable by their owner only."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable

from .private_files import make_private_dirs


def read_or_create(path: str, make: Callable[[], bytes]) -> bytes:
    """The bytes in `path`; if there are none yet, `make()`'s, written readable by the owner
    only (0600). They are written to a temporary file and linked into place, so processes
    starting at once agree on one value and none ever reads a half-written one."""
    try:
        with open(path, "rb") as file:
            return file.read()
    except FileNotFoundError:
        pass
    directory = os.path.dirname(path) or "."
    make_private_dirs(directory)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".secret-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(make())
        with contextlib.suppress(FileExistsError):  # another process linked its own first
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    with open(path, "rb") as file:
        return file.read()
