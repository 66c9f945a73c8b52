"""Getting a Bearer token from the realm a registry's challenge names (the distribution token
auth spec), with whatever docker keeps for the registry:

- a user name and password: `GET realm?service=…&scope=…` with Basic credentials, as docker
  does (with `offline_token=true`, as `docker login` asks, the answer may carry a refresh token);
- an identity token (that refresh token): the OAuth2 form `POST realm` with
  `grant_type=refresh_token`, as docker, containerd and podman do. A realm that does not take
  the form (404 or 405, or a bare 401 without an error it explains) gets the GET with the
  identity token as Basic password instead, as containerd and buildkit fall back;
- nothing: the GET without credentials (anonymous pulls).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests

from .credentials import Credentials
from .errors import AuthError, UnreachableError

CLIENT_ID = "soute"
TIMEOUT = (15, 60)
NOT_A_FORM_ENDPOINT = (404, 405)


@dataclass(frozen=True)
class TokenRequest:
    """What to ask the realm for: the challenge's service and the scopes."""

    realm: str
    service: str | None
    scopes: list[str]
    offline: bool = False  # ask for a refresh token too, as `docker login` does


@dataclass(frozen=True)
class Token:
    """A Bearer token, and the refresh token the realm gave with it (asked offline) or ""."""

    token: str
    refresh_token: str = ""


def fetch_token(
    http: requests.Session, asked: TokenRequest, credentials: Credentials | None
) -> Token:
    """A token for `asked`, presenting `credentials`; AuthError when the realm refuses."""
    if credentials and credentials.identity_token:
        return _refresh(http, asked, credentials)
    return _get(http, asked, credentials)


def _params(asked: TokenRequest) -> list[tuple[str, str]]:
    params = [("service", asked.service)] if asked.service is not None else []
    return params + [("scope", scope) for scope in asked.scopes]


def _get(http: requests.Session, asked: TokenRequest, credentials: Credentials | None) -> Token:
    params = _params(asked)
    if asked.offline and credentials:
        params += [("offline_token", "true"), ("client_id", CLIENT_ID)]
        params.append(("account", credentials.username))
    auth = (credentials.username, credentials.secret) if credentials else None
    answer = _send(http, "GET", asked.realm, params=params, auth=auth)
    if answer.status_code != 200:
        raise _refused(asked.realm, answer, credentials)
    return _token_from(answer, asked.realm)


def _refresh(http: requests.Session, asked: TokenRequest, credentials: Credentials) -> Token:
    form = [("service", asked.service)] if asked.service is not None else []
    form += [
        ("scope", " ".join(asked.scopes)),
        ("grant_type", "refresh_token"),
        ("refresh_token", credentials.identity_token),
        ("client_id", CLIENT_ID),
    ]
    answer = _send(http, "POST", asked.realm, data=form)
    if answer.status_code == 200:
        return _token_from(answer, asked.realm)
    if answer.status_code in NOT_A_FORM_ENDPOINT or _bare_401(answer):
        return _get(http, TokenRequest(asked.realm, asked.service, asked.scopes), credentials)
    raise _refused(asked.realm, answer, credentials)


def _bare_401(answer: requests.Response) -> bool:
    """A 401 that says nothing about the grant: a realm that only knows Basic GETs (JFrog
    Artifactory answers the form so). A realm that refused the refresh token says why, and is
    not asked again with it as a password (that would count as a failed password login)."""
    return answer.status_code == 401 and not _reason(answer)


def _send(http: requests.Session, method: str, realm: str, **kwargs: Any) -> requests.Response:
    try:
        return http.request(method, realm, timeout=TIMEOUT, **kwargs)
    except requests.exceptions.SSLError as exc:
        raise UnreachableError(f"TLS with the token service {realm} failed ({exc})") from exc
    except requests.RequestException as exc:
        raise UnreachableError(f"cannot reach the token service {realm}: {exc}") from exc


def _reason(answer: requests.Response) -> str:
    """The message of an OCI error body or an OAuth2 error body, or ""."""
    try:
        doc = answer.json()
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    errors = doc.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return "; ".join(str(e.get("message") or e.get("code") or "") for e in errors).strip()
    return str(doc.get("error_description") or doc.get("error") or doc.get("details") or "")


def _refused(realm: str, answer: requests.Response, credentials: Credentials | None) -> AuthError:
    reason = _reason(answer) or f"{answer.status_code} {answer.reason}"
    if credentials is None:
        return AuthError(f"the token service {realm} refused an anonymous request: {reason}")
    return AuthError(f"the token service {realm} refused {credentials.origin}: {reason}")


def _token_from(answer: requests.Response, realm: str) -> Token:
    try:
        doc: Any = answer.json()
    except json.JSONDecodeError as exc:
        raise AuthError(f"the token service {realm} answered something that is not JSON") from exc
    token = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
    if not token:
        raise AuthError(f"the token service {realm} answered without a token")
    return Token(str(token), str(doc.get("refresh_token") or ""))
