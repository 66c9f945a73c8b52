"""Direct uploads verified in the background (pending blobs), and the signed part URLs of the
embedded backend (tampered, expired, replayed)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from chalicelib.api.router import Router
from chalicelib.registry import direct_uploads
from chalicelib.registry.service import Registry
from chalicelib.registry.settings import Settings
from chalicelib.server.backends import embedded_registry
from chalicelib.storage.embedded.part_urls import KEY_FILE, PartUrlSigner
from tests.contract.client import (
    Client,
    LambdaClient,
    LiveClient,
    RouterClient,
    lambda_app,
    new_repo,
    put_manifest,
    sha256,
)
from tests.contract.direct import complete, initiate, put_part, send_parts, status
from tests.contract.test_direct_uploads import _manifest
from tests.support.moto import aws_backend
from tests.support.server import RegistryServer


class HeldVerifier:
    """A verifier that has not run yet: it keeps what it is given until `run`."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, str]] = []
        self.registry: Registry | None = None

    def submit(self, repository: str, upload_id: str) -> None:
        self.submitted.append((repository, upload_id))

    def run(self) -> None:
        assert self.registry is not None
        while self.submitted:
            self.registry.direct.verify(*self.submitted.pop(0))


def _hold(registry: Registry) -> HeldVerifier:
    held = HeldVerifier()
    held.registry = registry
    registry.direct.verifier = held
    return held


@pytest.fixture(params=["router", "lambda"])
def held(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Client, HeldVerifier]]:
    """A front end whose every direct upload is verified in the background (inline limit 0),
    by a verifier that runs only when the test says so."""
    if request.param == "router":
        registry = embedded_registry(str(tmp_path), Settings(inline_verify_limit=0))
        yield RouterClient(Router(registry)), _hold(registry)
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    settings = aws_backend(endpoint, inline_verify_limit=0).environment()
    with lambda_app(settings) as function:
        yield LambdaClient(function), _hold(function.app.router().registry)


def _complete_in_background(client: Client, repo: str, data: bytes, digest: str) -> str:
    upload = initiate(client, repo, data, digest=digest).json()
    reply = complete(client, repo, upload["upload_id"], send_parts(client, upload, data))
    assert reply.status == 202, reply.body
    assert reply.json()["status"] == "verifying"
    return str(upload["upload_id"])


def test_pending_blob_makes_manifest_wait_until_verified(
    held: tuple[Client, HeldVerifier],
) -> None:
    client, verifier = held
    repo, data = new_repo(), os.urandom(4000)
    upload_id = _complete_in_background(client, repo, data, sha256(data))
    assert status(client, repo, upload_id).json()["status"] == "verifying"
    assert client.request("HEAD", f"/v2/{repo}/blobs/{sha256(data)}").status == 404
    manifest = _manifest(client, repo, data)
    reply = put_manifest(client, repo, "v1", manifest)
    assert reply.status == 409, reply.body
    assert int(reply.headers["Retry-After"]) > 0
    assert "still being verified" in reply.json()["errors"][0]["message"]
    verifier.run()
    assert status(client, repo, upload_id).json()["status"] == "available"
    assert client.request("GET", f"/v2/{repo}/blobs/{sha256(data)}").body == data
    assert put_manifest(client, repo, "v1", manifest).status == 201


def test_background_digest_mismatch_fails_and_stays_invisible(
    held: tuple[Client, HeldVerifier],
) -> None:
    client, verifier = held
    repo, data, claimed = new_repo(), os.urandom(4000), sha256(os.urandom(4000))
    upload_id = _complete_in_background(client, repo, data, claimed)
    verifier.run()
    failed = status(client, repo, upload_id).json()
    assert failed["status"] == "failed" and sha256(data) in failed["message"]
    assert client.request("HEAD", f"/v2/{repo}/blobs/{claimed}").status == 404
    reply = put_manifest(client, repo, "v1", _manifest(client, repo, data))
    assert (reply.status, reply.error_code()) == (400, "MANIFEST_BLOB_UNKNOWN")  # not pending
    reply = complete(client, repo, upload_id, [])
    assert (reply.status, reply.error_code()) == (400, "DIGEST_INVALID")


def test_thread_verifier_of_the_local_front_ends_finishes(tmp_path: Path) -> None:
    client = RouterClient(Router(embedded_registry(str(tmp_path), Settings(inline_verify_limit=0))))
    repo, data = new_repo(), os.urandom(4000)
    upload_id = _complete_in_background(client, repo, data, sha256(data))
    deadline = time.monotonic() + 10
    while status(client, repo, upload_id).json()["status"] == "verifying":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert status(client, repo, upload_id).json()["status"] == "available"
    assert client.request("GET", f"/v2/{repo}/blobs/{sha256(data)}").body == data


# -- signed part URLs of the embedded backend ---------------------------------------------------


@pytest.fixture(params=["router", "server"])
def embedded(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Client, Path]:
    """A front end on embedded storage, and its data directory (where the URL key is)."""
    if request.param == "router":
        return RouterClient(Router(embedded_registry(str(tmp_path)))), tmp_path
    server: RegistryServer = request.getfixturevalue("soute_server")
    return LiveClient(server.url), server.data_dir


