"""Pushers for the GC soak (tests/lifecycle/test_gc_soak.py, bench/gc_soak.py): threads that
push images over HTTP the way docker does (HEAD each blob, mount shared ones from another
repository, upload the rest, then the manifest), with manifest lists, referrers, and deletes of
tags and manifests as they go. They record what the registry acknowledged and what was
deleted; `verify` then pulls every acknowledged, undeleted manifest and its blobs back."""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from dataclasses import dataclass, field

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REPUSHES = 20  # a refused manifest is pushed again this many times before the push fails


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Soak:
    url: str
    pushers: int = 6
    images: int = 12  # per pusher
    repositories: int = 3
    bases: int = 4  # base layers every image draws two from
    base_size: int = 20_000
    layer_size: int = 5_000
    seed: int = 0


@dataclass(frozen=True)
class Pushed:
    repository: str
    digest: str
    body: bytes
    blobs: dict[str, bytes]  # digest -> bytes


@dataclass
class SoakResult:
    url: str
    acknowledged: list[Pushed] = field(default_factory=list)
    deleted: set[tuple[str, str]] = field(default_factory=set)
    indexes: int = 0
    referrers: int = 0
    repushes: int = 0
    push_latencies: list[float] = field(default_factory=list)  # seconds, whole image pushes
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self) -> list[str]:
        """Pull back every acknowledged manifest not deleted, and its blobs; what failed."""
        session, lost = requests.Session(), []
        for pushed in self.acknowledged:
            if (pushed.repository, pushed.digest) in self.deleted:
                continue
            base = f"{self.url}/v2/{pushed.repository}"
            reply = session.get(f"{base}/manifests/{pushed.digest}", headers=_accept(), timeout=60)
            if reply.status_code != 200 or reply.content != pushed.body:
                lost.append(f"{pushed.repository}@{pushed.digest}: manifest {reply.status_code}")
                continue
            for digest, data in pushed.blobs.items():
                blob = session.get(f"{base}/blobs/{digest}", timeout=60)
                if blob.status_code != 200 or blob.content != data:
                    lost.append(f"{pushed.repository}@{digest}: blob {blob.status_code}")
        return lost


