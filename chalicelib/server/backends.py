"""Builds the registry service on a storage backend chosen by the front end."""

from __future__ import annotations

import os

from ..registry.service import Registry
from ..registry.settings import Settings
from ..storage.filesystem import FilesystemBlobStore
from ..storage.sqlite import SqliteMetadataStore


def embedded_registry(data_dir: str, settings: Settings | None = None) -> Registry:
    """Files for blobs and SQLite for metadata, all under `data_dir`."""
    meta = SqliteMetadataStore(os.path.join(data_dir, "metadata.sqlite"))
    store = FilesystemBlobStore(data_dir)
    return Registry(meta, store, settings)
