"""The image verbs against another registry: the reference registry (distribution 2.8, Debian's
docker-registry), which has no referrers API and does not delete tags. Referrers come from the
OCI tag schema's `sha256-<hex>` index, and `soute rm` of a tag says what works instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.images.artifacts import push_artifact, put_referrers_tag
from tests.images.runner import Soute, copy
from tests.support.clients import Skopeo
from tests.support.images import build_image, build_index
from tests.support.server import RegistryServer

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]

SIGNATURE = "application/vnd.example.signature"


def test_ls_tags_and_inspect(
    soute: Soute,
    reference_registry: RegistryServer,
    skopeo: Skopeo,
    tmp_path: Path,
    namespace: str,
) -> None:
    host = reference_registry.address
    built = build_index(tmp_path / "src", tag="v1")
    names = [f"{namespace}/a", f"{namespace}/b", f"{namespace}/c"]
    for name in names:
        copy(skopeo, built.ref, f"{host}/{name}:v1", "--all")
    listed = soute.ok("ls", f"{host}/{namespace}", "-n", "1", "--json").json()
    assert listed["repositories"] == names
    assert soute.ok("tags", f"{host}/{names[0]}", "--json").json()["tags"] == ["v1"]
    seen = soute.ok("inspect", f"{host}/{names[0]}:v1", "--json").json()
    assert seen["digest"] == built.index_digest
    assert [i["digest"] for i in seen["images"]] == [c.manifest_digest for c in built.children]
    assert seen["referrersSource"] == "none" and seen["referrers"] == []
    assert "no referrers API" in soute.ok("inspect", f"{host}/{names[0]}:v1").out


def test_rm_a_tag_is_refused_and_explained_then_rm_by_digest(
    soute: Soute,
    reference_registry: RegistryServer,
    skopeo: Skopeo,
    tmp_path: Path,
    namespace: str,
) -> None:
    image = build_image(tmp_path / "src", [1000], tag="v1")
    ref = f"{reference_registry.address}/{namespace}/app"
    copy(skopeo, image.ref, f"{ref}:v1")
    message = soute.fails(1, "rm", f"{ref}:v1")
    assert "does not delete tags" in message
    assert f"`soute rm {ref}@{image.manifest_digest}`" in message
    removed = soute.ok("rm", f"{ref}@{image.manifest_digest}", "--json").json()
    assert [d["kind"] for d in removed["deleted"]] == ["manifest"]
    assert "not found" in soute.fails(5, "inspect", f"{ref}:v1")
    assert "not found" in soute.fails(5, "inspect", f"{ref}@{image.manifest_digest}")


def test_referrers_from_the_tag_schema_and_rm_referrers(
    soute: Soute,
    reference_registry: RegistryServer,
    skopeo: Skopeo,
    tmp_path: Path,
    namespace: str,
) -> None:
    image = build_image(tmp_path / "src", [1000], tag="v1")
    name = f"{namespace}/signed"
    ref = f"{reference_registry.address}/{name}"
    copy(skopeo, image.ref, f"{ref}:v1")
    signature = push_artifact(reference_registry.url, name, image.manifest_digest, SIGNATURE)
    index = put_referrers_tag(reference_registry.url, name, image.manifest_digest, [signature])
    seen = soute.ok("inspect", f"{ref}:v1", "--json").json()
    assert seen["referrersSource"] == "tag"
    assert [r["digest"] for r in seen["referrers"]] == [signature["digest"]]
    removed = soute.ok("rm", f"{ref}@{image.manifest_digest}", "--referrers", "--json").json()
    assert [(d["kind"], d["digest"]) for d in removed["deleted"]] == [
        ("referrers index", index),
        ("referrer", signature["digest"]),
        ("manifest", image.manifest_digest),
    ]
    for gone in (image.manifest_digest, signature["digest"], index):
        assert "not found" in soute.fails(5, "inspect", f"{ref}@{gone}")
