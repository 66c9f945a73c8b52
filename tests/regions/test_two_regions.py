"""Issue 13 with real clients: skopeo pushes and pulls through two regions' registries (one
moto server for both regions), and the HTTP API directly where a client cannot be steered (a
chunked upload that moves between regions). Replication is the test replicator's
(tests/support/replicator.py): moto replicates neither tables nor buckets."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.clients import Skopeo
from tests.support.images import MiB
from tests.support.regions import (
    FALLBACK,
    OTHER,
    PRIMARY,
    ServerLog,
    TwoRegions,
    pull_image,
    push_image,
    redirect_bucket,
)
from tests.support.replicator import Replicator
from tests.support.server import RegistryServer

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


def test_push_in_a_pull_in_b_before_and_after_replication(
    skopeo: Skopeo,
    world: TwoRegions,
    replicator: Replicator,
    region_a: RegistryServer,
    region_b: RegistryServer,
    tmp_path: Path,
) -> None:
    image = push_image(skopeo, tmp_path, region_a, "ab/app")
    layer = image.layers[0].digest
    before = ServerLog(region_b)
    pull_image(skopeo, tmp_path, region_b, "ab/app", image)
    assert redirect_bucket(region_b, "ab/app", layer) == world.bucket(PRIMARY)
    said = before.text()
    assert f"R#ab/app TAG#v1 {FALLBACK}" in said  # the manifest, from the primary
    replicator.sync()
    after = ServerLog(region_b)
    pull_image(skopeo, tmp_path, region_b, "ab/app", image)
    assert redirect_bucket(region_b, "ab/app", layer) == world.bucket(OTHER)
    assert FALLBACK not in after.text()  # the local table answered everything


def test_push_in_b_lands_in_the_primary_table_and_b_bucket(
    skopeo: Skopeo,
    world: TwoRegions,
    region_a: RegistryServer,
    region_b: RegistryServer,
    tmp_path: Path,
) -> None:
    image = push_image(skopeo, tmp_path, region_b, "ba/app")
    manifest = ("R#ba/app", f"MAN#{image.manifest_digest}")
    assert world.item(PRIMARY, *manifest) is not None
    assert world.item(OTHER, *manifest) is None
    link = world.item(PRIMARY, "R#ba/app", f"BLOB#{image.layers[0].digest}")
    assert link is not None
    key = link["key"]["S"]
    assert world.has_object(OTHER, key) and not world.has_object(PRIMARY, key)
    copies = world.item(PRIMARY, f"OBJ#{key}", "COPIES")
    assert copies is not None and copies["regions"]["SS"] == [OTHER]
    pull_image(skopeo, tmp_path, region_a, "ba/app", image)  # the primary redirects to B's bucket
    assert redirect_bucket(region_a, "ba/app", image.layers[0].digest) == world.bucket(OTHER)


def test_a_chunked_upload_started_in_a_is_finished_in_b(
    region_a: RegistryServer, region_b: RegistryServer
) -> None:
    data = os.urandom(9 * MiB + 123)  # over one S3 part: a multipart upload in A's bucket
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = requests.post(f"{region_a.url}/v2/moved/blob/blobs/uploads/", timeout=30)
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    cut = [0, 4 * MiB, 8 * MiB, len(data)]
    for server, (start, end) in zip(
        (region_a, region_b), [(cut[0], cut[1]), (cut[1], cut[2])], strict=True
    ):
        reply = requests.patch(
            server.url + location if location.startswith("/") else location,
            data=data[start:end],
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{start}-{end - 1}",
            },
            timeout=60,
        )
        assert reply.status_code == 202, reply.text
        location = reply.headers["Location"]
    path = urlsplit(location).path
    query = urlsplit(location).query
    done = requests.put(
        f"{region_b.url}{path}?{query + '&' if query else ''}digest={digest}",
        data=data[cut[2] :],
        headers={"Content-Type": "application/octet-stream"},
        timeout=60,
    )
    assert done.status_code == 201, done.text
    for server in (region_a, region_b):
        head = requests.head(f"{server.url}/v2/moved/blob/blobs/{digest}", timeout=30)
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(data)
    fetched = requests.get(f"{region_b.url}/v2/moved/blob/blobs/{digest}", timeout=60)
    assert fetched.content == data


def test_a_delete_in_a_is_gone_in_b(
    skopeo: Skopeo,
    replicator: Replicator,
    region_a: RegistryServer,
    region_b: RegistryServer,
    tmp_path: Path,
) -> None:
    image = push_image(skopeo, tmp_path, region_a, "gone/app")
    replicator.sync()
    url = f"/v2/gone/app/manifests/{image.manifest_digest}"
    assert requests.head(region_b.url + url, timeout=30).status_code == 200
    assert requests.delete(region_a.url + url, timeout=30).status_code == 202
    replicator.sync()
    for server in (region_a, region_b):
        assert requests.head(server.url + url, timeout=30).status_code == 404
        assert (
            requests.head(f"{server.url}/v2/gone/app/manifests/v1", timeout=30).status_code == 404
        )


def test_a_replica_that_lands_after_its_blob_was_removed_is_deleted(
    skopeo: Skopeo,
    world: TwoRegions,
    replicator: Replicator,
    region_a: RegistryServer,
    tmp_path: Path,
) -> None:
    from chalicelib.server.backends import build_registry, open_storage

    image = push_image(skopeo, tmp_path, region_a, "removed/app")
    record = build_registry(world.options(PRIMARY)).blobs.stat(
        "removed/app", image.layers[0].digest
    )
    open_storage(world.options(PRIMARY)).blobs().remove(record)  # what the GC will call
    assert not world.has_object(PRIMARY, record.key)
    replicator.sync()  # S3 replicates the version it had queued; the recorder deletes it
    assert not world.has_object(OTHER, record.key)
