"""Every store of the embedded backend, under one data directory: blobs as files; metadata
(with the per-scope policies), identities, the audit log and failed-login counts in SQLite;
the token signing key in a file.

The composition root (`server/backends.py`) asks this object for each store, so the file
names and which adapter keeps which fact are written here only."""

from __future__ import annotations

import os

from ...auth.audit import AuditLog
from ...auth.identity_ports import IdentityStore
from ...auth.keys import SigningKey
from ...auth.throttle_ports import FailureCounter
from ..lifecycle_ports import LifecycleStore
from ..policy_ports import PolicyStore
from ..ports import BlobStore, MetadataStore
from .filesystem import FilesystemBlobStore
from .signing_key_file import load_or_create_key
from .sqlite import SqliteMetadataStore
from .sqlite_audit import SqliteAuditLog
from .sqlite_identities import FILE as IDENTITIES_FILE
from .sqlite_identities import SqliteIdentityStore
from .sqlite_lifecycle import SqliteLifecycleStore
from .sqlite_policies import SqlitePolicyStore
from .sqlite_throttle import SqliteFailureCounter

METADATA_FILE = "metadata.sqlite"


class EmbeddedStorage:
    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir

    def metadata(self) -> MetadataStore:
        return SqliteMetadataStore(self._path(METADATA_FILE))

    def existing_metadata(self) -> MetadataStore | None:
        """The metadata when a registry has written some, else None (reading must not create
        an empty registry where an admin mistyped a path)."""
        path = self._path(METADATA_FILE)
        return SqliteMetadataStore(path) if os.path.exists(path) else None

    def lifecycle(self) -> LifecycleStore:
        """What the lifecycle GC reads and changes: the metadata file's blobs and links."""
        return SqliteLifecycleStore(SqliteMetadataStore(self._path(METADATA_FILE)))

    def blobs(self) -> BlobStore:
        return FilesystemBlobStore(self.data_dir)

    def policies(self) -> PolicyStore:
        """Per-scope settings (immutability...), in the metadata file beside the tags they
        protect."""
        return SqlitePolicyStore(self._path(METADATA_FILE))

    def identities(self) -> IdentityStore:
        return SqliteIdentityStore(self._path(IDENTITIES_FILE))

    def audit(self) -> AuditLog:
        return SqliteAuditLog(self._path(IDENTITIES_FILE))

    def failure_counter(self) -> FailureCounter:
        """Shared by every worker process that opens the same data directory."""
        return SqliteFailureCounter(self._path(IDENTITIES_FILE))

    def signing_keys(self) -> tuple[SigningKey, ...]:
        return (load_or_create_key(self.data_dir),)

    def _path(self, name: str) -> str:
        return os.path.join(self.data_dir, name)
