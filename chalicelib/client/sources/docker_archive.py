"""`docker-archive:PATH[:NAME]`: an image in a `docker save` tar, pushed as a Docker schema2
manifest. Both layouts docker writes are read: `<id>/layer.tar` (docker ≤ 24) and
`blobs/sha256/<hex>` (docker ≥ 25). Layers are uploaded from inside the tar, never extracted.

Layers in a `docker save` tar are uncompressed; they are compressed before the push (gzip by
default, see compress.py) unless the compression is `none`. With zstd the manifest is an OCI
one (Docker's schema2 has no zstd layer type every client knows); otherwise Docker schema2.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import tarfile
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..mediatypes import (
    DOCKER_CONFIG,
    DOCKER_LAYER_TAR,
    DOCKER_MANIFEST,
    OCI_FOR_DOCKER,
    OCI_MANIFEST,
    docker_layer_type,
)
from ..model import Blob, FileRange, Image, Manifest
from .compress import ZSTD, compress_layer


def split_archive_ref(text: str) -> tuple[Path, str | None]:
    """`PATH[:NAME]` → (PATH, NAME); the colon splits only if PATH alone is not a file."""
    path = Path(text)
    if path.exists() or ":" not in text:
        return path, None
    head, _, name = text.partition(":")
    return Path(head), name or None


def _lookup(tar: tarfile.TarFile, name: str) -> tarfile.TarInfo:
    """The member `name`, also when the tar was made with `./` prefixes (`tar -C dir .`)."""
    for candidate in (name, f"./{name}"):
        try:
            return tar.getmember(candidate)
        except KeyError:
            continue
    raise UsageError(f"{tar.name} has no member {name!r}: is it a `docker save` tar?")


def _member(tar: tarfile.TarFile, name: str) -> tarfile.TarInfo:
    for _ in range(16):  # follow docker's symlinks between duplicate layers
        info = _lookup(tar, posixpath.normpath(name))
        if info.issym():
            name = posixpath.join(posixpath.dirname(info.name), info.linkname)
        elif info.islnk():
            name = info.linkname
        else:
            return info
    raise UsageError(f"{tar.name}: too many links from {name!r}")


def _read(tar: tarfile.TarFile, name: str) -> bytes:
    handle = tar.extractfile(_member(tar, name))
    if handle is None:
        raise UsageError(f"{tar.name}: {name!r} is not a file")
    return handle.read()


def _pick(entries: list[dict[str, Any]], name: str | None, path: Path) -> dict[str, Any]:
    if name is None:
        if len(entries) != 1:
            raise UsageError(
                f"{path} holds {len(entries)} images: name one, docker-archive:PATH:NAME"
            )
        return entries[0]
    wanted = {name, f"{name}:latest", f"docker.io/{name}", f"docker.io/library/{name}"}
    for entry in entries:
        if wanted & set(entry.get("RepoTags") or []):
            return entry
    raise UsageError(f"{path} has no image named {name!r}")


def _hash_range(data: FileRange) -> str:
    digest = hashlib.sha256()
    for chunk in data.chunks():
        digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _layer(tar: tarfile.TarFile, path: Path, name: str, diff_id: str | None) -> Blob:
    info = _member(tar, name)
    data = FileRange(path, info.offset_data, info.size)
    with data.open_at(0) as handle:
        media_type = docker_layer_type(handle.read(4))
    parts = info.name.removeprefix("./").split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        digest = f"{parts[1]}:{parts[2]}"
    elif media_type == DOCKER_LAYER_TAR and diff_id:
        digest = diff_id  # an uncompressed layer's digest is its diff_id
    else:
        digest = _hash_range(data)
    return Blob(digest, info.size, media_type, data)


def _manifest(config: Blob, layers: list[Blob], oci: bool) -> Manifest:
    """A Docker schema2 manifest over the blobs, or an OCI one with the same blobs."""
    if oci:
        config, layers = _as_oci(config), [_as_oci(layer) for layer in layers]

    def descriptor(blob: Blob) -> dict[str, object]:
        return {"mediaType": blob.media_type, "size": blob.size, "digest": blob.digest}

    media_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
    doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": descriptor(config),
        "layers": [descriptor(layer) for layer in layers],
    }
    return Manifest(media_type, json.dumps(doc, indent=3).encode(), [config, *layers])


def _as_oci(blob: Blob) -> Blob:
    media_type = OCI_FOR_DOCKER.get(blob.media_type, blob.media_type)
    return Blob(blob.digest, blob.size, media_type, blob.data, blob.fetch)


def open_docker_archive(text: str, compression: str, spool: Path) -> Image:
    """The image in a `docker save` tar, its layers compressed with `compression`, as a schema2
    manifest (an OCI one for zstd) over its config and layers."""
    path, name = split_archive_ref(text)
    try:
        tar = tarfile.open(path, "r:")  # noqa: SIM115 (closed by the `with` below)
    except (OSError, tarfile.TarError) as exc:
        raise UsageError(f"cannot read the docker-archive {path}: {exc}") from exc
    with tar:
        entry = _pick(json.loads(_read(tar, "manifest.json")), name, path)
        config_bytes = _read(tar, entry["Config"])
        config_info = _member(tar, entry["Config"])
        config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        diff_ids = (json.loads(config_bytes).get("rootfs") or {}).get("diff_ids") or []
        layers = [
            _layer(tar, path, layer, diff_ids[i] if i < len(diff_ids) else None)
            for i, layer in enumerate(entry["Layers"])
        ]
    config_range = FileRange(path, config_info.offset_data, config_info.size)
    config = Blob(config_digest, len(config_bytes), DOCKER_CONFIG, config_range)
    done: dict[str, Blob] = {}  # a layer listed twice is compressed once
    for layer in layers:
        if layer.digest not in done:
            done[layer.digest] = compress_layer(layer, compression, spool)
    pushed = [done[layer.digest] for layer in layers]
    return Image([_manifest(config, pushed, oci=compression == ZSTD)])
