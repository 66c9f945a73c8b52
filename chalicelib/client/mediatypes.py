"""Media types the client writes or recognises: the manifest types are the registry's own
(`oci/mediatypes.py`), the config and layer types are the client's alone."""

from __future__ import annotations

from ..oci.mediatypes import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST

DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
# Docker's schema2 has no zstd layer type that every client knows: an image with zstd layers
# is pushed as an OCI manifest, as BuildKit does (`compression=zstd` implies OCI media types).
OCI_FOR_DOCKER = {
    DOCKER_CONFIG: OCI_CONFIG,
    DOCKER_LAYER_TAR: OCI_LAYER_TAR,
    DOCKER_LAYER_GZIP: OCI_LAYER_GZIP,
    DOCKER_LAYER_ZSTD: OCI_LAYER_ZSTD,
}

# Ordered, unlike the registry's sets: the Accept header lists them in this order.
INDEXES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((*MANIFESTS, *INDEXES))

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def docker_layer_type(head: bytes) -> str:
    """The schema2 layer media type for a layer file that starts with `head`."""
    if head.startswith(GZIP_MAGIC):
        return DOCKER_LAYER_GZIP
    if head.startswith(ZSTD_MAGIC):
        return DOCKER_LAYER_ZSTD
    return DOCKER_LAYER_TAR
