"""Quotas through a real client and the real commands, on both backends: skopeo pushes an image
to a running `soute serve` of this module's own; `soute quota set` (a wrong size refused in one
line) counts it; a second image that would pass the quota is refused with the message skopeo
prints (the quota, the use, what it adds, what to do) and is not stored, and the usage API and
`soute du` show the namespace's quota and use; a retag and a copy to another repository of the
namespace cost nothing; deleting the images with `skopeo delete` gives the room back at once,
and the refused image then goes in."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from chalicelib.oci.sizes import human_size
from chalicelib.server.backends import BackendOptions
from tests.support.clients import Skopeo
from tests.support.images import OciImage, assert_same_blobs, build_image
from tests.support.lambda_server import admin_arguments, storage_arguments
from tests.support.procs import run
from tests.support.server import RegistryServer, default_soute

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]

QUOTA = 100_000  # bytes: the first image fits, both do not


def _blob_bytes(image: OciImage) -> int:
    return image.config.size + sum(layer.size for layer in image.layers)


def test_a_push_past_the_namespace_quota_is_refused_until_images_are_deleted(
    served_registry: tuple[RegistryServer, BackendOptions], skopeo: Skopeo, tmp_path: Path
) -> None:
    server, options = served_registry
    admin = admin_arguments(options)

    def soute(*args: str):  # type: ignore[no-untyped-def]
        return run([default_soute(), *args, *admin], timeout=120, check=False)

    registry = f"docker://{server.address}"
    first = build_image(tmp_path / "first", [40 * 1024], tag="v1")
    second = build_image(tmp_path / "second", [60 * 1024], tag="v1")
    assert _blob_bytes(first) < QUOTA < _blob_bytes(first) + _blob_bytes(second)
    skopeo.copy(first.ref, f"{registry}/acme/app:v1", "--preserve-digests")

    wrong = soute("quota", "set", "acme", "100 kilobytes")
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    said = [line for line in wrong.stderr.splitlines() if line.startswith("soute quota:")]
    assert len(said) == 1 and said[0].startswith("soute quota: '100 kilobytes' is not a size")
    assert soute("quota", "set", "acme/app", "100kB").returncode == 1  # namespaces only
    stored = soute("quota", "set", "acme", "100kB")
    assert stored.returncode == 0, stored.stderr
    used = _blob_bytes(first)
    assert f"quota 100.0 kB ({QUOTA} bytes), used" in stored.stdout
    assert f"({used} bytes," in stored.stdout  # the image pushed before the quota counts

    refused = skopeo.run(
        "copy",
        "--dest-tls-verify=false",
        "--preserve-digests",
        second.ref,
        f"{registry}/acme/web:v1",
        check=False,
    )
    assert refused.returncode != 0, "a push passed the quota"
    expected = (
        f"denied: namespace acme is over its quota: this image adds"
        f" {human_size(_blob_bytes(second))} of blobs acme does not hold yet to the"
        f" {human_size(used)} it stores, and its quota is 100.0 kB; delete images of acme it"
        " no longer needs"
    )
    assert expected in refused.stderr, refused.stderr
    assert "soute quota set acme SIZE" in refused.stderr
    missing = skopeo.run("inspect", "--tls-verify=false", f"{registry}/acme/web:v1", check=False)
    assert missing.returncode != 0  # nothing of the refused image is stored
    usage = requests.get(
        f"http://{server.address}/v2/_soute/usage", params={"repository": "acme/app"}, timeout=30
    )
    assert usage.status_code == 200, usage.text
    assert usage.json()["namespace_quota"] == {
        "namespace": "acme",
        "quota_bytes": QUOTA,
        "used_bytes": used,
    }
    du = run([default_soute(), "du", "acme", *storage_arguments(options)], timeout=120)
    assert f"namespace acme: quota 100.0 kB, its images' distinct blobs use {human_size(used)}" in (
        du.stdout
    )

    # What the namespace holds already costs nothing: a retag, a copy to another repository.
    skopeo.copy(f"{registry}/acme/app:v1", f"{registry}/acme/app:v2")
    skopeo.copy(f"{registry}/acme/app:v1", f"{registry}/acme/mirror:v1")
    shown = soute("quota", "get", "acme")
    assert shown.returncode == 0 and f"({used} bytes," in shown.stdout, shown.stdout

    skopeo.run("delete", "--tls-verify=false", f"{registry}/acme/app:v1")
    assert f"({used} bytes," in soute("quota", "get", "acme").stdout  # the mirror uses them
    skopeo.run("delete", "--tls-verify=false", f"{registry}/acme/mirror:v1")
    assert "used 0 B (0 bytes, 0%)" in soute("quota", "get", "acme").stdout

    skopeo.copy(second.ref, f"{registry}/acme/web:v1", "--preserve-digests")
    back = tmp_path / "back"
    skopeo.copy(f"{registry}/acme/web:v1", f"oci:{back}:v1")
    assert_same_blobs(second.layout, back)
    listed = soute("quota", "list")
    assert f"acme: quota 100.0 kB ({QUOTA} bytes), used" in listed.stdout
    assert soute("quota", "rm", "acme").returncode == 0
    assert "acme: no quota" in soute("quota", "get", "acme").stdout
