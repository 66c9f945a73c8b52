"""Registry credentials, kept where and how docker keeps them, so that one `docker login` (or
`soute login`) serves docker and every Soute client alike.

`$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`) names, per registry host, either
a credential helper (`credHelpers` for that host, else `credsStore` for all) or an `auths`
entry. A helper is the program `docker-credential-NAME`: `get` reads the host on stdin and
prints `{"Username", "Secret"}`, `store` reads `{"ServerURL", "Username", "Secret"}`. As in
docker, a helper named for a host is the only place looked at for it.

What is kept is a user name with a password, or an identity token: the OAuth2 refresh token a
token server hands out when `docker login` asks with `offline_token=true`. docker writes it as
`{"auth": base64("USER:"), "identitytoken": TOKEN}`, and gives it to a helper as the user
`<token>` with the token as secret. A client exchanges it at the token endpoint with the
`refresh_token` grant (client/session.py).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AuthError

TOKEN_USER = "<token>"  # the helper protocol's user name for an identity token
DOCKER_HUB_KEY = "https://index.docker.io/v1/"  # docker's key for Docker Hub's credentials
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
GIVEN = "the given user name and password"  # typed in, not from docker's store
HELPER_TIMEOUT = 60  # seconds; a helper may ask a keyring, or a human for a passphrase


@dataclass(frozen=True)
class Credentials:
    """A user name with a password, or (`identity_token` set) a refresh token, which is what is
    presented then; `origin` says where they came from, for messages."""

    username: str
    password: str = ""
    identity_token: str = ""
    origin: str = GIVEN
    from_docker: bool = False  # found in docker's store: then `docker login` is the fix

    @property
    def secret(self) -> str:
        """What proves them: the identity token if there is one, else the password."""
        return self.identity_token or self.password


def docker_config_path() -> Path:
    root = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    return Path(root) / "config.json"


def read_config(path: Path) -> dict[str, Any]:
    """docker's config.json, or {} when there is none."""
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise AuthError(f"cannot read docker's config {path}: {exc}; fix or remove it") from exc
    return loaded if isinstance(loaded, dict) else {}


def write_private_json(path: Path, document: dict[str, Any]) -> None:
    """Replace `path` with `document`, readable by its owner only, never half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(document, file, indent="\t")
    os.replace(temporary, path)


def config_key(host: str) -> str:
    """The name docker files a registry's credentials under."""
    return DOCKER_HUB_KEY if host in DOCKER_HUB_HOSTS else host


def _hostname(key: str) -> str:
    """`https://host:port/v1/` → `host:port`, as docker compares `auths` keys."""
    return key.split("://", 1)[-1].split("/", 1)[0]


def helper_for(config: dict[str, Any], host: str) -> str | None:
    """The credential helper docker would ask for `host`, or None for config.json itself."""
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict) and helpers.get(config_key(host)):
        return str(helpers[config_key(host)])
    store = config.get("credsStore")
    return str(store) if store else None


def find_credentials(host: str) -> Credentials | None:
    """The credentials docker would use for `host`, or None when it has none."""
    path = docker_config_path()
    config = read_config(path)
    helper = helper_for(config, host)
    if helper:
        return _from_helper(helper, config_key(host))
    return _from_auths(config, host, path)


def store_credentials(host: str, credentials: Credentials) -> str:
    """Keep `credentials` for `host` where docker looks for them; returns where that is."""
    path = docker_config_path()
    config = read_config(path)
    key = config_key(host)
    helper = helper_for(config, host)
    auths = config.setdefault("auths", {})
    if helper:
        _helper_store(helper, key, credentials)
        auths[key] = {}  # as docker leaves it: the secret is in the helper's keeping
        where = f"docker-credential-{helper}"
    else:
        password = "" if credentials.identity_token else credentials.password
        pair = f"{credentials.username}:{password}".encode()
        entry = {"auth": base64.b64encode(pair).decode()}
        if credentials.identity_token:
            entry["identitytoken"] = credentials.identity_token
        auths[key] = entry
        where = str(path)
    write_private_json(path, config)
    return where


def _from_auths(config: dict[str, Any], host: str, path: Path) -> Credentials | None:
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    key = config_key(host)
    entry = auths.get(key)
    if entry is None:  # docker's normalisation: `https://host/v2/` files `host` too
        entry = next((v for k, v in auths.items() if _hostname(k) == _hostname(key)), None)
    if not isinstance(entry, dict):
        return None
    origin = f"the credentials for {host} in {path}"
    username, password = _decode_auth(str(entry["auth"]), host) if entry.get("auth") else ("", "")
    token = str(entry.get("identitytoken") or "")
    if not (password or token):
        return None
    return Credentials(username, "" if token else password, token, origin, from_docker=True)


def _decode_auth(value: str, host: str) -> tuple[str, str]:
    try:
        user, sep, password = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthError(
            f"docker's credentials for {host} are not valid base64; run `docker login {host}`"
        ) from exc
    if not sep:
        raise AuthError(
            f"docker's credentials for {host} are not user:password; run `docker login {host}`"
        )
    return user, password


def _run_helper(name: str, action: str, data: str) -> subprocess.CompletedProcess[str]:
    program = f"docker-credential-{name}"
    try:
        return subprocess.run(
            [program, action],
            input=data,
            capture_output=True,
            text=True,
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except FileNotFoundError as exc:
        raise AuthError(
            f"docker's config names the credential helper {program}, which is not on PATH;"
            " install it, or remove it from docker's config.json"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise AuthError(f"{program} {action} did not answer in {HELPER_TIMEOUT} s") from exc


def _from_helper(name: str, key: str) -> Credentials | None:
    done = _run_helper(name, "get", key)
    said = (done.stdout.strip() or done.stderr.strip())[:300]
    if done.returncode != 0:
        if "credentials not found" in said.lower():
            return None
        raise AuthError(f"docker-credential-{name} get {key} failed: {said}")
    try:
        answer = json.loads(done.stdout)
        username, secret = str(answer.get("Username") or ""), str(answer.get("Secret") or "")
    except (ValueError, AttributeError) as exc:
        raise AuthError(f"docker-credential-{name} answered something that is not JSON") from exc
    if not secret:  # older helpers answer an empty secret rather than "not found"
        return None
    origin = f"the credentials for {key} from docker-credential-{name}"
    if username == TOKEN_USER:
        return Credentials("", identity_token=secret, origin=origin, from_docker=True)
    return Credentials(username, secret, origin=origin, from_docker=True)


def _helper_store(name: str, key: str, credentials: Credentials) -> None:
    user = TOKEN_USER if credentials.identity_token else credentials.username
    document = {"ServerURL": key, "Username": user, "Secret": credentials.secret}
    done = _run_helper(name, "store", json.dumps(document))
    if done.returncode != 0:
        said = (done.stdout.strip() or done.stderr.strip())[:300]
        raise AuthError(f"docker-credential-{name} store failed: {said}")
