"""The image verbs against `soute serve --auth`, with the credentials `soute login` wrote to
docker's config: what an account may see and delete, and a refusal (no login, a password
changed since, no access) is exit 3 with one line that says what to do."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from chalicelib.auth.model import User
from chalicelib.auth.passwords import hash_password
from chalicelib.storage.embedded.sqlite_identities import FILE, SqliteIdentityStore
from tests.images.runner import Soute, copy
from tests.support.clients import Skopeo
from tests.support.images import build_image
from tests.support.server import RegistryServer

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


@pytest.fixture
def soute(tmp_path: Path) -> Soute:
    return Soute(tmp_path / "home")


def _login(soute: Soute, server: RegistryServer, user: str, password: str) -> None:
    soute.ok(
        "login", server.address, "--insecure", "-u", user, "--password-stdin", stdin=password + "\n"
    )


def _new_user(server: RegistryServer, password: str) -> str:
    name = f"u{uuid.uuid4().hex[:10]}"
    SqliteIdentityStore(str(server.data_dir / FILE)).add_user(User(name, hash_password(password)))
    return name


def _push(skopeo: Skopeo, server: RegistryServer, tmp_path: Path, repo: str, creds: str) -> str:
    image = build_image(tmp_path / uuid.uuid4().hex, [1000], tag="v1")
    copy(skopeo, image.ref, f"{server.address}/{repo}:v1", "--dest-creds", creds)
    return image.manifest_digest


def test_a_logged_in_user_lists_inspects_and_deletes_in_their_namespace(
    soute: Soute, embedded_auth_server: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    server = embedded_auth_server
    owner = _new_user(server, "pw")
    digest = _push(skopeo, server, tmp_path, f"{owner}/app", f"{owner}:pw")
    _push(skopeo, server, tmp_path, "dev/theirs", "dev:pw")
    _login(soute, server, owner, "pw")
    ref = f"{server.address}/{owner}/app"
    assert soute.ok("ls", server.address, "--json").json()["repositories"] == [f"{owner}/app"]
    assert soute.ok("tags", ref, "--json").json()["tags"] == ["v1"]
    assert soute.ok("inspect", f"{ref}:v1", "--json").json()["digest"] == digest
    assert soute.ok("rm", f"{ref}:v1").out.startswith(f"deleted tag {ref}:v1")
    soute.ok("rm", f"{ref}@{digest}")
    assert "not found" in soute.fails(5, "inspect", f"{ref}@{digest}")


def test_no_access_is_exit_3(
    soute: Soute, embedded_auth_server: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    server = embedded_auth_server
    digest = _push(skopeo, server, tmp_path, "dev/private", "dev:pw")
    ref = f"{server.address}/dev/private"
    anonymous = soute.fails(3, "inspect", f"{ref}:v1")
    assert "docker login" in anonymous, anonymous
    _login(soute, server, _new_user(server, "pw"), "pw")
    assert soute.ok("ls", server.address, "--json").json()["repositories"] == []
    for args in (["inspect", f"{ref}:v1"], ["tags", ref], ["rm", f"{ref}@{digest}"]):
        message = soute.fails(3, *args)
        assert "access" in message or "docker login" in message, message


def test_a_password_changed_since_login_is_exit_3(
    soute: Soute, embedded_auth_server: RegistryServer
) -> None:
    server = embedded_auth_server
    name = _new_user(server, "before")
    _login(soute, server, name, "before")
    SqliteIdentityStore(str(server.data_dir / FILE)).set_password(name, hash_password("after"))
    message = soute.fails(3, "ls", server.address)
    assert "refused" in message, message


def test_every_verb_through_both_front_ends(
    soute: Soute, auth_server: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    """`soute serve --auth` and `soute serve --lambda --auth` (S3 and DynamoDB on moto, as
    deployed): ls, tags, inspect and rm after `soute login`."""
    repo = f"dev/verbs{uuid.uuid4().hex[:8]}"
    digest = _push(skopeo, auth_server, tmp_path, repo, "dev:pw")
    _login(soute, auth_server, "dev", "pw")
    ref = f"{auth_server.address}/{repo}"
    assert (
        repo
        in soute.ok("ls", f"{auth_server.address}/dev", "-n", "2", "--json").json()["repositories"]
    )
    assert soute.ok("tags", ref, "--json").json()["tags"] == ["v1"]
    seen = soute.ok("inspect", f"{ref}:v1", "--json").json()
    assert seen["digest"] == digest and seen["referrersSource"] == "api"
    soute.ok("rm", f"{ref}:v1")
    assert soute.ok("tags", ref, "--json").json()["tags"] == []
    soute.ok("rm", f"{ref}@{digest}")
    assert "not found" in soute.fails(5, "inspect", f"{ref}@{digest}")
