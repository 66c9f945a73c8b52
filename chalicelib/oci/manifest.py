"""Parsing and validation of image manifests and indexes (Docker schema2 and OCI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import jsondoc
from . import mediatypes as mt
from .digest import Digest, parse_digest
from .errors import OCIError

MAX_MANIFEST_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None
    distributable: bool = True


@dataclass(frozen=True)
class Manifest:
    """What the registry needs to know about a manifest it is asked to store."""

    media_type: str
    blobs: tuple[Descriptor, ...] = ()  # config and layers that must be in the repository
    children: tuple[Descriptor, ...] = ()  # manifests an index points at
    subject: Descriptor | None = None
    artifact_type: str | None = None  # as the referrers API reports it
    annotations: dict[str, str] = field(default_factory=dict)


def _invalid(message: str) -> OCIError:
    return OCIError("MANIFEST_INVALID", message)


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be a descriptor object")
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        raise _invalid(f"{where}.mediaType must be a non-empty string")
    size = value.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise _invalid(f"{where}.size must be a non-negative integer")
    raw_digest = value.get("digest")
    if not isinstance(raw_digest, str):
        raise _invalid(f"{where}.digest must be a string")
    try:
        digest = parse_digest(raw_digest)
    except OCIError as error:
        raise _invalid(f"{where}.digest: {error.message}") from None
    artifact_type = value.get("artifactType")
    annotations = value.get("annotations")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        artifact_type=artifact_type if isinstance(artifact_type, str) else None,
        annotations=annotations if isinstance(annotations, dict) else None,
        distributable=media_type not in mt.NON_DISTRIBUTABLE_LAYERS,
    )


def _descriptor_list(document: dict[str, Any], key: str, required: bool) -> tuple[Descriptor, ...]:
    value = document.get(key)
    if value is None and not required:
        return ()
    if not isinstance(value, list):
        raise _invalid(f"{key} must be a list of descriptors")
    return tuple(_descriptor(item, f"{key}[{i}]") for i, item in enumerate(value))


def _media_type(document: dict[str, Any], content_type: str | None) -> str:
    declared = content_type.split(";")[0].strip().lower() if content_type else ""
    in_body = document.get("mediaType")
    if in_body is not None and not isinstance(in_body, str):
        raise _invalid("mediaType must be a string")
    if declared in mt.MANIFESTS:
        if in_body and in_body != declared:
            raise _invalid(
                f"Content-Type {declared} does not match the manifest's mediaType {in_body}"
            )
        return declared
    if declared in mt.DOCKER_SCHEMA1 or in_body in mt.DOCKER_SCHEMA1:
        raise _invalid("Docker schema1 manifests are not supported; push schema2 or OCI")
    if in_body in mt.MANIFESTS:
        return in_body
    if declared and declared not in ("application/json", mt.OCTET_STREAM):
        supported = ", ".join(sorted(mt.MANIFESTS))
        raise _invalid(f"unsupported manifest media type {declared}; use one of {supported}")
    # No usable declaration: OCI manifests may omit mediaType.
    if "manifests" in document:
        return mt.OCI_INDEX
    if "config" in document:
        return mt.OCI_MANIFEST
    raise _invalid("cannot tell the manifest's media type: set Content-Type or mediaType")


def parse_manifest(body: bytes, content_type: str | None) -> Manifest:
    if len(body) > MAX_MANIFEST_BYTES:
        raise OCIError(
            "SIZE_INVALID",
            f"manifest is {len(body)} bytes; the limit is {MAX_MANIFEST_BYTES} bytes",
            status=413,
        )
    try:
        document = jsondoc.loads(body)
    except jsondoc.NestedTooDeep as error:
        raise _invalid(f"manifest body: {error}") from None
    except ValueError:  # UnicodeDecodeError too
        raise _invalid("manifest body is not valid JSON") from None
    if not isinstance(document, dict):
        raise _invalid("manifest must be a JSON object")
    if document.get("schemaVersion") == 1:
        raise _invalid("Docker schema1 manifests are not supported; push schema2 or OCI")
    if document.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    media_type = _media_type(document, content_type)
    subject = document.get("subject")
    parsed_subject = _descriptor(subject, "subject") if subject is not None else None
    artifact_type = document.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _invalid("artifactType must be a string")
    annotations = document.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        raise _invalid("annotations must be an object")
    common = {
        "media_type": media_type,
        "subject": parsed_subject,
        "annotations": annotations or {},
    }
    if media_type in mt.INDEXES:
        children = _descriptor_list(document, "manifests", required=True)
        return Manifest(children=children, artifact_type=artifact_type, **common)
    config = _descriptor(document.get("config"), "config")
    layers = _descriptor_list(document, "layers", required=True)
    blobs = (config, *(layer for layer in layers if layer.distributable))
    return Manifest(blobs=blobs, artifact_type=artifact_type or config.media_type, **common)
