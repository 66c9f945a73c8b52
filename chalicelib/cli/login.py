"""`soute login HOST`: check the credentials at the registry's token endpoint, then store them
in docker's config.json (`auths.HOST.auth`), where docker, podman, skopeo and `soute push` look.

Like `docker login` without a credential helper, the file holds the password base64-encoded:
it is written readable by its owner only.

`soute login --aws HOST` needs no password: it stores a presigned STS GetCallerIdentity URL,
signed with the caller's AWS credentials for this registry's service name, as the password of
the user `aws` (see chalicelib/auth/aws_login.py). STS honours such a URL for 15 minutes, so
that is how long the stored password works; then run `soute login --aws` again.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..client.challenge import parse_challenge
from ..client.credentials import docker_config_path
from .admin import AdminError, read_password


class LoginFailed(Exception):
    """The registry refused the credentials or could not be asked; the message says why."""


def challenge(base_url: str, verify: bool = True) -> dict[str, str] | None:
    """The Bearer challenge of `GET /v2/` (realm, service), or None for an open registry."""
    import requests

    try:
        reply = requests.get(f"{base_url}/v2/", timeout=15, verify=verify)
    except requests.RequestException as error:
        raise LoginFailed(f"cannot reach {base_url}: {error}") from None
    if reply.status_code == 200:
        return None
    parsed = parse_challenge(reply.headers.get("WWW-Authenticate", ""))
    values = parsed.params if parsed else {}
    if reply.status_code != 401 or "realm" not in values:
        raise LoginFailed(f"{base_url}/v2/ answered {reply.status_code}, not a challenge")
    return values


def check_credentials(base_url: str, account: str, secret: str, verify: bool = True) -> bool:
    """True when the registry needs no credentials; raises LoginFailed when it refuses them."""
    values = challenge(base_url, verify)
    if values is None:
        return True
    ask_for_token(values, account, secret, verify)
    return False


def ask_for_token(values: dict[str, str], account: str, secret: str, verify: bool = True) -> None:
    """Log in at the realm of challenge `values`; raises LoginFailed when refused."""
    import requests

    try:
        query = {"service": values.get("service", ""), "account": account}
        reply = requests.get(
            values["realm"], params=query, auth=(account, secret), timeout=15, verify=verify
        )
    except requests.RequestException as error:
        raise LoginFailed(f"cannot reach {values['realm']}: {error}") from None
    if reply.status_code != 200:
        raise LoginFailed(_reason(reply))


def _reason(reply: object) -> str:
    try:
        return reply.json()["errors"][0]["message"]  # type: ignore[attr-defined]
    except (ValueError, KeyError, IndexError, TypeError):
        return f"the token endpoint answered {reply.status_code}"  # type: ignore[attr-defined]


def store_credentials(path: Path, host: str, account: str, secret: str) -> None:
    config = json.loads(path.read_text()) if path.exists() else {}
    pair = base64.b64encode(f"{account}:{secret}".encode()).decode()
    config.setdefault("auths", {})[host] = {"auth": pair}
    write_private_json(path, config)


def write_private_json(path: Path, document: dict[str, Any]) -> None:
    """Replace `path` with `document`, readable by its owner only, never half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(document, file, indent="\t")
    os.replace(temporary, path)


def run_login(args: argparse.Namespace) -> int:
    if args.aws:
        return run_aws_login(args)
    host, base_url = _registry(args)
    account = args.username or input("Username: ")
    try:
        secret = read_password(args.password_stdin, confirm=False, minimum=1)
        open_registry = check_credentials(base_url, account, secret)
    except (LoginFailed, AdminError) as error:
        print(f"soute login: {error}", file=sys.stderr)
        return 1
    path = docker_config_path()
    store_credentials(path, host, account, secret)
    note = " (the registry does not ask for credentials)" if open_registry else ""
    print(f"Login Succeeded{note}; credentials for {host} in {path}")
    return 0


def _registry(args: argparse.Namespace) -> tuple[str, str]:
    """The host as config.json names it, and the registry's base URL."""
    host = args.host.split("://", 1)[-1].rstrip("/")
    scheme = "http" if args.insecure or args.host.startswith("http://") else "https"
    return host, f"{scheme}://{host}"


