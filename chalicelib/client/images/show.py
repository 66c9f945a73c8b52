"""What `soute inspect` prints for people, from the document that `--json` prints whole."""

from __future__ import annotations

from typing import Any

from ...oci.sizes import human_size
from .render import Output

SOURCES = {
    "api": "referrers API",
    "tag": "sha256-<hex> tag: this registry has no referrers API",
    "none": "this registry has no referrers API and no sha256-<hex> referrers tag",
}


def _words(values: Any) -> str:
    return " ".join(str(v) for v in values) if isinstance(values, list) else str(values or "")


def _pairs(mapping: Any) -> list[list[str]]:
    return [[str(k), str(v)] for k, v in sorted((mapping or {}).items())]


def _annotations(out: Output, title: str, mapping: Any, indent: int = 0) -> None:
    if mapping:
        out.line(" " * indent + title)
        out.table(None, _pairs(mapping), indent + 2)


def _image(out: Output, image: dict[str, Any]) -> None:
    config = image.get("config") or {}
    label = image.get("platform") or image.get("artifactType") or ""
    out.line(f"{'image' if 'created' in config else 'manifest'} {label} {image['digest']}".strip())
    rows = [["media type", str(image.get("mediaType"))]]
    if image.get("artifactType"):
        rows.append(["artifact type", str(image["artifactType"])])
    rows.append(["config", f"{config.get('digest')} ({config.get('mediaType')})"])
    if "created" in config:
        rows += [
            ["created", str(config.get("created") or "")],
            ["entrypoint", _words(config.get("entrypoint"))],
            ["cmd", _words(config.get("cmd"))],
        ]
        rows += [["working dir", config["workingDir"]]] if config.get("workingDir") else []
        rows += [["user", config["user"]]] if config.get("user") else []
        rows += [["env", entry] for entry in config.get("env") or []]
        rows += [["label", f"{k}={v}"] for k, v in sorted((config.get("labels") or {}).items())]
    layers = image.get("layers") or []
    rows.append(
        [
            "total size",
            f"{human_size(image.get('totalSize'))} (config and "
            f"{len(layers)} layer{'s' if len(layers) != 1 else ''})",
        ]
    )
    out.table(None, rows, 2)
    if layers:
        heads = ["LAYER", "MEDIA TYPE", "SIZE"]
        body = [[str(x["digest"]), str(x["mediaType"]), human_size(x["size"])] for x in layers]
        out.table(heads, body, 2)
    _annotations(out, "annotations", image.get("annotations"), 2)


def _referrers(out: Output, result: dict[str, Any]) -> None:
    found = result.get("referrers") or []
    source = SOURCES.get(result.get("referrersSource", ""), "")
    out.line(f"referrers: {len(found)} ({source})")
    if found:
        rows = [
            [
                str(r.get("digest")),
                str(r.get("artifactType") or r.get("mediaType")),
                human_size(r.get("size")),
                ", ".join(f"{k}={v}" for k, v in sorted((r.get("annotations") or {}).items())),
            ]
            for r in found
        ]
        out.table(["REFERRER", "ARTIFACT TYPE", "SIZE", "ANNOTATIONS"], rows, 2)


def show_inspection(out: Output, result: dict[str, Any]) -> None:
    """Print an inspection: the manifest, its platforms, each image, its referrers."""
    head = [
        ["reference", result["reference"]],
        ["digest", result["digest"]],
        ["media type", result["mediaType"]],
        ["kind", result["kind"]],
    ]
    if result.get("subject"):
        head.append(["subject", str(result["subject"].get("digest"))])
    out.table(None, head)
    _annotations(out, "annotations", result.get("annotations"))
    if result["kind"] == "index":
        rows = [
            [p["platform"] or "-", str(p["digest"]), str(p["mediaType"]), human_size(p["size"])]
            for p in result["platforms"]
        ]
        out.line()
        out.table(["PLATFORM", "DIGEST", "MEDIA TYPE", "SIZE"], rows)
    for image in result.get("images") or []:
        out.line()
        _image(out, image)
    out.line()
    _referrers(out, result)
