"""Part URLs are fetched in batches and renewed before they expire."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from chalicelib.client import part_sender
from chalicelib.client.model import Blob, FileRange, Upload
from chalicelib.client.part_sender import PartSender
from chalicelib.client.progress import Silent


class _Answer:
    status_code = 200

    def __init__(self, parts: list[dict[str, Any]]) -> None:
        self.parts = parts

    def json(self) -> dict[str, Any]:
        return {"parts": self.parts}


class _Registry:
    """Answers `POST …/parts` with URLs valid for `lifetime` seconds, and records the calls."""

    host = "registry.test"

    def __init__(self, clock: list[float], lifetime: int) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls: list[list[int]] = []

    def url(self, path: str) -> str:
        return path

    def request(self, method: str, path: str, body: Any, headers: Any) -> _Answer:
        numbers = json.loads(body())["numbers"]
        self.calls.append(numbers)
        expires = int(self.clock[0]) + self.lifetime
        return _Answer(
            [{"number": n, "url": f"/p/{n}", "headers": {}, "expires_at": expires} for n in numbers]
        )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1_000_000.0]
    monkeypatch.setattr(part_sender.time, "time", lambda: now[0])
    return now


def test_urls_come_in_batches_of_100(clock: list[float]) -> None:
    registry = _Registry(clock, 3600)
    sender = PartSender(registry, "team/app", 4)  # type: ignore[arg-type]
    sender.prefetch("u1", list(range(1, 251)))
    assert [len(call) for call in registry.calls] == [100, 100, 50]


def test_a_url_close_to_expiry_is_renewed_before_use(clock: list[float]) -> None:
    registry = _Registry(clock, 3600)
    sender = PartSender(registry, "team/app", 4)  # type: ignore[arg-type]
    sender.prefetch("u1", [1, 2])
    assert sender._url("u1", 1, renew=False)["url"] == "/p/1"
    assert registry.calls == [[1, 2]]
    clock[0] += 3600 - 60  # one minute left on part 2's URL
    sender._url("u1", 2, renew=False)
    assert registry.calls == [[1, 2], [2]]


def test_short_lived_urls_are_renewed_at_half_their_life(clock: list[float]) -> None:
    registry = _Registry(clock, 10)
    sender = PartSender(registry, "team/app", 4)  # type: ignore[arg-type]
    sender.prefetch("u1", [1, 2])
    sender._url("u1", 1, renew=False)
    clock[0] += 6
    sender._url("u1", 2, renew=False)
    assert registry.calls == [[1, 2], [2]]


class _Put:
    def __init__(self, status: int, etag: str = "") -> None:
        self.status_code = status
        self.headers = {"ETag": etag} if etag else {}
        self.reason, self.text = "", ""

    def json(self) -> dict[str, Any]:
        raise ValueError("no body")


def test_a_failed_part_is_sent_again_with_a_fresh_url(
    clock: list[float], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    registry = _Registry(clock, 3600)
    sender = PartSender(registry, "team/app", 4)  # type: ignore[arg-type]
    answers: list[Any] = [requests.ConnectionError("reset"), _Put(403), _Put(200, '"e1"')]
    used: list[str] = []

    def put(part: dict[str, Any], body: Any, length: int) -> Any:
        used.append(part["url"])
        assert len(body.read()) == length
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(sender, "_put", put)
    monkeypatch.setattr(part_sender.time, "sleep", lambda _: None)
    data = tmp_path / "blob"
    data.write_bytes(b"x" * 30)
    upload = Upload("u1", part_size=10, part_count=3, received={})
    blob = Blob("sha256:bb", 30, "application/octet-stream", FileRange(data, 0, 30))
    sender.prefetch("u1", [2])
    assert sender.send(upload, 2, FileRange(data, 0, 30), blob, Silent()) == '"e1"'
    assert registry.calls == [[2], [2], [2]]  # the first URL, then a fresh one per retry
    assert used == ["/p/2"] * 3
