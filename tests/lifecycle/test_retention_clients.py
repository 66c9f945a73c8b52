"""Retention through a real client and the real commands, on both backends: skopeo pushes three
tags to a running `soute serve` of this module's own, `soute policy set` keeps the newest one
(imageCountMoreThan 1 on tagPrefixList), `soute policy preview` names the two that go, `soute
gc --grace 0` expires exactly those while the server serves, skopeo no longer finds them, and
the newest still pulls back identical. An invalid policy is refused with one line naming the
rule and the field, and nothing is stored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from chalicelib.server.backends import BackendOptions
from tests.support.clients import Skopeo
from tests.support.images import assert_same_blobs, build_image
from tests.support.lambda_server import admin_arguments, storage_arguments
from tests.support.procs import run
from tests.support.server import RegistryServer, default_soute

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


@dataclass
class Served:
    server: RegistryServer
    admin: list[str]  # the admin verbs' options naming the server's storage
    storage: list[str]  # `soute gc`'s

    def soute(self, *args: str, admin: bool = True):  # type: ignore[no-untyped-def]
        options = self.admin if admin else self.storage
        return run([default_soute(), *args, *options], timeout=120, check=False)


@pytest.fixture(scope="module")
def served(served_registry: tuple[RegistryServer, BackendOptions]) -> Served:
    server, options = served_registry
    return Served(server, admin_arguments(options), storage_arguments(options))


def _policy(path: Path, count: int) -> str:
    rule = {
        "rulePriority": 1,
        "description": "keep the newest v* image",
        "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"],
                      "countType": "imageCountMoreThan", "countNumber": count},
        "action": {"type": "expire"},
    }  # fmt: skip
    path.write_text(json.dumps({"rules": [rule]}))
    return str(path)


def _digests(output: str, prefix: str) -> set[str]:
    """The `repository@digest` of the lines starting with `prefix` (which ends inside it)."""
    words = len(prefix.split()) - 1
    return {line.split()[words] for line in output.splitlines() if line.startswith(prefix)}


def test_policy_expires_all_but_the_newest_tag(
    served: Served, skopeo: Skopeo, tmp_path: Path
) -> None:
    address, repository = served.server.address, "team/retained"
    images = {}
    for tag in ("v1", "v2", "v3"):
        images[tag] = build_image(tmp_path / tag, [40 * 1024], tag=tag)
        skopeo.copy(images[tag].ref, f"docker://{address}/{repository}:{tag}")
    digests = {
        tag: skopeo.inspect(f"docker://{address}/{repository}:{tag}")["Digest"] for tag in images
    }

    refused = served.soute("policy", "set", repository, _policy(tmp_path / "bad.json", 0))
    assert refused.returncode == 1
    said = [line for line in refused.stderr.splitlines() if line.startswith("soute policy:")]
    assert "Traceback" not in refused.stderr
    assert len(said) == 1 and said[0].startswith("soute policy: rule 1: selection.countNumber")
    assert served.soute("policy", "get", repository).returncode == 1  # nothing stored

    stored = served.soute("policy", "set", repository, _policy(tmp_path / "good.json", 1))
    assert stored.returncode == 0, stored.stderr
    assert "rule 1: keep the 1 newest images tagged v*" in stored.stdout
    shown = served.soute("policy", "get", repository)
    assert json.loads(shown.stdout)["rules"][0]["selection"]["countNumber"] == 1

    preview = served.soute("policy", "preview", "team")
    assert preview.returncode == 0, preview.stderr
    doomed = {f"{repository}@{digests['v1']}", f"{repository}@{digests['v2']}"}
    assert _digests(preview.stdout, "would expire team/") == doomed
    assert "rule 1" in preview.stdout and "pushed " in preview.stdout

    collected = served.soute("gc", "--grace", "0", admin=False)
    assert collected.returncode == 0, collected.stderr
    assert _digests(collected.stdout, "expired team/") == doomed

    for tag in ("v1", "v2"):
        gone = skopeo.run(
            "inspect", "--tls-verify=false", f"docker://{address}/{repository}:{tag}", check=False
        )
        assert gone.returncode != 0
    back = tmp_path / "back"
    skopeo.copy(f"docker://{address}/{repository}:v3", f"oci:{back}:v3")
    assert_same_blobs(images["v3"].layout, back)
    assert served.soute("policy", "rm", repository).returncode == 0
    assert served.soute("policy", "rm", repository).returncode == 1
