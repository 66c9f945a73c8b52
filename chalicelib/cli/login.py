"""`soute login HOST`: log in the way `docker login` does and keep what it keeps, where docker
keeps it, so that docker, podman, skopeo and every Soute client find it (client/credentials.py).

The registry is asked `GET /v2/`; if it challenges, the token service is asked with the user
name and password and `offline_token=true`. A refresh token in the answer is kept as docker's
identity token (`{"auth": base64("USER:"), "identitytoken": …}`, or the user `<token>` in a
credential helper) and the password is not kept at all; a registry that gives none gets the
user name and password. Through the `credsStore` or `credHelpers` helper docker's config names
for the host, if any (`docker-credential-NAME store`); else in config.json, readable by its
owner only.

The scheme is `soute push`'s (client/references.py base_url): plain HTTP for loopback hosts,
HTTPS otherwise, `--tls` or `--insecure` to force one. Exit status, as `soute push`'s: 0 logged
in; 1 nothing to log in to (a registry that asks for no credentials: nothing is stored); 2 bad
usage; 3 credentials refused; 4 the registry could not be reached.

`soute login --aws HOST` needs no password: it stores a presigned STS GetCallerIdentity URL,
signed with the caller's AWS credentials for this registry's service name, as the password of
the user `aws` (see chalicelib/auth/aws_login.py). STS honours such a URL for 15 minutes, so
that is how long the stored password works; then run `soute login --aws` again.
"""

from __future__ import annotations

import argparse
import shutil
import sys

from ..client.challenge import parse_challenge
from ..client.credentials import Credentials, store_credentials
from ..client.errors import EXIT_FAILED, AuthError, PushError, UnreachableError, UsageError
from ..client.references import base_url
from .admin import AdminError, read_password
from .aws_signing import aws_secret


class LoginFailed(AuthError):
    """The registry refused the credentials, or they cannot be made; the message says why."""


class NothingToLogInTo(PushError):
    """The registry asks for no credentials: nothing was stored."""

    exit_code = EXIT_FAILED


def challenge(base: str, verify: bool = True) -> dict[str, str] | None:
    """The challenge of `GET /v2/` (realm, service for Bearer; {} for Basic), or None for an
    open registry."""
    import requests

    from ..client.session import transport_reason

    url = f"{base}/v2/"
    try:
        reply = requests.get(url, timeout=15, verify=verify)
    except requests.exceptions.SSLError as error:
        raise UnreachableError(
            f"TLS with {base.split('://', 1)[1]} failed ({transport_reason(error)}); for a"
            " plain-HTTP registry use --insecure"
        ) from None
    except requests.RequestException as error:
        reason = transport_reason(error)
        raise UnreachableError(f"cannot reach {base} (GET {url}): {reason}") from None
    if reply.status_code == 200:
        return None
    parsed = parse_challenge(reply.headers.get("WWW-Authenticate", ""))
    if reply.status_code != 401 or parsed is None:
        raise PushError(f"{base}/v2/ answered {reply.status_code}: is it a registry?")
    return parsed.params if parsed.scheme == "bearer" else {}


def run_login(args: argparse.Namespace) -> int:
    try:
        return run_aws_login(args) if args.aws else _password_login(args)
    except PushError as error:
        print(f"soute login: {error}", file=sys.stderr)
        return error.exit_code


def _password_login(args: argparse.Namespace) -> int:
    from ..client.session import RegistrySession

    host, insecure, tls = _registry(args)
    if challenge(base_url(host, insecure, tls)) is None:
        raise _open_registry(host)
    account = args.username or _ask_username()
    try:
        secret = read_password(args.password_stdin, confirm=False, minimum=1)
    except AdminError as error:
        raise UsageError(str(error)) from None
    given = Credentials(account, secret)
    session = RegistrySession(host, insecure, [], 1, tls=tls, credentials=given, offline=True)
    session.ping()
    if session.refresh_token:
        given = Credentials(account, identity_token=session.refresh_token)
    where = store_credentials(host, given)
    kept = "an identity token" if session.refresh_token else "the password"
    print(f"Login Succeeded; {kept} for {account} at {host} kept in {where}")
    return 0


def _ask_username() -> str:
    if not sys.stdin.isatty():
        raise UsageError("no user name: pass -u USER")
    try:
        return input("Username: ")
    except EOFError:
        raise UsageError("no user name: pass -u USER") from None


def _open_registry(host: str) -> NothingToLogInTo:
    return NothingToLogInTo(
        f"{host} asks for no credentials (GET /v2/ answered 200): nothing to log in to,"
        " nothing was stored"
    )


def _registry(args: argparse.Namespace) -> tuple[str, bool, bool]:
    """The host as docker's config names it, and whether plain HTTP or HTTPS is forced (an
    `http://` or `https://` prefix forces it as --insecure or --tls does)."""
    scheme, _, rest = args.host.rpartition("://")
    host = rest.split("/", 1)[0]
    if scheme not in ("", "http", "https") or not host:
        raise UsageError(f"{args.host!r} is not a registry host (HOST[:PORT])")
    insecure = args.insecure or scheme == "http"
    tls = args.tls or scheme == "https"
    base_url(host, insecure, tls)  # both forced: a usage error
    return host, insecure, tls


def run_aws_login(args: argparse.Namespace) -> int:
    from ..auth.aws_login import ACCOUNT, STS_WINDOW
    from ..client.session import RegistrySession
    from .credential_helper import HELPER, register

    if not 1 <= args.expires <= STS_WINDOW:
        raise UsageError(f"--expires is between 1 and {STS_WINDOW} seconds")
    host, insecure, tls = _registry(args)
    values = challenge(base_url(host, insecure, tls))
    if values is None:
        raise _open_registry(host)
    if "realm" not in values:
        raise LoginFailed(f"{host} asks for Basic credentials: an AWS login needs token auth")
    service = bound_service(host, values.get("service", ""), args.service)
    secret = aws_secret(service, args.region, args.expires, args.sts_endpoint)
    given = Credentials(ACCOUNT, secret, origin="your AWS login")
    RegistrySession(host, insecure, [], 1, tls=tls, credentials=given).ping()
    if not args.no_helper and shutil.which(f"docker-credential-{HELPER}"):
        path = register(host, service, args.region, args.sts_endpoint)
        print(
            f"Login Succeeded; docker-credential-{HELPER} signs a fresh AWS login for {host} on"
            f" every use (registered in {path})"
        )
        return 0
    where = store_credentials(host, given)
    print(
        f"Login Succeeded; AWS credentials for {host} in {where}, valid for {args.expires} s"
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


def add_login_parser(commands: argparse._SubParsersAction) -> None:
    login = commands.add_parser(
        "login",
        help="log in to a registry, as docker login does (keeps it where docker keeps it)",
        description="Log in the way `docker login` does, and keep what it keeps where docker"
        " keeps it (the credential helper docker's config names for the host, else"
        " config.json): an identity token when the registry gives one, else the password."
        " Loopback hosts are reached over plain HTTP, others over HTTPS.",
        epilog="exit status: 0 logged in; 1 the registry asks for no credentials (nothing"
        " stored); 2 bad usage; 3 credentials refused; 4 the registry could not be reached",
    )
    login.add_argument("host", help="the registry, e.g. registry.example.com or 127.0.0.1:5000")
    login.add_argument("-u", "--username")
    login.add_argument(
        "--password-stdin", action="store_true", help="read the password or token from stdin"
    )
    login.add_argument(
        "--insecure", action="store_true", help="plain HTTP to any host (loopback hosts always)"
    )
    login.add_argument("--tls", action="store_true", help="HTTPS even to a loopback host")
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
