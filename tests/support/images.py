"""Test images built in pure Python, with no network: OCI image layouts on disk.

An OCI image layout is a directory holding ``oci-layout``, ``index.json`` and
``blobs/sha256/<hex>``; skopeo, podman and ``ctr images import`` read it (``oci:DIR:TAG``).
Layer contents are random bytes from ``os.urandom``, so they are incompressible: a layer of
50 MB really sends about 50 MB over the wire, and every build is unique (two tests never share
a blob by accident).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

MiB = 1024 * 1024

# Deflating random bytes gains nothing and costs about 30 ms per MiB; store big layers (a gzip
# stream of "stored" blocks is still a valid gzip stream), deflate the small ones for realism.
_STORE_ABOVE = 1 * MiB
_EPOCH = 1_700_000_000


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor: what a manifest says about one blob."""

    media_type: str
    digest: str
    size: int

    def to_json(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass
class OciImage:
    """One single-platform image written to an OCI layout."""

    layout: Path
    tag: str
    manifest: bytes
    manifest_digest: str
    config: Descriptor
    layers: list[Descriptor]
    diff_ids: list[str]
    platform: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """The skopeo/podman name of this image: ``oci:DIR:TAG``."""
        return f"oci:{self.layout}:{self.tag}"

    @property
    def blob_digests(self) -> list[str]:
        """Config and layer digests (not the manifest's)."""
        return [self.config.digest, *(layer.digest for layer in self.layers)]

    def blob_path(self, digest: str) -> Path:
        return blob_path(self.layout, digest)


@dataclass
class OciIndexImage:
    """A multi-platform image (an OCI image index and its children) in an OCI layout."""

    layout: Path
    tag: str
    index: bytes
    index_digest: str
    children: list[OciImage]

    @property
    def ref(self) -> str:
        return f"oci:{self.layout}:{self.tag}"


def host_architecture() -> str:
    """This machine's architecture in OCI terms (amd64, arm64...): the default for test images,
    so that clients which match platforms (containerd's unpack) accept them."""
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


def sha256_digest(data: bytes) -> str:
    """The ``sha256:<hex>`` digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob_path(layout: Path, digest: str) -> Path:
    """Where an OCI layout keeps the blob with this digest."""
    algorithm, _, hex_ = digest.partition(":")
    return layout / "blobs" / algorithm / hex_


def canonical_json(value: object) -> bytes:
    """Compact, key-sorted JSON: the bytes that get hashed and pushed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _write_blob(layout: Path, data: bytes) -> str:
    digest = sha256_digest(data)
    path = blob_path(layout, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(data)
    return digest


def _init_layout(layout: Path) -> None:
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')


def _write_index_json(layout: Path, media_type: str, digest: str, size: int, tag: str) -> None:
    """Write the layout's index.json: one entry, `digest` (`size` bytes) tagged `tag`."""
    manifests = [
        {
            "mediaType": media_type,
            "digest": digest,
            "size": size,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
    ]
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    (layout / "index.json").write_bytes(canonical_json(index))


def _tar_member(tar: tarfile.TarFile, name: str, data: bytes | None) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = _EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    if data is None:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
    else:
        info.mode = 0o644
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def make_layer(index: int, size: int) -> tuple[bytes, str]:
    """One gzip'd layer tar holding ``size`` random bytes; returns (blob, diff_id)."""
    directory = f"soute-layer-{index}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _tar_member(tar, directory, None)
        _tar_member(tar, f"{directory}/README", f"layer {index}, {size} bytes\n".encode())
        _tar_member(tar, f"{directory}/random.bin", os.urandom(size))
    raw = buffer.getvalue()
    level = 0 if size > _STORE_ABOVE else 6
    blob = gzip.compress(raw, compresslevel=level, mtime=0)
    return blob, sha256_digest(raw)


def _write_image(
    layout: Path,
    layer_sizes: Sequence[int],
    os_name: str,
    architecture: str,
) -> tuple[bytes, str, Descriptor, list[Descriptor], list[str]]:
    layers: list[Descriptor] = []
    diff_ids: list[str] = []
    for index, size in enumerate(layer_sizes):
        blob, diff_id = make_layer(index, size)
        layers.append(Descriptor(OCI_LAYER_GZIP, _write_blob(layout, blob), len(blob)))
        diff_ids.append(diff_id)
        del blob
    config_doc: dict[str, object] = {
        "architecture": architecture,
        "os": os_name,
        "created": "2023-11-14T22:13:20Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/true"],
            "Labels": {"org.soute.test.nonce": os.urandom(8).hex()},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": "2023-11-14T22:13:20Z", "created_by": f"soute test layer {i}"}
            for i in range(len(layer_sizes))
        ],
    }
    config = canonical_json(config_doc)
    config_desc = Descriptor(OCI_CONFIG, _write_blob(layout, config), len(config))
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_desc.to_json(),
            "layers": [layer.to_json() for layer in layers],
        }
    )
    return manifest, _write_blob(layout, manifest), config_desc, layers, diff_ids


