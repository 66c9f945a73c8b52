"""`soute login HOST`: check the credentials at the registry's token endpoint, then store them
in docker's config.json (`auths.HOST.auth`), where docker, podman, skopeo and `soute push` look.

Like `docker login` without a credential helper, the file holds the password base64-encoded:
it is written readable by its owner only.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from pathlib import Path

from .admin import AdminError, read_password

_PARAM = re.compile(r'(\w+)="([^"]*)"')


class LoginFailed(Exception):
    """The registry refused the credentials or could not be asked; the message says why."""


def docker_config_path() -> Path:
    directory = os.environ.get("DOCKER_CONFIG") or os.path.join(Path.home(), ".docker")
    return Path(directory) / "config.json"


def check_credentials(base_url: str, account: str, secret: str, verify: bool = True) -> bool:
    """True when the registry needs no credentials; raises LoginFailed when it refuses them."""
    import requests

    try:
        challenge = requests.get(f"{base_url}/v2/", timeout=15, verify=verify)
        if challenge.status_code == 200:
            return True
        values = dict(_PARAM.findall(challenge.headers.get("WWW-Authenticate", "")))
        if challenge.status_code != 401 or "realm" not in values:
            raise LoginFailed(f"{base_url}/v2/ answered {challenge.status_code}, not a challenge")
        query = {"service": values.get("service", ""), "account": account}
        reply = requests.get(
            values["realm"], params=query, auth=(account, secret), timeout=15, verify=verify
        )
    except requests.RequestException as error:
        raise LoginFailed(f"cannot reach {base_url}: {error}") from None
    if reply.status_code != 200:
        raise LoginFailed(_reason(reply))
    return False


def _reason(reply: object) -> str:
    try:
        return reply.json()["errors"][0]["message"]  # type: ignore[attr-defined]
    except (ValueError, KeyError, IndexError, TypeError):
        return f"the token endpoint answered {reply.status_code}"  # type: ignore[attr-defined]


def store_credentials(path: Path, host: str, account: str, secret: str) -> None:
    config = json.loads(path.read_text()) if path.exists() else {}
    pair = base64.b64encode(f"{account}:{secret}".encode()).decode()
    config.setdefault("auths", {})[host] = {"auth": pair}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(config, file, indent="\t")
    os.replace(temporary, path)


def run_login(args: argparse.Namespace) -> int:
    host = args.host.split("://", 1)[-1].rstrip("/")
    scheme = "http" if args.insecure or args.host.startswith("http://") else "https"
    account = args.username or input("Username: ")
    try:
        secret = read_password(args.password_stdin, confirm=False, minimum=1)
        open_registry = check_credentials(f"{scheme}://{host}", account, secret)
    except (LoginFailed, AdminError) as error:
        print(f"soute login: {error}", file=sys.stderr)
        return 1
    path = docker_config_path()
    store_credentials(path, host, account, secret)
    note = " (the registry does not ask for credentials)" if open_registry else ""
    print(f"Login Succeeded{note}; credentials for {host} in {path}")
    return 0


def add_login_parser(commands: argparse._SubParsersAction) -> None:
    login = commands.add_parser("login", help="log in to a registry (writes docker's config.json)")
    login.add_argument("host", help="the registry, e.g. registry.example.com or 127.0.0.1:5000")
    login.add_argument("-u", "--username")
    login.add_argument(
        "--password-stdin", action="store_true", help="read the password or token from stdin"
    )
    login.add_argument("--insecure", action="store_true", help="plain HTTP (a local registry)")
    login.set_defaults(run=run_login)
