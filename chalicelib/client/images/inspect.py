"""`soute inspect HOST/REPO[:TAG|@DIGEST]`: what a manifest holds, as one JSON-ready document:
an index's platforms, and for each image its layers (sizes, media types), total size, config
(created, env, entrypoint, cmd, labels), annotations, and the referrers of the manifest."""

from __future__ import annotations

from typing import Any

from ..mediatypes import DOCKER_CONFIG
from ..session import RegistrySession
from .api import Manifest, get_blob_json, get_manifest, referrers
from .progress import Counter
from .targets import Reference

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
IMAGE_CONFIGS = (OCI_CONFIG, DOCKER_CONFIG)


def platform_name(platform: Any) -> str:
    """`os/architecture[/variant]`, or "" when the descriptor names no platform."""
    if not isinstance(platform, dict) or not platform.get("os"):
        return ""
    parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
    return "/".join(str(part) for part in parts if part)


def _descriptor(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "digest": entry.get("digest"),
        "mediaType": entry.get("mediaType"),
        "size": entry.get("size"),
        **({"artifactType": entry["artifactType"]} if entry.get("artifactType") else {}),
        **({"annotations": entry["annotations"]} if entry.get("annotations") else {}),
    }


def _config_summary(config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        return {}
    runtime = config.get("config") if isinstance(config.get("config"), dict) else {}
    return {
        "created": config.get("created"),
        "platform": platform_name(config),
        "env": runtime.get("Env") or [],
        "entrypoint": runtime.get("Entrypoint") or [],
        "cmd": runtime.get("Cmd") or [],
        "workingDir": runtime.get("WorkingDir") or "",
        "user": runtime.get("User") or "",
        "labels": runtime.get("Labels") or {},
    }


def _image(session: RegistrySession, ref: Reference, manifest: Manifest, platform: str) -> dict:
    """One image (or artifact) manifest: its layers, total size and config."""
    document = manifest.document
    config = document.get("config") if isinstance(document.get("config"), dict) else {}
    layers = [_descriptor(layer) for layer in document.get("layers") or []]
    result: dict[str, Any] = {
        "digest": manifest.digest,
        "mediaType": manifest.media_type,
        "platform": platform,
        "config": {"digest": config.get("digest"), "mediaType": config.get("mediaType")},
        "layers": layers,
        "totalSize": int(config.get("size") or 0) + sum(int(x["size"] or 0) for x in layers),
        "annotations": document.get("annotations") or {},
    }
    if document.get("artifactType"):
        result["artifactType"] = document["artifactType"]
    if config.get("mediaType") in IMAGE_CONFIGS and config.get("digest"):
        name = ref.repository.name
        summary = _config_summary(get_blob_json(session, name, config["digest"], str(ref)))
        result["config"].update(summary)
        result["platform"] = platform or summary.get("platform", "")
    return result


def _platforms(index: dict[str, Any]) -> list[dict[str, Any]]:
    entries = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
    return [{"platform": platform_name(m.get("platform")), **_descriptor(m)} for m in entries]


def _children(
    session: RegistrySession, ref: Reference, platforms: list[dict[str, Any]], progress: bool
) -> list[dict[str, Any]]:
    images = []
    with Counter(f"manifests of {ref}", progress) as count:
        for entry in platforms:
            child = ref.at(str(entry["digest"]))
            manifest = get_manifest(session, ref.repository.name, child.reference, str(child))
            if "layers" in manifest.document:  # an image, not a nested index
                images.append(_image(session, child, manifest, entry["platform"]))
            count.add(1)
    return images


def inspect(session: RegistrySession, ref: Reference, progress: bool) -> dict[str, Any]:
    """Everything `soute inspect` shows about `ref`, as JSON-ready values."""
    top = get_manifest(session, ref.repository.name, ref.reference, str(ref))
    document = top.document
    result: dict[str, Any] = {
        "reference": str(ref),
        "digest": top.digest,
        "mediaType": top.media_type,
        "size": top.size,
        "annotations": document.get("annotations") or {},
    }
    if isinstance(document.get("manifests"), list):
        result["kind"] = "index"
        result["platforms"] = _platforms(document)
        result["images"] = _children(session, ref, result["platforms"], progress)
    else:
        image = _image(session, ref, top, "")
        is_image = image["config"].get("mediaType") in IMAGE_CONFIGS
        result["kind"] = "image" if is_image and "artifactType" not in image else "artifact"
        result["images"] = [image]
    if isinstance(document.get("subject"), dict):
        result["subject"] = _descriptor(document["subject"])
    found, source = referrers(session, ref.repository.name, top.digest, str(ref))
    result["referrers"] = [_descriptor(entry) for entry in found]
    result["referrersSource"] = source
    return result
