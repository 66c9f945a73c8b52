"""Crash safety: SIGKILL the server in the middle of pushes, restart it, and check that every
completed push is intact and nothing partial or dangling is visible."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.support.images import OCI_MANIFEST, sha256_digest
from tests.support.server import RegistryServer, running_registry

ROUNDS = 3


@dataclass
class Pushed:
    repo: str
    tag: str
    manifest: bytes
    blobs: dict[str, int] = field(default_factory=dict)


class Pusher(threading.Thread):
    """Pushes small images in a loop, each blob by one of the upload styles clients use."""

    def __init__(self, url: str, seed: int) -> None:
        super().__init__(daemon=True)
        self.url, self.rng = url, random.Random(seed)
        self.session = requests.Session()
        self.completed: list[Pushed] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.completed.append(self._push_image())
            except (requests.RequestException, AssertionError):
                return  # the server is gone

    def _blob(self, repo: str, data: bytes) -> str:
        digest, base = sha256_digest(data), f"{self.url}/v2/{repo}/blobs/uploads/"
        style = self.rng.choice(["monolithic", "patch", "chunks"])
        if style == "monolithic":
            reply = self.session.post(base, params={"digest": digest}, data=data, timeout=10)
            assert reply.status_code == 201
            return digest
        location = self.url + self.session.post(base, timeout=10).headers["Location"]
        if style == "patch":
            location = (
                self.url + self.session.patch(location, data=data, timeout=10).headers["Location"]
            )
        else:
            half = len(data) // 2
            for start, chunk in ((0, data[:half]), (half, data[half:])):
                headers = {"Content-Range": f"{start}-{start + len(chunk) - 1}"}
                reply = self.session.patch(location, data=chunk, headers=headers, timeout=10)
                location = self.url + reply.headers["Location"]
        reply = self.session.put(location, params={"digest": digest}, timeout=10)
        assert reply.status_code == 201
        return digest

    def _push_image(self) -> Pushed:
        repo = f"crash/{uuid.uuid4().hex[:8]}"
        layers = [os.urandom(self.rng.randint(1, 3 << 20)) for _ in range(self.rng.randint(1, 3))]
        config = json.dumps({"id": uuid.uuid4().hex}).encode()
        pushed = Pushed(repo, "v1", b"")
        for data in (config, *layers):
            pushed.blobs[self._blob(repo, data)] = len(data)
        descriptors = [
            {
                "mediaType": "application/octet-stream",
                "digest": sha256_digest(layer),
                "size": len(layer),
            }
            for layer in layers
        ]
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": sha256_digest(config),
                    "size": len(config),
                },
                "layers": descriptors,
            }
        ).encode()
        reply = self.session.put(
            f"{self.url}/v2/{repo}/manifests/v1",
            data=manifest,
            headers={"Content-Type": OCI_MANIFEST},
            timeout=10,
        )
        assert reply.status_code == 201
        pushed.manifest = manifest
        return pushed


def _kill(server: RegistryServer) -> None:
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=10)


def _check_completed(url: str, pushes: list[Pushed]) -> None:
    session = requests.Session()
    for pushed in pushes:
        reply = session.get(f"{url}/v2/{pushed.repo}/manifests/{pushed.tag}", timeout=10)
        assert reply.status_code == 200, f"lost completed push {pushed.repo}"
        assert reply.content == pushed.manifest
        for digest, size in pushed.blobs.items():
            blob = session.get(f"{url}/v2/{pushed.repo}/blobs/{digest}", timeout=30)
            assert blob.status_code == 200
            assert len(blob.content) == size and sha256_digest(blob.content) == digest


def _check_nothing_partial_or_dangling(data_dir: Path) -> None:
    for path in (data_dir / "blobs" / "sha256").glob("*/*"):  # <hex>.<upload id>
        hexpart = path.name.split(".")[0]
        assert sha256_digest(path.read_bytes()) == f"sha256:{hexpart}", f"partial blob {path}"
    db = sqlite3.connect(data_dir / "metadata.sqlite")
    linked = "SELECT DISTINCT b.digest, b.key FROM repo_blobs l JOIN blobs b USING (digest)"
    for digest, key in db.execute(linked):
        assert (data_dir / key).exists(), digest
    dangling_refs = db.execute(
        "SELECT r.repo, r.manifest, r.target FROM manifest_refs r LEFT JOIN repo_blobs b"
        " ON b.repo = r.repo AND b.digest = r.target WHERE r.kind = 'blob' AND b.digest IS NULL"
    ).fetchall()
    assert dangling_refs == []
    stuck_tags = db.execute(
        "SELECT t.repo, t.tag FROM tags t LEFT JOIN manifests m ON m.repo = t.repo"
        " AND m.digest = t.digest WHERE m.digest IS NULL"
    ).fetchall()
    assert stuck_tags == []


@pytest.mark.timeout(300)
def test_sigkill_during_pushes_loses_nothing_completed(tmp_path: Path) -> None:
    completed: list[Pushed] = []
    rng = random.Random(9)
    for round_number in range(ROUNDS):
        with running_registry(tmp_path) as server:
            _check_completed(server.url, completed)
            pushers = [Pusher(server.url, round_number * 10 + i) for i in range(3)]
            for pusher in pushers:
                pusher.start()
            time.sleep(rng.uniform(1.0, 2.5))
            _kill(server)
            for pusher in pushers:
                pusher.join(timeout=30)
                completed.extend(pusher.completed)
        _check_nothing_partial_or_dangling(server.data_dir)
    assert len(completed) >= ROUNDS, "the pushers completed too little to prove anything"
    with running_registry(tmp_path) as server:
        _check_completed(server.url, completed)
    # Upload bytes that lost their session (cut off before it was written) were swept.
    db = sqlite3.connect(server.data_dir / "metadata.sqlite")
    sessions = {row[0] for row in db.execute("SELECT upload_id FROM uploads")}
    on_disk = {path.name for path in (server.data_dir / "uploads").iterdir()}
    assert on_disk <= sessions
