"""`soute ls`, `tags`, `inspect` and `rm` against a running `soute serve`, with images put there
by skopeo and artifacts (a subject's referrers) by plain HTTP; every answer checked through
`--json` and the human columns, and every wrong input a one-line message and its exit code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.images.artifacts import push_artifact, tag
from tests.images.runner import Soute, copy
from tests.support.clients import Skopeo
from tests.support.images import build_image, build_index
from tests.support.server import RegistryServer, free_port

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]

SBOM = "application/vnd.example.sbom"


def test_ls_follows_every_page_and_keeps_to_the_namespace(
    soute: Soute, soute_server: RegistryServer, skopeo: Skopeo, tmp_path: Path, namespace: str
) -> None:
    image = build_image(tmp_path / "src", [1000], tag="v1")
    names = [f"{namespace}/app{i}" for i in range(5)]
    for name in [*names, f"{namespace}x/other"]:  # a longer namespace with the same prefix
        copy(skopeo, image.ref, f"{soute_server.address}/{name}:v1")
    host = soute_server.address
    listed = soute.ok("ls", f"{host}/{namespace}", "-n", "2", "--json").json()
    assert listed == {"registry": host, "namespace": namespace, "repositories": names}
    assert soute.ok("ls", f"{host}/{namespace}", "-n", "2").out.splitlines() == names
    followed = re.findall(r"GET /v2/_catalog\?(\S*)", soute_server.log_tail(400))
    assert any("last=" in query and "n=2" in query for query in followed), followed
    everything = soute.ok("ls", host, "--json").json()["repositories"]
    assert set(names) | {f"{namespace}x/other"} <= set(everything)


def test_tags_follows_every_page(
    soute: Soute, soute_server: RegistryServer, skopeo: Skopeo, tmp_path: Path, namespace: str
) -> None:
    image = build_image(tmp_path / "src", [1000], tag="v1")
    repo = f"{soute_server.address}/{namespace}/tagged"
    copy(skopeo, image.ref, f"{repo}:v1")
    more = [f"v{i}" for i in range(2, 8)]
    tag(soute_server.url, f"{namespace}/tagged", "v1", *more)
    listed = soute.ok("tags", repo, "--page-size", "3", "--json").json()
    assert listed == {"repository": repo, "tags": sorted(["v1", *more])}
    assert soute.ok("tags", repo, "-n", "3").out.splitlines() == sorted(["v1", *more])


def test_inspect_an_index_shows_platforms_layers_and_config(
    soute: Soute, soute_server: RegistryServer, skopeo: Skopeo, tmp_path: Path, namespace: str
) -> None:
    built = build_index(tmp_path / "src", tag="v1")
    ref = f"{soute_server.address}/{namespace}/multi:v1"
    copy(skopeo, built.ref, ref, "--all")
    seen = soute.ok("inspect", ref, "--json").json()
    assert seen["digest"] == built.index_digest
    assert seen["kind"] == "index"
    assert [p["platform"] for p in seen["platforms"]] == ["linux/amd64", "linux/arm64"]
    assert [p["digest"] for p in seen["platforms"]] == [c.manifest_digest for c in built.children]
    for child, image in zip(built.children, seen["images"], strict=True):
        assert image["digest"] == child.manifest_digest
        assert [(x["digest"], x["size"], x["mediaType"]) for x in image["layers"]] == [
            (x.digest, x.size, x.media_type) for x in child.layers
        ]
        assert image["totalSize"] == child.config.size + sum(x.size for x in child.layers)
        config = image["config"]
        assert config["digest"] == child.config.digest
        assert config["created"] == "2023-11-14T22:13:20Z"
        assert config["cmd"] == ["/bin/true"]
        assert config["env"][0].startswith("PATH=")
        assert list(config["labels"]) == ["org.soute.test.nonce"]
    assert seen["referrers"] == [] and seen["referrersSource"] == "api"
    text = soute.ok("inspect", ref).out
    for child in built.children:
        platform = f"{child.platform['os']}/{child.platform['architecture']}"
        assert f"{platform}  {child.manifest_digest}" in text
        for layer in child.layers:
            assert f"{layer.digest}  {layer.media_type}" in text


def test_inspect_shows_referrers_and_rm_deletes_them_with_their_subject(
    soute: Soute, soute_server: RegistryServer, skopeo: Skopeo, tmp_path: Path, namespace: str
) -> None:
    image = build_image(tmp_path / "src", [1000], tag="v1")
    name = f"{namespace}/signed"
    ref = f"{soute_server.address}/{name}"
    copy(skopeo, image.ref, f"{ref}:v1")
    sbom = push_artifact(soute_server.url, name, image.manifest_digest, SBOM)
    seen = soute.ok("inspect", f"{ref}:v1", "--json").json()
    assert seen["referrersSource"] == "api"
    assert [(r["digest"], r["artifactType"]) for r in seen["referrers"]] == [(sbom["digest"], SBOM)]
    assert f"{sbom['digest']}  {SBOM}" in soute.ok("inspect", f"{ref}:v1").out
    artifact = soute.ok("inspect", f"{ref}@{sbom['digest']}", "--json").json()
    assert artifact["kind"] == "artifact"
    assert artifact["subject"]["digest"] == image.manifest_digest
    assert artifact["images"][0]["artifactType"] == SBOM

    removed = soute.ok("rm", f"{ref}@{image.manifest_digest}", "--referrers", "--json").json()
    assert [(d["kind"], d["digest"]) for d in removed["deleted"]] == [
        ("referrer", sbom["digest"]),
        ("manifest", image.manifest_digest),
    ]
    for gone in (image.manifest_digest, sbom["digest"]):
        assert "not found" in soute.fails(5, "inspect", f"{ref}@{gone}")
    assert "NAME_UNKNOWN" in soute.fails(5, "tags", ref)  # its last manifest is gone


def test_rm_without_referrers_says_which_remain(
    soute: Soute, soute_server: RegistryServer, skopeo: Skopeo, tmp_path: Path, namespace: str
) -> None:
    image = build_image(tmp_path / "src", [1000], tag="v1")
    name = f"{namespace}/left"
    ref = f"{soute_server.address}/{name}"
    copy(skopeo, image.ref, f"{ref}:v1")
    sbom = push_artifact(soute_server.url, name, image.manifest_digest, SBOM)
    done = soute.ok("rm", f"{ref}@{image.manifest_digest}")
    assert done.out.strip() == (
        f"deleted manifest {ref}@{image.manifest_digest} and every tag that pointed at it"
    )
    assert f"its referrer {ref}@{sbom['digest']} remains" in done.err
    soute.ok("inspect", f"{ref}@{sbom['digest']}")


def test_rm_a_tag_then_the_manifest(
    soute: Soute, soute_server: RegistryServer, skopeo: Skopeo, tmp_path: Path, namespace: str
) -> None:
    image = build_image(tmp_path / "src", [1000], tag="v1")
    name = f"{namespace}/gone"
    ref = f"{soute_server.address}/{name}"
    copy(skopeo, image.ref, f"{ref}:v1")
    tag(soute_server.url, name, "v1", "v2")
    untagged = soute.ok("rm", f"{ref}:v1")
    assert untagged.out.startswith(f"deleted tag {ref}:v1 (it pointed at {image.manifest_digest}")
    assert soute.ok("tags", ref, "--json").json()["tags"] == ["v2"]
    assert "not found" in soute.fails(5, "inspect", f"{ref}:v1")
    assert soute.ok("inspect", f"{ref}:v2", "--json").json()["digest"] == image.manifest_digest
    soute.ok("rm", f"{ref}@{image.manifest_digest}")
    assert "NAME_UNKNOWN" in soute.fails(5, "tags", ref)
    assert "not found" in soute.fails(5, "inspect", f"{ref}@{image.manifest_digest}")
    assert "not found" in soute.fails(5, "rm", f"{ref}@{image.manifest_digest}")
    assert "not found" in soute.fails(5, "rm", f"{ref}:v1")


def test_rm_of_an_index_child_names_the_index(
    soute: Soute, soute_server: RegistryServer, skopeo: Skopeo, tmp_path: Path, namespace: str
) -> None:
    built = build_index(tmp_path / "src", tag="v1")
    ref = f"{soute_server.address}/{namespace}/multi"
    copy(skopeo, built.ref, f"{ref}:v1", "--all")
    child = built.children[0].manifest_digest
    message = soute.fails(1, "rm", f"{ref}@{child}")
    assert f"listed in index {built.index_digest}" in message and "delete the index" in message
    soute.ok("rm", f"{ref}@{built.index_digest}")
    soute.ok("rm", f"{ref}@{child}")


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["inspect", "app:v1"], 2, "names no repository"),
        (["inspect", "library/app:v1"], 2, "does not start with a registry host"),
        (["inspect", "{host}/App:v1"], 2, "is not a valid repository name"),
        (["inspect", "{host}/app@sha256:abc"], 2, "64 lowercase hex"),
        (["inspect", "{host}/app:bad*tag"], 2, "is not a valid tag"),
        (["tags", "{host}/app:v1"], 2, "without :TAG or @DIGEST"),
        (["ls", "{host}/Bad"], 2, "is not a valid repository name"),
        (["ls", "{host}", "-n", "0"], 2, "--page-size must be at least 1"),
        (["ls", "127.0.0.1:99999"], 2, "with a port 1-65535"),
        (["tags", "a..b/app"], 2, "is not a host name"),
        (["inspect", "exa_mple.com/app:v1"], 2, "is not a host name"),
        (["rm", "{host}/app"], 2, "name the tag (:TAG) or the manifest (@DIGEST)"),
        (["rm", "{host}/app:v1", "--referrers"], 2, "name the manifest by digest"),
        (["inspect", "{host}/nowhere/to-be-found:v1"], 5, "not found"),
        (["tags", "{host}/nowhere/to-be-found"], 5, "not found"),
        (["rm", "{host}/nowhere/to-be-found:v1"], 5, "not found"),
        (["inspect", "127.0.0.1:{free}/app:v1"], 4, "cannot reach"),
        (["ls", "127.0.0.1:{free}"], 4, "cannot reach"),
        (["ls", "registry.invalid", "--insecure"], 4, "cannot reach"),
    ],
)
def test_wrong_inputs_are_one_line_and_an_exit_status(
    soute: Soute, soute_server: RegistryServer, args: list[str], code: int, says: str
) -> None:
    filled = [a.format(host=soute_server.address, free=free_port()) for a in args]
    message = soute.fails(code, *filled)
    assert message.startswith(f"soute {filled[0]}: ") and says in message, message


def test_help_documents_the_exit_statuses(soute: Soute) -> None:
    for verb in ("ls", "tags", "inspect", "rm"):
        text = soute.ok(verb, "--help").out
        for line in ("3  authentication", "4  the registry could not be reached", "5  not found"):
            assert line in text, (verb, text)


def test_serve_does_not_load_the_client_libraries() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from chalicelib.cli.main import build_parser; build_parser();"
        "print(sorted(m for m in ('requests', 'rich') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
