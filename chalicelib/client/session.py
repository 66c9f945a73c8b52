"""HTTP to one registry: a pooled `requests` session that answers authentication challenges
(Bearer tokens from the realm the registry names, or Basic) with docker's credentials, and
turns transport failures and refusals into errors with exit codes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from typing import IO, Any
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter

from .challenge import Challenge, parse_challenge
from .credentials import Credentials, find_credentials
from .errors import AuthError, PushError, UnreachableError
from .references import base_url
from .tokens import TokenRequest, fetch_token

Body = Callable[[], bytes | IO[bytes] | None]
TIMEOUT = (15, 300)  # connect, read (seconds)


def pooled_session(pool_size: int) -> requests.Session:
    """A `requests` session keeping up to `pool_size` connections per host."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 4), max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def transport_reason(exc: BaseException) -> str:
    """The innermost cause of a transport error ("[Errno 111] Connection refused")."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    reason = getattr(exc, "reason", None)
    text = str(reason if isinstance(reason, BaseException) else exc)
    return text.split("): ", 1)[-1].strip("()\"'") or type(exc).__name__


def oci_error(response: requests.Response) -> str:
    """The messages of an OCI error body, or the start of whatever the body is."""
    try:
        errors = response.json().get("errors") or []
        text = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    except (ValueError, AttributeError):
        text = response.text[:300]
    return f"{response.status_code} {response.reason}" + (f" ({text})" if text else "")


def post_json(session: RegistrySession, path: str, document: Any) -> requests.Response:
    """POST `document` to the registry as a JSON body."""
    data = json.dumps(document).encode()
    return session.request("POST", path, lambda: data, {"Content-Type": "application/json"})


class RegistrySession:
    """Requests to one registry, authenticated as docker would be: with docker's credentials
    for the host (client/credentials.py), or with `credentials` when given (`soute login`).
    `offline` asks the token service for a refresh token too, as `docker login` does."""

    denied_advice = "check that this account may push there"  # what a 403 tells the user

    def __init__(
        self,
        host: str,
        insecure: bool,
        scopes: Iterable[str],
        pool_size: int,
        *,
        tls: bool = False,
        credentials: Credentials | None = None,
        offline: bool = False,
    ) -> None:
        self.host = host
        self.base = base_url(host, insecure, tls)
        self.http = pooled_session(pool_size)
        self.scopes = sorted(set(scopes))
        self.offline = offline
        self.refresh_token = ""  # what the token service gave, when asked `offline`
        self.authenticated = False  # whether the registry asked for credentials
        self._authorization: str | None = None
        self._credentials = credentials
        self._looked_up = credentials is not None

    def url(self, path_or_url: str) -> str:
        return urljoin(self.base + "/", path_or_url)

    def ping(self) -> None:
        """`GET /v2/`: check that the registry answers, and authenticate if it asks."""
        response = self._send("GET", "/v2/", None, {})
        if response.status_code == 401:
            self._authenticate(response)
            response = self._send("GET", "/v2/", None, {})
        self._refuse_auth(response)
        if response.status_code >= 400:
            raise PushError(f"{self.base}/v2/ answered {oci_error(response)}; is it a registry?")

    def request(
        self,
        method: str,
        path_or_url: str,
        body: Body | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request; on 401 authenticate once and send it again."""
        headers = headers or {}
        response = self._send(method, path_or_url, body, headers, stream)
        if response.status_code == 401:
            response.close()
            self._authenticate(response)
            response = self._send(method, path_or_url, body, headers, stream)
        self._refuse_auth(response)
        return response

    def _send(
        self,
        method: str,
        path_or_url: str,
        body: Body | None,
        headers: dict[str, str],
        stream: bool = False,
    ) -> requests.Response:
        sent = dict(headers)
        if self._authorization:
            sent["Authorization"] = self._authorization
        url = self.url(path_or_url)
        try:
            return self.http.request(
                method,
                url,
                data=body() if body else None,
                headers=sent,
                timeout=TIMEOUT,
                stream=stream,
                allow_redirects=method in ("GET", "HEAD"),
            )
        except requests.exceptions.SSLError as exc:
            raise UnreachableError(
                f"TLS with {self.host} failed ({transport_reason(exc)}); for a plain-HTTP"
                " registry use --insecure"
            ) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise UnreachableError(
                f"cannot reach {self.base} ({method} {url}): {transport_reason(exc)}"
            ) from exc

    def _refuse_auth(self, response: requests.Response) -> None:
        if response.status_code == 401:
            who = self._credentials.origin if self._credentials else "no credentials"
            raise AuthError(f"{self.host} refused {who}: {oci_error(response)}{self._hint()}")
        if response.status_code == 403:
            raise AuthError(
                f"{self.host} denied {response.request.method} {response.request.path_url}: "
                f"{oci_error(response)}; {self.denied_advice}"
            )

    def _hint(self) -> str:
        given = self._credentials is not None and not self._credentials.from_docker
        return "" if given else f"; run `docker login {self.host}`"

    def credentials(self) -> Credentials | None:
        if not self._looked_up:
            self._credentials = find_credentials(self.host)
            self._looked_up = True
        return self._credentials

    def _authenticate(self, response: requests.Response) -> None:
        self.authenticated = True
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        credentials = self.credentials()
        if challenge and challenge.scheme == "bearer":
            self._authorization = "Bearer " + self._token(challenge, credentials)
        elif credentials:
            pair = f"{credentials.username}:{credentials.secret}".encode()
            self._authorization = "Basic " + base64.b64encode(pair).decode()
        else:
            raise AuthError(
                f"{self.host} asks for credentials and docker has none for it; "
                f"run `docker login {self.host}`"
            )

    def _token(self, challenge: Challenge, credentials: Credentials | None) -> str:
        realm = challenge.params.get("realm")
        if not realm:
            raise AuthError(f"{self.host} sent a Bearer challenge without a realm")
        scopes = set(self.scopes)
        if challenge.params.get("scope"):
            scopes.update(challenge.params["scope"].split(" "))
        asked = TokenRequest(realm, challenge.params.get("service"), sorted(scopes), self.offline)
        try:
            answer = fetch_token(self.http, asked, credentials)
        except AuthError as exc:
            raise AuthError(f"{exc}{self._hint()}") from exc
        self.refresh_token = answer.refresh_token
        return answer.token