def run_soak(soak: Soak) -> SoakResult:
    result = SoakResult(soak.url)
    bases = [random.Random(soak.seed + n).randbytes(soak.base_size) for n in range(soak.bases)]
    threads = [
        threading.Thread(target=_pusher, args=(soak, n, bases, result), daemon=True)
        for n in range(soak.pushers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def _pusher(soak: Soak, number: int, bases: list[bytes], result: SoakResult) -> None:
    rng = random.Random(soak.seed * 1000 + number)
    client = _Client(soak.url, soak.repositories, rng)
    mine: list[Pushed] = []
    try:
        for n in range(soak.images):
            repository = f"soak/r{rng.randrange(soak.repositories)}"
            layers = [*rng.sample(bases, 2), os.urandom(soak.layer_size)]
            pushed = client.push_image(repository, f"p{number}-{n}", layers, result)
            mine.append(pushed)
            if n % 4 == 3:
                _push_index(client, mine[-2:], result)
            if n % 3 == 2:
                _push_referrer(client, pushed, result)
            if n % 2 == 1:
                _delete_one(client, rng.choice(mine), result)
    except Exception as error:  # noqa: BLE001 - reported by the test
        with result.lock:
            result.errors.append(f"pusher {number}: {error!r}")


class _Client:
    def __init__(self, url: str, repositories: int, rng: random.Random) -> None:
        self.url, self.repositories, self.rng = url, repositories, rng
        self.session = requests.Session()

    def push_image(
        self, repository: str, tag: str, layers: list[bytes], result: SoakResult
    ) -> Pushed:
        config = json.dumps({"os": "linux", "tag": tag, "n": os.urandom(4).hex()}).encode()
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": _descriptor("application/vnd.oci.image.config.v1+json", config),
                "layers": [_descriptor(LAYER, layer) for layer in layers],
            }
        ).encode()
        blobs = {sha256(blob): blob for blob in [config, *layers]}
        started = time.monotonic()
        self._push(repository, tag, body, OCI_MANIFEST, blobs, result)
        with result.lock:
            result.push_latencies.append(time.monotonic() - started)
        return Pushed(repository, sha256(body), body, blobs)

    def _push(
        self,
        repository: str,
        reference: str,
        body: bytes,
        media_type: str,
        blobs: dict[str, bytes],
        result: SoakResult,
    ) -> None:
        """Blobs then the manifest; again while the manifest is refused for a missing blob."""
        for _attempt in range(REPUSHES):
            for digest, data in blobs.items():
                self._blob(repository, digest, data)
            reply = self.session.put(
                f"{self.url}/v2/{repository}/manifests/{reference}",
                data=body,
                headers={"Content-Type": media_type},
                timeout=60,
            )
            if reply.status_code == 201:
                with result.lock:
                    result.acknowledged.append(Pushed(repository, sha256(body), body, blobs))
                return
            code = _code(reply)
            if code not in ("MANIFEST_BLOB_UNKNOWN", "MANIFEST_UNKNOWN", "TOOMANYREQUESTS"):
                raise AssertionError(f"manifest PUT: {reply.status_code} {reply.text}")
            with result.lock:
                result.repushes += 1
        raise AssertionError(f"manifest of {repository} refused {REPUSHES} times")

    def _blob(self, repository: str, digest: str, data: bytes) -> None:
        base = f"{self.url}/v2/{repository}/blobs"
        if self.session.head(f"{base}/{digest}", timeout=60).status_code == 200:
            return  # docker: "Layer already exists"
        source = f"soak/r{self.rng.randrange(self.repositories)}"
        mounted = self.session.post(
            f"{base}/uploads/", params={"mount": digest, "from": source}, timeout=60
        )
        if mounted.status_code == 201:
            return
        if mounted.status_code == 202:  # not mountable: this session takes the upload
            self.session.delete(self._absolute(mounted.headers["Location"]), timeout=60)
        for _ in range(REPUSHES):
            reply = self.session.post(
                f"{base}/uploads/", params={"digest": digest}, data=data, timeout=60
            )
            if reply.status_code == 201:
                return
        raise AssertionError(f"blob upload: {reply.status_code} {reply.text}")

    def _absolute(self, location: str) -> str:
        return location if location.startswith("http") else self.url + location


def _push_index(client: _Client, children: list[Pushed], result: SoakResult) -> None:
    same = [c for c in children if c.repository == children[-1].repository]
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": c.digest, "size": len(c.body)} for c in same
            ],
        }
    ).encode()
    repository = same[-1].repository
    reply = client.session.put(
        f"{client.url}/v2/{repository}/manifests/{sha256(body)}",
        data=body,
        headers={"Content-Type": OCI_INDEX},
        timeout=60,
    )
    if reply.status_code == 201:  # refused if a child was deleted meanwhile
        with result.lock:
            result.acknowledged.append(Pushed(repository, sha256(body), body, {}))
            result.indexes += 1


def _push_referrer(client: _Client, subject: Pushed, result: SoakResult) -> None:
    empty, payload = b"{}", os.urandom(300)
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.signature",
            "config": _descriptor("application/vnd.oci.empty.v1+json", empty),
            "layers": [_descriptor("application/octet-stream", payload)],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": 1},
        }
    ).encode()
    blobs = {sha256(empty): empty, sha256(payload): payload}
    client._push(subject.repository, sha256(body), body, OCI_MANIFEST, blobs, result)
    with result.lock:
        result.referrers += 1


def _delete_one(client: _Client, pushed: Pushed, result: SoakResult) -> None:
    """Delete the manifest (its tags go with it); refused while an index lists it."""
    reply = client.session.delete(
        f"{client.url}/v2/{pushed.repository}/manifests/{pushed.digest}", timeout=60
    )
    if reply.status_code == 202:
        with result.lock:
            result.deleted.add((pushed.repository, pushed.digest))
    elif reply.status_code not in (404, 409):
        raise AssertionError(f"manifest DELETE: {reply.status_code} {reply.text}")


def _descriptor(media_type: str, data: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data)}


def _accept() -> dict[str, str]:
    return {"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"}


def _code(reply: requests.Response) -> str:
    try:
        return str(reply.json()["errors"][0]["code"])
    except (ValueError, KeyError, IndexError):
        return ""
