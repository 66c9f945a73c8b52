"""The real-client immutability scenario, shared by the embedded server's test and the Lambda
front end's: skopeo pushes an image to a tag, `soute immutable set` (the admin verb, run as an
admin runs it, against the server's own storage) locks the namespace but for `dev-*`, and a
second image pushed to the tag is refused while an excluded tag still moves."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.clients import Skopeo
from tests.support.images import build_image
from tests.support.server import default_soute


def soute(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [default_soute(), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"soute {' '.join(args)}: {result.stderr}"
    return result


def check_pushes_over_an_immutable_tag_are_refused(
    skopeo: Skopeo, address: str, namespace: str, storage_args: list[str], tmp_path: Path
) -> str:
    """Run the scenario on the registry at `address`, whose storage the CLI reaches with
    `storage_args`; return skopeo's message for the refused push."""
    repo = f"docker://{address}/{namespace}/app"
    first = build_image(tmp_path / "first", [4096], tag="v1")
    second = build_image(tmp_path / "second", [8192], tag="v1")
    for tag in ("v1", "dev-1"):
        skopeo.copy(first.ref, f"{repo}:{tag}", "--preserve-digests")
    soute("immutable", "set", namespace, "--exclude", "dev-*", *storage_args)

    refused = skopeo.run(
        "copy",
        "--dest-tls-verify=false",
        "--preserve-digests",
        second.ref,
        f"{repo}:v1",
        check=False,
    )
    assert refused.returncode != 0, "a push moved an immutable tag"
    expected = (
        f"denied: tag v1 of {namespace}/app is immutable (namespace {namespace}) and names"
        f" {first.manifest_digest}: it cannot be moved to another manifest; push under a new tag,"
        f" or an admin lifts it with `soute immutable set {namespace}/app --off`"
    )
    assert expected in refused.stderr, refused.stderr
    assert skopeo.inspect_raw(f"{repo}:v1") == first.manifest

    skopeo.copy(second.ref, f"{repo}:dev-1", "--preserve-digests")  # excluded: it moves
    assert skopeo.inspect_raw(f"{repo}:dev-1") == second.manifest
    skopeo.copy(first.ref, f"{repo}:v1", "--preserve-digests")  # the same image again: no move
    return refused.stderr
