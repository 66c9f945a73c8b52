"""The token endpoint of the distribution token-auth spec: `GET /token` (Basic credentials,
`service`, `scope`..., `account`, `offline_token`) as docker uses it, and `POST /token` (the
OAuth2 form with the password and refresh_token grants) as containerd uses it.

The token grants the intersection of the asked and the allowed actions; a scope the caller may
not have is left out rather than failing the request, as the spec says, and so is a repository
scope whose name the router would refuse (as distribution's token server leaves out the scopes
it cannot use). No credential, token or password ever reaches a log line: only account names
and outcomes.
"""

from __future__ import annotations

import base64
import logging
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs

from ..auth import audit
from ..auth.authenticator import AWS, LoginThrottled
from ..auth.aws_login import StsUnavailable
from ..auth.context import AuthContext
from ..auth.model import ANONYMOUS, Principal
from ..auth.permissions import grant
from ..auth.scopes import Scope, ScopeInvalid, parse_scopes
from ..auth.throttle import CounterUnavailable
from ..auth.tokens import TokenInvalid
from ..oci.errors import OCIError
from ..oci.names import MAX_NAME_LENGTH, NAME_PATTERN, routing_problem
from .messages import Request, Response

log = logging.getLogger("soute.auth")

FORM_LIMIT = 16 * 1024


def get_token(context: AuthContext, request: Request) -> Response:
    _check_service(context, request.arg("service"))
    scopes = _scopes(request.query.get("scope", []))
    principal = _basic_login(context, request)
    offline = request.arg("offline_token") == "true"
    return _answer(context, principal, scopes, offline)


def post_token(context: AuthContext, request: Request) -> Response:
    form = _form(request)
    _check_service(context, _one(form, "service"))
    scopes = _scopes(form.get("scope", []))
    grant_type = _one(form, "grant_type")
    if grant_type == "password":
        account, secret = _one(form, "username") or "", _one(form, "password") or ""
        principal = _login(context, account, secret, _source(request))
    elif grant_type == "refresh_token":
        principal = _refreshed(context, _one(form, "refresh_token") or "")
    else:
        raise OCIError("UNSUPPORTED", "grant_type must be password or refresh_token")
    offline = _one(form, "access_type") == "offline"
    return _answer(context, principal, scopes, offline)


def _answer(
    context: AuthContext, principal: Principal, scopes: list[Scope], offline: bool
) -> Response:
    granted = grant(principal, scopes, context.store)
    subject = context.authenticator.subject(principal)
    now = time.time()
    token = context.tokens.issue(subject, granted, now)
    document = {
        "token": token,
        "access_token": token,
        "expires_in": context.tokens.expires,
        "issued_at": datetime.fromtimestamp(int(now), UTC).isoformat().replace("+00:00", "Z"),
        "scope": " ".join(str(scope) for scope in granted),
    }
    # An AWS login lives as long as its IAM session proves it: no refresh token to outlive it.
    if offline and not principal.anonymous and principal.kind != AWS:
        stamp = context.authenticator.stamp(subject)
        document["refresh_token"] = context.refresh.issue(subject, [], now, stamp)
    return Response.json(200, document, {"Cache-Control": "no-store"})


def _basic_login(context: AuthContext, request: Request) -> Principal:
    header = request.header("authorization") or ""
    kind, _, encoded = header.partition(" ")
    if kind.lower() != "basic":
        return ANONYMOUS  # anonymous: public pulls and the (filtered) catalog only
    try:
        account, sep, secret = base64.b64decode(encoded.strip()).decode().partition(":")
    except ValueError:  # binascii.Error, non-ASCII text, UnicodeDecodeError: all ValueErrors
        account, sep, secret = "", "", ""
    if not sep:
        raise _bad_credentials("the Basic credentials are malformed")
    return _login(context, account, secret, _source(request))


def _login(context: AuthContext, account: str, secret: str, source: str) -> Principal:
    try:
        principal = context.authenticator.login(account, secret, source)
    except LoginThrottled:
        _audit(context, account, audit.LOGIN_THROTTLED, source)
        raise OCIError(
            "TOOMANYREQUESTS", "too many failed logins; wait a few minutes and try again"
        ) from None
    except StsUnavailable:
        raise OCIError(
            "UNAVAILABLE",
            "AWS STS did not answer, so the AWS login could not be checked; try again shortly",
            headers={"Retry-After": "5"},
        ) from None
    except CounterUnavailable:
        # Closed, not open: see chalicelib/auth/throttle.py. The login may simply be retried.
        log.error("failed-login counter unavailable; login refused: account=%s", account)
        raise OCIError(
            "UNAVAILABLE",
            "logins are unavailable for a moment (the failed-login counter did not answer); "
            "try again shortly",
            headers={"Retry-After": "5"},
        ) from None
    if principal is None:
        _audit(context, account, audit.LOGIN_FAILED, source)
        raise _bad_credentials("wrong user name or password")
    # The principal's own name: a robot's `ns+name` and an AWS login's ARN (its account is
    # always "aws"), whatever the account typed.
    actor = principal.name
    _audit(context, actor, audit.LOGIN, source, principal.kind)
    return principal


def _audit(context: AuthContext, account: str, action: str, source: str, kind: str = "") -> None:
    # Names and outcomes only: the secret never leaves _login.
    log.info("%s: account=%s source=%s", action, account, source or "-")
    context.audit.record(audit.AuditEvent(account, action, kind, source))


def _refreshed(context: AuthContext, refresh_token: str) -> Principal:
    try:
        grant = context.refresh.verify(refresh_token)
    except TokenInvalid:
        raise _bad_credentials("the refresh token is invalid or expired; log in again") from None
    if grant.stamp != context.authenticator.stamp(grant.subject):
        raise _bad_credentials("the password changed since this refresh token; log in again")
    principal = context.authenticator.principal(grant.subject)
    if principal.anonymous:  # the user or token is gone or revoked
        raise _bad_credentials("the account of this refresh token no longer exists")
    return principal


def _bad_credentials(message: str) -> OCIError:
    return OCIError("UNAUTHORIZED", message, headers={"WWW-Authenticate": 'Basic realm="soute"'})


def _check_service(context: AuthContext, service: str | None) -> None:
    if service is not None and service != context.service:
        raise OCIError(
            "UNSUPPORTED", f"this token service is for {context.service!r}, not {service!r}"
        )


def _scopes(values: list[str]) -> list[Scope]:
    try:
        scopes = parse_scopes(values)
    except ScopeInvalid as error:
        raise OCIError("UNSUPPORTED", str(error)) from None
    return [scope for scope in scopes if scope.type != "repository" or _routable(scope.name)]


def _routable(name: str) -> bool:
    """Whether the router accepts `name` (oci/names.py's grammar): a token for any other name
    could act on nothing, and `acme/app\n` must not be granted as if it were `acme/app`."""
    if len(name) > MAX_NAME_LENGTH or NAME_PATTERN.fullmatch(name) is None:
        return False
    return routing_problem(name) is None


def _form(request: Request) -> dict[str, list[str]]:
    data = request.read_body(FORM_LIMIT)
    if len(data) > FORM_LIMIT:
        raise OCIError("UNSUPPORTED", "the token request form is too large", status=413)
    try:
        return parse_qs(data.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        raise OCIError("UNSUPPORTED", "the token request form is not UTF-8") from None


def _one(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _source(request: Request) -> str:
    """The client's address as the front end saw it (not X-Forwarded-For, which any client
    can write); empty when unknown."""
    return request.source