def build_image(
    layout: Path,
    layer_sizes: Sequence[int],
    tag: str = "latest",
    os_name: str = "linux",
    architecture: str | None = None,
) -> OciImage:
    """Write a single-platform image with one layer per size to the OCI layout ``layout``.

    Each size is the number of random bytes in the layer's file; the gzip'd layer blob is
    slightly bigger (tar headers). Returns the digests of everything written.
    """
    architecture = architecture or host_architecture()
    _init_layout(layout)
    manifest, digest, config, layers, diff_ids = _write_image(
        layout, layer_sizes, os_name, architecture
    )
    _write_index_json(layout, OCI_MANIFEST, digest, len(manifest), tag)
    return OciImage(
        layout=layout,
        tag=tag,
        manifest=manifest,
        manifest_digest=digest,
        config=config,
        layers=layers,
        diff_ids=diff_ids,
        platform={"os": os_name, "architecture": architecture},
    )


def build_index(
    layout: Path,
    tag: str = "latest",
    platforms: Sequence[tuple[str, str]] = (("linux", "amd64"), ("linux", "arm64")),
    layer_sizes: Sequence[int] = (64 * 1024, 4 * 1024),
) -> OciIndexImage:
    """Write a multi-platform image: an OCI index with one child image per (os, architecture).

    Children have their own (random) layers and configs. Returns the index digest and each
    child's digests.
    """
    _init_layout(layout)
    children: list[OciImage] = []
    entries: list[dict[str, object]] = []
    for os_name, architecture in platforms:
        manifest, digest, config, layers, diff_ids = _write_image(
            layout, layer_sizes, os_name, architecture
        )
        platform = {"os": os_name, "architecture": architecture}
        children.append(
            OciImage(
                layout=layout,
                tag="",
                manifest=manifest,
                manifest_digest=digest,
                config=config,
                layers=layers,
                diff_ids=diff_ids,
                platform=platform,
            )
        )
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": len(manifest),
                "platform": platform,
            }
        )
    index = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    index_digest = _write_blob(layout, index)
    _write_index_json(layout, OCI_INDEX, index_digest, len(index), tag)
    return OciIndexImage(
        layout=layout, tag=tag, index=index, index_digest=index_digest, children=children
    )


def write_oci_archive(layout: Path, archive: Path) -> Path:
    """Tar an OCI layout (what ``ctr images import`` and ``oci-archive:`` read)."""
    with tarfile.open(archive, "w") as tar:
        for path in sorted(layout.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(layout)), recursive=False)
    return archive


def layout_blobs(layout: Path) -> dict[str, Path]:
    """Every blob of an OCI layout, by digest."""
    root = layout / "blobs"
    return {f"{path.parent.name}:{path.name}": path for path in root.glob("*/*") if path.is_file()}


def assert_same_blobs(original: Path, copy: Path) -> None:
    """Both OCI layouts hold exactly the same blobs, byte for byte."""
    want = layout_blobs(original)
    got = layout_blobs(copy)
    assert sorted(got) == sorted(want), (
        f"the layouts hold different blobs: only in {original}: {sorted(set(want) - set(got))}, "
        f"only in {copy}: {sorted(set(got) - set(want))}"
    )
    for digest, path in got.items():
        data = path.read_bytes()
        assert sha256_digest(data) == digest, f"blob {digest} in {copy} does not hash to its name"
        assert data == want[digest].read_bytes(), f"blob {digest} differs"


def read_layout_ref(layout: Path, tag: str) -> dict[str, object]:
    """The descriptor that an OCI layout's ``index.json`` holds for ``tag``."""
    index = json.loads((layout / "index.json").read_bytes())
    for entry in index.get("manifests", []):
        annotations = entry.get("annotations") or {}
        if annotations.get("org.opencontainers.image.ref.name") == tag:
            found: dict[str, object] = entry
            return found
    raise KeyError(f"no manifest tagged {tag!r} in {layout / 'index.json'}")