def _with(url: str, path: str | None = None, **changes: str) -> str:
    split = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(split.query).items()}
    query.update(changes)
    return f"{split.scheme}://{split.netloc}{path or split.path}?{urlencode(query)}"


def test_part_urls_refuse_tampering_expiry_and_replay(embedded: tuple[Client, Path]) -> None:
    client, data_dir = embedded
    repo, data = new_repo(), os.urandom(3000)
    upload = initiate(client, repo, data).json()
    url = upload["parts"][0]["url"]
    assert urlsplit(url).path == f"/v2/_soute/parts/{upload['upload_id']}/1"
    # Absolute, on the address the client used.
    own = urlsplit(client.base_url).netloc if isinstance(client, LiveClient) else "localhost"
    assert urlsplit(url).netloc == own
    signature = parse_qs(urlsplit(url).query)["signature"][0]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    other_id = "f" * len(upload["upload_id"])
    tampered = [
        _with(url, signature=flipped),
        _with(url, expires=str(int(time.time()) + 99999)),
        _with(url, nonce="0" * 32),
        _with(url, path=urlsplit(url).path[:-1] + "2"),
        _with(url, path=f"/v2/_soute/parts/{other_id}/1"),
        _with(url, signature=""),
    ]
    for bad in tampered:
        code, _, body = put_part(client, bad, data)
        assert code == 403, (bad, body)
        assert json.loads(body)["errors"][0]["code"] == "DENIED"
    # Signed with the registry's own key, but expired.
    signer = PartUrlSigner(str(data_dir))
    base = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
    expired = signer.url(base, upload["upload_id"], 1, int(time.time()) - 1, len(data))
    code, _, body = put_part(client, expired, data)
    assert code == 403 and b"expired" in body
    # The genuine URL works once; its ETag is the part's quoted md5.
    code, etag, body = put_part(client, url, data)
    assert code == 200, body
    assert etag == f'"{hashlib.md5(data).hexdigest()}"'
    code, _, body = put_part(client, url, data)
    assert code == 403 and b"used already" in body
    assert complete(client, repo, upload["upload_id"], [{"number": 1, "etag": etag}]).status == 201
    key = data_dir / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_access_log_of_soute_serve_omits_part_url_signatures(soute_server: RegistryServer) -> None:
    client = LiveClient(soute_server.url)
    repo, data = new_repo(), os.urandom(1000)
    upload = initiate(client, repo, data).json()
    url = upload["parts"][0]["url"]
    assert put_part(client, url, data)[0] == 200
    signature = parse_qs(urlsplit(url).query)["signature"][0]
    deadline = time.monotonic() + 5
    path = urlsplit(url).path
    while f"PUT {path} " not in soute_server.log_tail(400):  # the line is written after the reply
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert signature not in soute_server.log_path.read_text()


def test_verifier_function_of_the_chalice_app_verifies(moto_endpoint: str) -> None:
    """What the deployed `verifier` function does with the event LambdaVerifier sends."""
    settings = aws_backend(moto_endpoint, inline_verify_limit=0).environment()
    with lambda_app(settings) as function:
        client = LambdaClient(function)
        held = _hold(function.app.router().registry)
        repo, data = new_repo(), os.urandom(4000)
        upload_id = _complete_in_background(client, repo, data, sha256(data))
        assert held.submitted == [(repo, upload_id)]
        result = function.app.verifier({"repository": repo, "upload_id": upload_id}, None)
        assert result == {"upload_id": upload_id, "status": "available"}
        assert client.request("GET", f"/v2/{repo}/blobs/{sha256(data)}").body == data


def test_stalled_verification_is_started_again_on_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = embedded_registry(str(tmp_path), Settings(inline_verify_limit=0))
    client, held = RouterClient(Router(registry)), _hold(registry)
    repo, data = new_repo(), os.urandom(4000)
    upload_id = _complete_in_background(client, repo, data, sha256(data))
    assert status(client, repo, upload_id).json()["status"] == "verifying"
    assert len(held.submitted) == 1  # not stalled yet
    monkeypatch.setattr(direct_uploads, "VERIFY_RESUBMIT_SECONDS", -1)
    assert status(client, repo, upload_id).json()["status"] == "verifying"
    assert held.submitted == [(repo, upload_id)] * 2
    held.run()
    assert status(client, repo, upload_id).json()["status"] == "available"


class FailingOnceVerifier(HeldVerifier):
    """Cannot be reached the first time (Lambda throttled, say)."""

    def submit(self, repository: str, upload_id: str) -> None:
        if not getattr(self, "failed", False):
            self.failed = True
            raise RuntimeError("the verifier function could not be invoked")
        super().submit(repository, upload_id)


def test_verifier_unreachable_at_complete_is_retried_on_status(tmp_path: Path) -> None:
    registry = embedded_registry(str(tmp_path), Settings(inline_verify_limit=0))
    client, verifier = RouterClient(Router(registry)), FailingOnceVerifier()
    verifier.registry, registry.direct.verifier = registry, verifier
    repo, data = new_repo(), os.urandom(4000)
    upload_id = _complete_in_background(client, repo, data, sha256(data))  # 202, not 500
    assert verifier.submitted == []
    assert status(client, repo, upload_id).json()["status"] == "verifying"
    assert verifier.submitted == [(repo, upload_id)]
    verifier.run()
    assert status(client, repo, upload_id).json()["status"] == "available"
