"""`oci:DIR[:TAG]`: an image, or a whole multi-platform index, in an OCI image layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..mediatypes import INDEXES
from ..model import Blob, FileRange, Image, Manifest

REF_NAME = "org.opencontainers.image.ref.name"


def split_layout_ref(text: str) -> tuple[Path, str | None]:
    """`DIR[:TAG]` → (DIR, TAG); a colon is a tag separator only if DIR alone is no layout."""
    path = Path(text)
    if (path / "index.json").exists() or ":" not in text:
        return path, None
    directory, _, tag = text.rpartition(":")
    return Path(directory), tag or None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise UsageError(f"{path} does not exist: is this an OCI image layout?") from exc
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc


def _blob_path(layout: Path, digest: str) -> Path:
    algorithm, _, hex_ = digest.partition(":")
    return layout / "blobs" / algorithm / hex_


def _pick(layout: Path, tag: str | None) -> dict[str, Any]:
    entries = _read_json(layout / "index.json").get("manifests") or []
    if tag is None:
        if len(entries) != 1:
            raise UsageError(f"{layout} holds {len(entries)} images: name one with oci:DIR:TAG")
        return dict(entries[0])
    for entry in entries:
        if (entry.get("annotations") or {}).get(REF_NAME) == tag:
            return dict(entry)
    raise UsageError(f"{layout}/index.json has no image tagged {tag!r}")


def _blob(layout: Path, descriptor: dict[str, Any]) -> Blob | None:
    path = _blob_path(layout, descriptor["digest"])
    if not path.is_file():
        if "nondistributable" in descriptor.get("mediaType", ""):
            return None
        raise UsageError(f"{layout} lacks blob {descriptor['digest']} ({path})")
    size = int(descriptor["size"])
    return Blob(descriptor["digest"], size, descriptor["mediaType"], FileRange(path, 0, size))


def _manifests(layout: Path, descriptor: dict[str, Any]) -> list[Manifest]:
    path = _blob_path(layout, descriptor["digest"])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{layout} lacks manifest {descriptor['digest']} ({path})") from exc
    doc = json.loads(data)
    media_type = descriptor.get("mediaType") or doc.get("mediaType")
    if media_type in INDEXES:
        children = [m for child in doc.get("manifests", []) for m in _manifests(layout, child)]
        return [*children, Manifest(media_type, data)]
    descriptors = [doc["config"], *doc.get("layers", [])]
    blobs = [b for d in descriptors if (b := _blob(layout, d)) is not None]
    return [Manifest(media_type, data, blobs)]


def open_oci_layout(text: str) -> Image:
    """The image `DIR[:TAG]` names; an index comes with all its children, children first."""
    layout, tag = split_layout_ref(text)
    return Image(_manifests(layout, _pick(layout, tag)))
