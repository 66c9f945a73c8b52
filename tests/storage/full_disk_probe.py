"""Run by test_full_disk.py inside a private mount namespace, on a 2 MiB tmpfs: a registry
whose data directory fills up. Prints one JSON document of what the client was told."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import sys
import uuid

from chalicelib.api.router import Router
from chalicelib.server.backends import embedded_registry
from chalicelib.server.wsgi import WsgiApp
from tests.contract.client import LambdaClient, Reply, image_manifest, push_blob, put_manifest


def _fill(path: str) -> None:
    """Take every free byte of the file system with one file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)


def _answer(reply: Reply) -> dict[str, object]:
    return {"status": reply.status, "body": reply.body.decode(errors="replace")}


def main(data_dir: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    client = LambdaClient(WsgiApp(Router(embedded_registry(data_dir))))
    result: dict[str, object] = {}
    # A layer larger than the whole disk: the blob write fails.
    start = client.request("POST", "/v2/full/blobs/uploads/")
    big = os.urandom(3 << 20)
    digest = "sha256:" + hashlib.sha256(big).hexdigest()
    reply = client.request("PUT", start.headers["Location"], params={"digest": digest}, data=big)
    result["big_blob"] = _answer(reply)
    # A disk with no byte left: a small blob, then a manifest (SQLite) fail too.
    body = image_manifest(client, "full", [b"small layer"])
    filler = os.path.join(data_dir, "filler")
    _fill(filler)
    small = uuid.uuid4().bytes * 64
    digest = "sha256:" + hashlib.sha256(small).hexdigest()
    reply = client.request(
        "POST", "/v2/full/blobs/uploads/", params={"digest": digest}, data=small
    )  # a monolithic upload: the session (SQLite) and the bytes (a file) in one request
    result["small_blob_on_full_disk"] = _answer(reply)
    result["manifest_on_full_disk"] = _answer(put_manifest(client, "full", "v1", body))
    # Room again: the registry works, and what it holds is whole.
    os.unlink(filler)
    after = image_manifest(client, "full", [os.urandom(100_000)])
    result["manifest_after"] = _answer(put_manifest(client, "full", "v2", after))
    result["blob_after"] = push_blob(client, "full", small)
    pulled = client.request("GET", f"/v2/full/blobs/{digest}")
    result["blob_after_hash_ok"] = "sha256:" + hashlib.sha256(pulled.body).hexdigest() == digest
    manifest = client.request("GET", "/v2/full/manifests/v2")
    result["manifest_after_ok"] = manifest.status == 200 and manifest.body == after
    result["enospc"] = errno.ENOSPC
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
