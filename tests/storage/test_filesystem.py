"""The filesystem BlobStore: verified, atomic blobs; digests computed with or without the
running hash of this process."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from chalicelib.oci.digest import Digest
from chalicelib.storage.embedded.filesystem import FilesystemBlobStore
from chalicelib.storage.ports import DigestMismatch, IncompleteBody


def _sha(data: bytes, algorithm: str = "sha256") -> Digest:
    return Digest(algorithm, hashlib.new(algorithm, data).hexdigest())


def _append_all(store: FilesystemBlobStore, upload: str, chunks: list[bytes]) -> tuple[int, dict]:
    state: dict = {}
    size = 0
    for chunk in chunks:
        written, state = store.append(upload, state, size, io.BytesIO(chunk), len(chunk))
        size += written
    return size, state


@pytest.mark.parametrize("restart", [False, True])
@pytest.mark.parametrize("chunks", [[b"one chunk"], [b"a" * 1000, b"b" * 10, b"c"]])
def test_finish_verifies_with_or_without_running_hash(
    tmp_path: Path, chunks: list[bytes], restart: bool
) -> None:
    store = FilesystemBlobStore(str(tmp_path))
    size, state = _append_all(store, "u1", chunks)
    if restart:
        store = FilesystemBlobStore(str(tmp_path))  # another process: no running hash
    data = b"".join(chunks)
    key = store.finish("u1", state, size, _sha(data))
    assert (tmp_path / key).read_bytes() == data
    assert key == f"blobs/sha256/{_sha(data).hex[:2]}/{_sha(data).hex}.u1"  # the upload's own


def test_sha512(tmp_path: Path) -> None:
    store = FilesystemBlobStore(str(tmp_path))
    size, state = _append_all(store, "u1", [b"x" * 100])
    key = store.finish("u1", state, size, _sha(b"x" * 100, "sha512"))
    assert key.startswith("blobs/sha512/") and (tmp_path / key).exists()


def test_mismatch_stores_nothing(tmp_path: Path) -> None:
    store = FilesystemBlobStore(str(tmp_path))
    size, state = _append_all(store, "u1", [b"abc", b"def"])
    with pytest.raises(DigestMismatch) as caught:
        store.finish("u1", state, size, _sha(b"other"))
    assert caught.value.actual == _sha(b"abcdef")
    assert list((tmp_path / "blobs").rglob("*.*")) == []
    assert not Path(store.blob_path(str(_sha(b"other")))).exists()


def test_chunk_not_in_the_session_is_ignored(tmp_path: Path) -> None:
    store = FilesystemBlobStore(str(tmp_path))
    size, state = _append_all(store, "u1", [b"kept"])
    store.append("u1", state, size, io.BytesIO(b"lost"), 4)  # its session update never happened
    key = store.finish("u1", state, size, _sha(b"kept"))
    assert (tmp_path / key).read_bytes() == b"kept"


def test_short_body_leaves_no_chunk(tmp_path: Path) -> None:
    store = FilesystemBlobStore(str(tmp_path))
    with pytest.raises(IncompleteBody):
        store.append("u1", {}, 0, io.BytesIO(b"123"), 10)
    assert list((tmp_path / "uploads" / "u1").iterdir()) == []


def test_discard_removes_upload_bytes(tmp_path: Path) -> None:
    store = FilesystemBlobStore(str(tmp_path))
    _, state = _append_all(store, "u1", [b"abc"])
    store.discard("u1", state)
    assert store.upload_ids() == []
