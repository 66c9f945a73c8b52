"""The embedded data directory is private to the user running the registry, whatever the
umask: directories 0700, files 0600. It holds password and token hashes, the audit log, signing
keys and the blobs of private repositories.

Modes are set explicitly on what the registry creates, rather than by changing the process's
umask: the umask is shared by every thread of the process (gunicorn's threads, the client
library), and a value changed around one call would race with the others. SQLite creates its
-wal and -shm files itself, with the mode of the database file, which is created here first.
"""

from __future__ import annotations

import contextlib
import os
import stat

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_private_dirs(path: str) -> None:
    """Create `path` and any missing parents 0700 (an existing directory is left as it is)."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent != path:
        make_private_dirs(parent)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        if not os.path.isdir(path):
            raise
        return  # another process or thread made it first
    os.chmod(path, DIR_MODE)  # exactly 0700, even under a umask such as 0277


def open_private(path: str, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """A descriptor of `path`, which is created 0600 if it does not exist."""
    fd = os.open(path, flags | os.O_CLOEXEC, FILE_MODE)
    try:
        status = os.fstat(fd)
        wider = stat.S_IMODE(status.st_mode) & ~FILE_MODE
        if flags & os.O_CREAT and wider and status.st_uid == os.geteuid():
            os.fchmod(fd, FILE_MODE)  # created wider by an older version: tighten it
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_private_file(path: str) -> None:
    """Create the empty file `path` 0600 unless it exists (an existing one is left alone: it
    may be only readable to this user, say an admin verb reading another user's data)."""
    with contextlib.suppress(FileExistsError):
        os.close(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))


def wider_than_private(path: str) -> bool:
    """Whether group or others have any access to the directory `path`."""
    return bool(stat.S_IMODE(os.stat(path).st_mode) & 0o077)