def run_aws_login(args: argparse.Namespace) -> int:
    from ..auth.aws_login import ACCOUNT, STS_WINDOW
    from .credential_helper import HELPER, register

    if not 1 <= args.expires <= STS_WINDOW:
        print(f"soute login: --expires is between 1 and {STS_WINDOW} seconds", file=sys.stderr)
        return 2
    host, base_url = _registry(args)
    try:
        values = challenge(base_url)
        if values is None:
            raise LoginFailed(f"{host} does not ask for credentials: nothing to log in to")
        service = bound_service(host, values.get("service", ""), args.service)
        secret = aws_secret(service, args.region, args.expires, args.sts_endpoint)
        ask_for_token(values, ACCOUNT, secret)
    except LoginFailed as error:
        print(f"soute login: {error}", file=sys.stderr)
        return 1
    if not args.no_helper and shutil.which(f"docker-credential-{HELPER}"):
        path = register(host, service, args.region, args.sts_endpoint)
        print(
            f"Login Succeeded; docker-credential-{HELPER} signs a fresh AWS login for {host} on"
            f" every use (registered in {path})"
        )
        return 0
    path = docker_config_path()
    store_credentials(path, host, ACCOUNT, secret)
    print(
        f"Login Succeeded; AWS credentials for {host} in {path}, valid for {args.expires} s"
        f" (then run soute login --aws again; put docker-credential-{HELPER} on PATH to have"
        " fresh ones on every use)"
    )
    return 0


def bound_service(host: str, announced: str, chosen: str | None) -> str:
    """The service name to sign an AWS login for. The registry names it, but a registry could
    name another registry's: the signed request would then log in there as you. So the name
    must be the host you typed (with or without its port), or the one you pass with --service."""
    expected = {chosen} if chosen else {host, host.rsplit(":", 1)[0] if ":" in host else host}
    if announced in expected:
        return announced
    hint = f" If you trust {host} with your AWS identity there, pass --service {announced}."
    raise LoginFailed(
        f"{host} names its service {announced!r}, not {' or '.join(sorted(expected))}: an AWS"
        " login is valid wherever that name is served, so it is only signed for the registry"
        " you named." + ("" if chosen else hint)
    )


def aws_secret(service: str, region: str | None, expires: int, endpoint: str | None) -> str:
    """A presigned STS GetCallerIdentity URL for `service`, as an AWS login password."""
    import boto3
    from botocore.exceptions import BotoCoreError

    from ..auth.aws_login import SERVICE_HEADER, encode_secret

    def sign_service(request: object, **_: object) -> None:
        # Signed, so the URL is refused by STS unless sent with this header and value: the
        # registry sends its own service name, so a URL made for one registry fails elsewhere.
        request.headers[SERVICE_HEADER] = service  # type: ignore[attr-defined]

    try:
        session = boto3.Session(region_name=region)
        region = session.region_name or "us-east-1"
        suffix = ".amazonaws.com.cn" if region.startswith("cn-") else ".amazonaws.com"
        sts = session.client(
            "sts", region_name=region, endpoint_url=endpoint or f"https://sts.{region}{suffix}"
        )
        sts.meta.events.register("before-sign.sts.GetCallerIdentity", sign_service)
        url = sts.generate_presigned_url(
            "get_caller_identity", Params={}, ExpiresIn=expires, HttpMethod="GET"
        )
    except BotoCoreError as error:  # no credentials, a broken profile
        raise LoginFailed(f"cannot sign with your AWS credentials: {error}") from None
    return encode_secret(url)


def add_login_parser(commands: argparse._SubParsersAction) -> None:
    login = commands.add_parser("login", help="log in to a registry (writes docker's config.json)")
    login.add_argument("host", help="the registry, e.g. registry.example.com or 127.0.0.1:5000")
    login.add_argument("-u", "--username")
    login.add_argument(
        "--password-stdin", action="store_true", help="read the password or token from stdin"
    )
    login.add_argument("--insecure", action="store_true", help="plain HTTP (a local registry)")
    login.add_argument(
        "--aws",
        action="store_true",
        help="log in with your AWS credentials (user aws, a presigned STS URL as password):"
        " through docker-credential-soute, fresh on every use, when it is on PATH; otherwise"
        " stored, valid at most 15 minutes (STS's limit)",
    )
    login.add_argument("--region", help="--aws: the STS region (default: your AWS configuration's)")
    login.add_argument(
        "--expires",
        type=int,
        default=900,
        help="--aws: seconds the password stays valid, at most 900 (the default)",
    )
    login.add_argument(
        "--sts-endpoint", help="--aws: an STS emulator's URL (tests); default the regional STS"
    )
    login.add_argument(
        "--service",
        help="--aws: the service name to sign for, when the registry's is not its host name"
        " (check it with the registry's operators: a login signed for a name is valid wherever"
        " that name is served)",
    )
    login.add_argument(
        "--no-helper",
        action="store_true",
        help="--aws: store a password valid --expires seconds even when the credential helper"
        " docker-credential-soute is on PATH (by default docker is told to ask it instead)",
    )
    login.set_defaults(run=run_login)
