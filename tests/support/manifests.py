"""Image manifests as the tests and benches write them: a config and layers, their
descriptors, and a push through the registry service (blobs uploaded whole, then the
manifest)."""

from __future__ import annotations

import hashlib
import io
import json

from chalicelib.registry.service import Registry
from chalicelib.storage.ports import ManifestRecord

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def descriptor(media_type: str, data: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data)}


def manifest_body(config: bytes, layers: list[bytes]) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", x) for x in layers],
    }
    return json.dumps(document).encode()


def push_image(
    registry: Registry, repository: str, tag: str, config: bytes, layers: list[bytes]
) -> ManifestRecord:
    """Upload the config and layers whole, then store the manifest under `tag`."""
    for blob in (config, *layers):
        registry.uploads.upload_whole(repository, sha256(blob), io.BytesIO(blob), len(blob))
    record, _ = registry.manifests.put(repository, tag, manifest_body(config, layers), OCI_MANIFEST)
    return record
