"""Registry credentials, found where docker finds them: `$DOCKER_CONFIG/config.json` (default
`~/.docker/config.json`): `auths` entries (base64 `user:password`), and credential helpers
(`credHelpers` per host, `credsStore` for all) run as `docker-credential-NAME get`."""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import AuthError


@dataclass(frozen=True)
class Credentials:
    """A user name and password (or an identity token, with the user `<token>`)."""

    username: str
    password: str


def docker_config_path() -> Path:
    root = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    return Path(root) / "config.json"


def _load_config(path: Path) -> dict[str, object]:
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise AuthError(f"cannot read docker credentials from {path}: {exc}") from exc
    return loaded if isinstance(loaded, dict) else {}


def _host_keys(host: str) -> list[str]:
    """The spellings docker uses as `auths` keys for one registry host."""
    return [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/"]


def _from_auths(config: dict[str, object], host: str) -> Credentials | None:
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    for key in _host_keys(host):
        entry = auths.get(key)
        if isinstance(entry, dict) and entry.get("auth"):
            return _decode_auth(str(entry["auth"]), host)
        if isinstance(entry, dict) and entry.get("identitytoken"):
            return Credentials("<token>", str(entry["identitytoken"]))
    return None


def _decode_auth(value: str, host: str) -> Credentials:
    try:
        user, sep, password = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthError(f"the docker credentials for {host} are not valid base64") from exc
    if not sep:
        raise AuthError(f"the docker credentials for {host} are not user:password")
    return Credentials(user, password)


def _helper_name(config: dict[str, object], host: str) -> str | None:
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict) and helpers.get(host):
        return str(helpers[host])
    store = config.get("credsStore")
    return str(store) if store else None


def _from_helper(name: str, host: str) -> Credentials | None:
    program = f"docker-credential-{name}"
    try:
        done = subprocess.run(
            [program, "get"], input=host, capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError as exc:
        raise AuthError(
            f"docker's config names the credential helper {program!r}, which is not installed"
        ) from exc
    if done.returncode != 0:
        if "credentials not found" in (done.stdout + done.stderr).lower():
            return None
        raise AuthError(f"{program} get {host} failed: {done.stderr.strip() or done.stdout}")
    try:
        answer = json.loads(done.stdout)
    except ValueError as exc:
        raise AuthError(f"{program} answered something that is not JSON") from exc
    return Credentials(str(answer.get("Username", "")), str(answer.get("Secret", "")))


def find_credentials(host: str) -> Credentials | None:
    """The credentials docker would use for `host`, or None."""
    config = _load_config(docker_config_path())
    helper = _helper_name(config, host)
    if helper:
        found = _from_helper(helper, host)
        if found:
            return found
    return _from_auths(config, host)
