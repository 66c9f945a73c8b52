"""Blobs the registry verifies in the background: the client polls the upload's status until
the blob is available, and retries a manifest refused with 409 and Retry-After."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.client import direct_upload, push
from chalicelib.client.direct_upload import DirectUploader
from chalicelib.client.model import Blob, FileRange, Manifest
from chalicelib.client.progress import Silent
from chalicelib.client.push import Pusher, PushOptions
from chalicelib.client.references import Destination
from chalicelib.client.resume_state import ResumeState


class _Answer:
    def __init__(self, status: int, doc: dict[str, Any] | None = None, **headers: str) -> None:
        self.status_code = status
        self.doc = doc or {}
        self.headers = headers
        self.reason = ""
        self.text = json.dumps(self.doc)

    def json(self) -> dict[str, Any]:
        return self.doc


class _Registry:
    """Answers from a script: (method, path prefix) → answers in order; records requests."""

    host = "registry.test"

    def __init__(self, script: dict[tuple[str, str], list[_Answer]]) -> None:
        self.script = script
        self.seen: list[tuple[str, str]] = []

    def url(self, path: str) -> str:
        return path

    def request(self, method: str, path: str, body: Any = None, headers: Any = None) -> _Answer:
        self.seen.append((method, path))
        for (want_method, prefix), answers in self.script.items():
            if method == want_method and path.startswith(prefix):
                return answers.pop(0) if len(answers) > 1 else answers[0]
        raise AssertionError(f"unexpected {method} {path}")


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(direct_upload.time, "sleep", lambda _: None)
    monkeypatch.setattr(push.time, "sleep", lambda _: None)


def _status(status: str) -> _Answer:
    return _Answer(200, {"status": status, "size": 10, "part_size": 8 << 20, "part_count": 1})


def test_resumed_upload_that_is_verifying_waits_for_it(tmp_path: Path) -> None:
    api = "/v2/_soute/uploads/u1"
    registry = _Registry(
        {("GET", api): [_status("verifying"), _status("verifying"), _status("available")]}
    )
    state = ResumeState(tmp_path / "state.json")
    key = ResumeState.key(registry.host, "team/app", "sha256:aa")
    state.put(key, "u1")
    blob = Blob("sha256:aa", 10, "application/octet-stream", FileRange(tmp_path, 0, 10))
    uploader = DirectUploader(registry, None, "team/app", state, 2)  # type: ignore[arg-type]
    assert uploader.upload(blob, Silent()) == "resumed"
    assert [m for m, _ in registry.seen] == ["GET", "GET", "GET"]
    assert state.get(key) is None


def test_manifest_refused_while_blobs_verify_is_retried(tmp_path: Path) -> None:
    path = "/v2/team/app/manifests/v1"
    registry = _Registry(
        {("PUT", path): [_Answer(409, {}, **{"Retry-After": "2"}), _Answer(409), _Answer(201)]}
    )
    registry.script[("PUT", path)][1].headers["Retry-After"] = "1"
    pusher = Pusher(
        registry,  # type: ignore[arg-type]
        Destination("registry.test", "team/app", "v1"),
        PushOptions(),
        ResumeState(tmp_path / "state.json"),
        Silent(),
    )
    pusher._manifest(Manifest("application/vnd.oci.image.manifest.v1+json", b"{}"), "v1")
    assert registry.seen == [("PUT", path)] * 3
