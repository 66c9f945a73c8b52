"""The embedded data directory is private whatever the umask: it holds password and token
hashes, the audit log, signing keys and private blobs. Directories 0700, files 0600 (SQLite's
own -wal and -shm files included), and one warning line when an existing directory is wider."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.api.router import Router
from chalicelib.auth.model import User
from chalicelib.auth.passwords import hash_password
from chalicelib.server.backends import BackendOptions, build_auth, build_registry
from tests.contract.client import RouterClient, image_manifest, put_manifest
from tests.support.token_client import TokenClient


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _use_everything(data_dir: Path) -> None:
    """Create every file the embedded backend keeps: metadata, blobs, an upload in progress,
    a direct upload's part-URL key and nonces, identities, the audit log, failed-login counts
    and the token signing key."""
    options = BackendOptions(data_dir=str(data_dir), auth=True)
    context = build_auth(options)
    assert context is not None
    context.store.add_user(User("root", hash_password("pw"), admin=True))
    router = Router(build_registry(options), context)
    client = TokenClient(RouterClient(router), "root", "pw")
    body = image_manifest(client, "root/app")
    assert put_manifest(client, "root/app", "v1", body).status == 201
    assert TokenClient(RouterClient(router), "root", "wrong").request("GET", "/v2/").status == 401
    assert client.request("POST", "/v2/root/app/blobs/uploads/").status == 202
    data = os.urandom(100)
    document = {"repository": "root/app", "digest": _sha256(data), "size": len(data)}
    reply = client.request(
        "POST",
        "/v2/_soute/uploads",
        params={"repository": "root/app"},
        headers={"Content-Type": "application/json"},
        data=json.dumps(document).encode(),
    )
    assert reply.status == 201, reply.body


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _modes(root: Path) -> dict[str, str]:
    found = {".": oct(stat.S_IMODE(root.stat().st_mode))}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


@pytest.mark.parametrize("umask", [0o022, 0o002], indirect=True)
def test_the_data_directory_is_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    data_dir = tmp_path / "new" / "data"
    _use_everything(data_dir)
    modes = _modes(data_dir)
    names = {Path(name).name for name in modes}
    assert {"metadata.sqlite-wal", "metadata.sqlite-shm", "part-url.key"} <= names, modes
    assert any(name.startswith("blobs/sha256/") for name in modes), modes
    assert any(name.startswith("uploads/") for name in modes), modes
    wrong = {
        name: mode
        for name, mode in modes.items()
        if mode != ("0o700" if (data_dir / name).is_dir() else "0o600")
    }
    assert wrong == {}, wrong
    assert oct(stat.S_IMODE((tmp_path / "new").stat().st_mode)) == "0o700"  # parents made too


def test_an_existing_wider_data_directory_is_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "shared"
    data_dir.mkdir()
    data_dir.chmod(0o755)
    options = BackendOptions(data_dir=str(data_dir))
    with caplog.at_level(logging.WARNING, logger="soute"):
        build_registry(options)
        build_registry(options)
    lines = [r.getMessage() for r in caplog.records if "chmod 700" in r.getMessage()]
    assert len(lines) == 1, caplog.text
    assert str(data_dir) in lines[0] and "755" in lines[0]
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o755  # the admin's choice, not changed
