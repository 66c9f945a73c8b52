"""BlobStore on a local directory: content-addressed files, uploads kept as chunk files.

Layout under the root:
  blobs/<algorithm>/<first two hex>/<hex>.<upload id>
                                            complete, verified blobs (a blob's record names
                                            its file; stored before the lifecycle GC, a blob's
                                            file was <hex> alone)
  uploads/<upload id>/<offset>-<random>     one file per accepted chunk of an upload
  uploads/<upload id>/parts/p<n>-<md5>      part n of a direct upload (its ETag in the name)

A blob file appears only by an atomic rename after its digest verified, so a crash at any
instant leaves either the whole blob or nothing under blobs/. Each upload's file has a name of
its own, as each upload's object has on S3: a GC deleting a blob's old file can never delete
the bytes a new upload of the same digest just placed (lifecycle/gc.py). Chunk files that a
session does not list (a request cut short) are ignored and removed with the upload.

Directories are made 0700 and files 0600 whatever the umask (private_files.py). A full disk
or an I/O error leaves every public method as the ports' StorageFull or StorageUnavailable
(faults.py), translated once here at the class's boundary.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import secrets
import shutil
import threading
from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

from ...oci.digest import Digest, parse_digest
from ..faults import translated
from ..ports import (
    BlobBody,
    BlobRecord,
    DigestMismatch,
    PartDenied,
    PartInfo,
    PartsInvalid,
    PartUrl,
    body_blocks,
)
from .part_urls import PartUrlSigner
from .private_files import make_private_dirs, open_private

COPY_BLOCK = 1 << 20
T = TypeVar("T")


def _faults_translated(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def translating(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except OSError as error:
            fault = translated(error)
            if fault is error:
                raise
            raise fault from error

    return translating


def _translating_faults(cls: type[T]) -> type[T]:
    """Wrap every public method of `cls` so that its disk faults leave it as port faults."""
    for name, member in list(vars(cls).items()):
        if callable(member) and not name.startswith("_"):
            setattr(cls, name, _faults_translated(member))
    return cls


class _RunningHashes:
    """sha256 of each upload as its chunks arrive, so finishing needs no read-back.

    Kept in process memory only: after a restart (or in another worker) the digest is computed
    from the chunk files instead, which gives the same answer.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_upload: dict[str, tuple[tuple[str, ...], Any]] = {}

    def resume(self, upload_id: str, chunks: tuple[str, ...]) -> Any:
        with self._lock:
            known = self._by_upload.get(upload_id)
        if not chunks:
            return hashlib.sha256()
        if known and known[0] == chunks:
            return known[1].copy()
        return None

    def record(self, upload_id: str, chunks: tuple[str, ...], hasher: Any) -> None:
        with self._lock:
            self._by_upload[upload_id] = (chunks, hasher)

    def forget(self, upload_id: str) -> None:
        with self._lock:
            self._by_upload.pop(upload_id, None)


