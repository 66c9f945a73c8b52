"""Done-when of the GC (issue 14) through real clients, on both backends: skopeo pushes two
images to a running `soute serve`, deletes one with `skopeo delete`, and `soute gc` (the real
command, while the server keeps serving) removes that image's blobs and nothing else: `soute
du` shows the space back, and the other image pulls back identical."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from chalicelib.server.backends import BackendOptions
from tests.support.clients import Skopeo
from tests.support.images import assert_same_blobs, build_image
from tests.support.lambda_server import storage_arguments
from tests.support.procs import run
from tests.support.server import RegistryServer, default_soute

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


@dataclass
class Served:
    server: RegistryServer
    storage: list[str]  # the `soute gc` / `soute du` options naming the server's storage
    options: BackendOptions | None = None

    def soute(self, *args: str) -> str:
        return run([default_soute(), *args, *self.storage], timeout=120).stdout

    def blob_exists(self, key: str) -> bool:
        if self.options is None:
            return (self.server.data_dir / key).exists()
        from chalicelib.storage.aws.clients import aws_clients

        s3 = aws_clients(self.options.region, self.options.endpoint_url).s3
        listed = s3.list_objects_v2(Bucket=self.options.s3_bucket, Prefix=key)
        return listed.get("KeyCount", 0) > 0


@pytest.fixture(scope="module")
def served(served_registry: tuple[RegistryServer, BackendOptions]) -> Served:
    server, options = served_registry
    aws = options if options.backend == "aws" else None
    return Served(server, storage_arguments(options), aws)


def _keys(served: Served, repository: str, digests: list[str]) -> dict[str, str]:
    """Where the registry keeps each blob (from its records, as `soute du --json` can't say)."""
    from chalicelib.server.backends import BackendOptions, open_storage

    options = served.options or BackendOptions(data_dir=str(served.server.data_dir))
    meta = open_storage(options).metadata()
    found = {digest: meta.blob(repository, digest) for digest in digests}
    return {digest: record.key for digest, record in found.items() if record is not None}


def _blobs(output: str, prefix: str) -> set[str]:
    """The digests of the lines of `soute gc` that start with `prefix`."""
    return {
        line[len(prefix) :].split()[0] for line in output.splitlines() if line.startswith(prefix)
    }


def _stored(served: Served, repository: str) -> int:
    document = json.loads(served.soute("du", repository, "--json"))
    return int(document["usage"][0]["stored_bytes"])


def test_gc_after_skopeo_delete_frees_the_deleted_images_blobs(
    served: Served, skopeo: Skopeo, tmp_path: Path
) -> None:
    address, repository = served.server.address, "team/gc"
    kept = build_image(tmp_path / "kept", [150 * 1024, 900], tag="v1")
    doomed = build_image(tmp_path / "doomed", [300 * 1024], tag="v2")
    skopeo.copy(kept.ref, f"docker://{address}/{repository}:v1")
    skopeo.copy(doomed.ref, f"docker://{address}/{repository}:v2")
    keys = _keys(served, repository, doomed.blob_digests)
    assert len(keys) == 2 and all(served.blob_exists(key) for key in keys.values())
    before = _stored(served, repository)
    # skopeo deletes the manifest the tag points at, by its digest (DELETE /v2/…/manifests/…)
    skopeo.run("delete", "--tls-verify=false", f"docker://{address}/{repository}:v2")
    dry = served.soute("gc", "--grace", "0", "--dry-run")
    real = served.soute("gc", "--grace", "0")
    removed = _blobs(real, "removed blob ")
    assert removed == set(doomed.blob_digests)
    assert _blobs(dry, "would remove blob ") == removed
    assert "dry run: nothing was deleted" in dry
    assert not any(served.blob_exists(key) for key in keys.values())
    freed = sum(layer.size for layer in doomed.layers) + doomed.config.size
    assert before - _stored(served, repository) == freed + len(doomed.manifest)
    back = tmp_path / "back"
    skopeo.copy(f"docker://{address}/{repository}:v1", f"oci:{back}:v1")
    assert_same_blobs(kept.layout, back)
