"""Limits per namespace on open direct uploads (issue 10, A2), the same on SQLite and on
DynamoDB (moto): how many uploads one namespace holds open and the bytes they declare, counted
in one record per namespace with a conditional write."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from chalicelib.oci.errors import OCIError
from chalicelib.registry.service import Registry
from chalicelib.registry.settings import Settings
from chalicelib.server.backends import build_registry, embedded_registry
from tests.support.moto import aws_backend

MiB = 1 << 20
DIGEST = "sha256:" + "2" * 64
LIMITS = {"max_open_uploads": 3, "max_upload_bytes": 100 * MiB}


@pytest.fixture(params=["embedded", "aws"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Registry:
    if request.param == "embedded":
        return embedded_registry(str(tmp_path), Settings(**LIMITS))
    return build_registry(aws_backend(request.getfixturevalue("moto_endpoint"), **LIMITS))


def _start(registry: Registry, repository: str, size: int = 10 * MiB) -> str:
    upload, _ = registry.direct.initiate(repository, DIGEST, size, "http://r")
    return upload.upload_id


def test_open_uploads_per_namespace_are_capped(registry: Registry) -> None:
    first = _start(registry, "acme/a")
    _start(registry, "acme/b")
    _start(registry, "acme/b/c")
    with pytest.raises(OCIError) as refused:
        _start(registry, "acme/d")
    assert refused.value.status == 429 and refused.value.code == "TOOMANYREQUESTS"
    message = refused.value.message
    assert "namespace acme has 3 direct uploads open" in message
    assert "--max-open-uploads" in message and "SOUTE_MAX_OPEN_UPLOADS" in message
    _start(registry, "other/a")  # another namespace has its own count
    registry.direct.abort("acme/a", first)  # a finished upload no longer counts
    _start(registry, "acme/d")


def test_declared_bytes_per_namespace_are_capped(registry: Registry) -> None:
    _start(registry, "big/a", 60 * MiB)
    with pytest.raises(OCIError) as refused:
        _start(registry, "big/b", 50 * MiB)
    assert refused.value.status == 429
    assert f"pass the {100 * MiB} bytes one namespace may declare" in refused.value.message
    assert "--max-upload-bytes" in refused.value.message
    _start(registry, "big/b", 40 * MiB)  # up to the limit exactly


def test_concurrent_initiates_never_pass_the_limit(registry: Registry) -> None:
    started: list[str] = []
    refused: list[int] = []
    others: list[BaseException] = []

    def client(n: int) -> None:
        try:
            started.append(_start(registry, f"race/r{n}"))
        except OCIError as error:
            refused.append(error.status)
        except BaseException as error:  # noqa: BLE001 - reported below
            others.append(error)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert others == []
    assert len(started) == 3 and refused == [429] * 5