@_translating_faults
class FilesystemBlobStore:
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self._blobs = os.path.join(self.root, "blobs")
        self._uploads = os.path.join(self.root, "uploads")
        make_private_dirs(self._blobs)
        make_private_dirs(self._uploads)
        self._hashes = _RunningHashes()
        self._signer: PartUrlSigner | None = None
        self._signer_lock = threading.Lock()

    # -- paths -----------------------------------------------------------------------------
    def blob_path(self, digest: str) -> str:
        parsed = parse_digest(digest)
        return os.path.join(self._blobs, parsed.algorithm, parsed.hex[:2], parsed.hex)

    def _upload_dir(self, upload_id: str) -> str:
        if not upload_id.isalnum():
            raise ValueError(f"bad upload id {upload_id!r}")
        return os.path.join(self._uploads, upload_id)

    # -- uploads ---------------------------------------------------------------------------
    def append(
        self,
        upload_id: str,
        state: dict[str, Any],
        offset: int,
        body: BinaryIO,
        length: int | None,
        last: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        chunks = tuple(state.get("chunks", ()))
        hasher = self._hashes.resume(upload_id, chunks)
        directory = self._upload_dir(upload_id)
        make_private_dirs(directory)
        name = f"{offset:020d}-{secrets.token_hex(4)}"
        path = os.path.join(directory, name)
        try:
            written = _copy_body(body, length, path, hasher)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            raise
        if written == 0:
            os.unlink(path)
            return 0, state
        new_chunks = (*chunks, name)
        if hasher is not None:
            self._hashes.record(upload_id, new_chunks, hasher)
        return written, {**state, "chunks": list(new_chunks)}

    def finish(self, upload_id: str, state: dict[str, Any], size: int, digest: Digest) -> str:
        chunks = tuple(state.get("chunks", ()))
        paths = [os.path.join(self._upload_dir(upload_id), name) for name in chunks]
        stored = sum(os.path.getsize(path) for path in paths)
        if stored != size:
            raise RuntimeError(f"upload {upload_id} holds {stored} bytes, session says {size}")
        source, actual = self._single_file(upload_id, chunks, paths, digest.algorithm)
        if actual != digest:
            if source not in paths:
                os.unlink(source)
            raise DigestMismatch(actual)
        return self._place(source, digest, upload_id)

    def _place(self, source: str, digest: Digest, upload_id: str) -> str:
        """Rename the verified file `source` to the upload's blob file; return its key."""
        target = f"{self.blob_path(str(digest))}.{upload_id}"
        make_private_dirs(os.path.dirname(target))
        os.replace(source, target)
        return os.path.relpath(target, self.root)

    def _single_file(
        self, upload_id: str, chunks: tuple[str, ...], paths: list[str], algorithm: str
    ) -> tuple[str, Digest]:
        """One file holding the whole upload, and its digest."""
        hasher = self._hashes.resume(upload_id, chunks) if algorithm == "sha256" else None
        if len(paths) == 1:
            if hasher is None:
                hasher = _hash_file(paths[0], algorithm)
            return paths[0], Digest(algorithm, hasher.hexdigest())
        make_private_dirs(self._upload_dir(upload_id))
        return self._join(upload_id, paths, algorithm)

    def _join(self, upload_id: str, paths: list[str], algorithm: str) -> tuple[str, Digest]:
        """Concatenate `paths` into a new file of the upload while hashing: one pass."""
        joined = os.path.join(self._upload_dir(upload_id), f"joined-{secrets.token_hex(4)}")
        hasher = hashlib.new(algorithm)
        with os.fdopen(open_private(joined), "wb") as out:
            for path in paths:
                with open(path, "rb") as source:
                    while block := source.read(COPY_BLOCK):
                        hasher.update(block)
                        out.write(block)
        return joined, Digest(algorithm, hasher.hexdigest())

    def discard(self, upload_id: str, state: dict[str, Any]) -> None:
        self._hashes.forget(upload_id)
        shutil.rmtree(self._upload_dir(upload_id), ignore_errors=True)

    def upload_ids(self, untouched_since: float | None = None) -> list[str]:
        """Uploads that have bytes on disk (to sweep those with no session)."""
        names = os.listdir(self._uploads)
        if untouched_since is None:
            return names
        return [name for name in names if _changed_before(self._upload_dir(name), untouched_since)]

    # -- direct uploads --------------------------------------------------------------------
    def _parts_dir(self, upload_id: str) -> str:
        return os.path.join(self._upload_dir(upload_id), "parts")

    def signer(self) -> PartUrlSigner:
        # Built on first use: the v2 API alone never needs the key or the nonce database.
        with self._signer_lock:
            if self._signer is None:
                self._signer = PartUrlSigner(self.root)
            return self._signer

    def start_parts(self, upload_id: str) -> dict[str, Any]:
        make_private_dirs(self._parts_dir(upload_id))
        return {}

    def part_url(
        self,
        upload_id: str,
        state: dict[str, Any],
        number: int,
        expires_at: int,
        base_url: str,
        *,
        size: int,
    ) -> PartUrl:
        url = self.signer().url(base_url, upload_id, number, expires_at, size)
        return PartUrl(url, {"Content-Length": str(size)})

    def receive_part(
        self, upload_id: str, number: int, query: dict[str, str], body: BinaryIO, length: int | None
    ) -> str:
        if not upload_id.isalnum():
            raise PartDenied("the part URL names no upload")
        self.signer().check("PUT", upload_id, number, query, length)
        directory = self._parts_dir(upload_id)
        if not os.path.isdir(directory):
            raise FileNotFoundError(upload_id)
        temporary = os.path.join(directory, f"tmp-{secrets.token_hex(6)}")
        md5 = hashlib.md5(usedforsecurity=False)
        try:
            _copy_body(body, length, temporary, md5)
            prefix = f"p{number:05d}-"
            os.replace(temporary, os.path.join(directory, prefix + md5.hexdigest()))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        for name in os.listdir(directory):  # an earlier copy of the same part
            if name.startswith(prefix) and name != prefix + md5.hexdigest():
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(directory, name))
        return f'"{md5.hexdigest()}"'

    def received_parts(self, upload_id: str, state: dict[str, Any]) -> list[PartInfo]:
        directory = self._parts_dir(upload_id)
        try:
            names = sorted(n for n in os.listdir(directory) if n.startswith("p"))
        except FileNotFoundError:
            return []
        parts = {}
        for name in names:
            number, md5 = name[1:].split("-", 1)
            with contextlib.suppress(FileNotFoundError):
                size = os.path.getsize(os.path.join(directory, name))
                parts[int(number)] = PartInfo(int(number), f'"{md5}"', size)
        return [parts[n] for n in sorted(parts)]

    def complete_parts(
        self, upload_id: str, state: dict[str, Any], parts: list[tuple[int, str]]
    ) -> dict[str, Any]:
        held = {part.number: part for part in self.received_parts(upload_id, state)}
        files = []
        for number, etag in parts:
            part = held.get(number)
            if part is None or part.etag.strip('"') != etag.strip('"'):
                raise PartsInvalid(f"part {number} is missing or its ETag differs")
            files.append(f"p{number:05d}-{part.etag.strip(chr(34))}")
        # Joined while hashing in verify_parts: one pass over the bytes.
        return {**state, "files": files}

    def verify_parts(self, upload_id: str, state: dict[str, Any], digest: Digest) -> str:
        directory = self._parts_dir(upload_id)
        paths = [os.path.join(directory, name) for name in state.get("files", [])]
        joined, actual = self._join(upload_id, paths, digest.algorithm)
        if actual != digest:
            os.unlink(joined)
            raise DigestMismatch(actual)
        return self._place(joined, digest, upload_id)

    # -- blobs -----------------------------------------------------------------------------
    def body(self, blob: BlobRecord, offset: int, length: int) -> BlobBody:
        return BlobBody(path=self.file_of(blob), offset=offset, length=length)

    def remove(self, blob: BlobRecord) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.file_of(blob))

    def file_of(self, blob: BlobRecord) -> str:
        """The file holding the blob's bytes: its record's key, under the root."""
        if not blob.key:
            return self.blob_path(blob.digest)
        path = os.path.normpath(os.path.join(self.root, blob.key))
        if not path.startswith(self._blobs + os.sep):
            raise ValueError(f"blob key {blob.key!r} is not under blobs/")
        return path


def _copy_body(body: BinaryIO, length: int | None, path: str, hasher: Any) -> int:
    written = 0
    with os.fdopen(open_private(path), "wb") as out:
        for block in body_blocks(body, length, COPY_BLOCK):
            if hasher is not None:
                hasher.update(block)
            out.write(block)
            written += len(block)
    return written


def _changed_before(path: str, moment: float) -> bool:
    """Whether nothing under the directory `path` changed since `moment` (gone: True)."""
    try:
        times = [os.stat(path).st_mtime]
        for root, directories, files in os.walk(path):
            times += [os.stat(os.path.join(root, name)).st_mtime for name in directories + files]
    except FileNotFoundError:
        return True
    return max(times) < moment


def _hash_file(path: str, algorithm: str) -> Any:
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while block := handle.read(COPY_BLOCK):
            hasher.update(block)
    return hasher
