"""The front ends the fuzzer drives, each with auth off or on: the Router in process on embedded
storage, and app.py's Chalice app behind the API Gateway emulator on S3 + DynamoDB (moto).

A target sends a FuzzCase as that front end receives a request, logs in through the token
endpoint when the case asks for a user's token (as docker does on a challenge), and records
every exchange with the log records the `soute` loggers wrote meanwhile."""

from __future__ import annotations

import base64
import hashlib
import inspect
import io
import json
import logging
import os
import re
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from requests.structures import CaseInsensitiveDict

from chalicelib.api.messages import Request
from chalicelib.storage.ports import BlobBody, IncompleteBody

from .pool import Pool
from .routes import FuzzRoute, router_routes
from .strategies import ADMIN, ALICE, OCI_INDEX, OCI_MANIFEST, Body, FuzzCase

ADMIN_USER, ADMIN_PASSWORD = "root", "root password"
ALICE_USER, ALICE_PASSWORD = "alice", "alice password"
LOGIN_SOURCE = "192.0.2.1"  # the fuzzer's own logins, apart from the garbage's sources
SEED_REPOSITORIES = ("library/alpine", "alice/app", "acme/tools/deep/x", "pub")
_CHALLENGE_SCOPE = re.compile(r'scope="([^"]*)"')


@dataclass
class Sent:
    """One request as sent, for reports: the case's parts with the credential resolved."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Body
    chunked: bool = False
    note: str = ""  # e.g. "admin token for repository:a:pull"


@dataclass
class Exchange:
    sent: Sent
    status: int
    headers: CaseInsensitiveDict
    body: bytes
    records: list[logging.LogRecord] = field(default_factory=list)


class LogCapture(logging.Handler):
    """Every record of the `soute` loggers (the parent of all of Soute's loggers, and the
    Chalice app's own logger) while installed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        records, self.records = self.records, []
        return records

    def install(self) -> LogCapture:
        logging.getLogger("soute").addHandler(self)
        return self

    def remove(self) -> None:
        logging.getLogger("soute").removeHandler(self)


class _DeclaredBody:
    """A request body as a server hands it over: no more than the declared Content-Length,
    and IncompleteBody when the client sent fewer bytes than it declared."""

    def __init__(self, data: bytes, declared: int | None) -> None:
        self._stream = io.BytesIO(data)
        self._left = declared

    def read(self, size: int = -1) -> bytes:
        if self._left is None:
            return self._stream.read(size)
        wanted = self._left if size is None or size < 0 else min(size, self._left)
        data = self._stream.read(wanted)
        self._left -= len(data)
        if len(data) < wanted:
            raise IncompleteBody("the client closed the connection before the declared length")
        return data


Send = Callable[[Sent, str], tuple[int, CaseInsensitiveDict, bytes]]


class Target:
    """A front end with its pool; `exchange` runs one case (one to three requests)."""

    name = "target"
    auth = False

    def __init__(self) -> None:
        self.pool = Pool()
        self.capture = LogCapture().install()
        self.scoped_tokens: dict[tuple[str, str], str] = {}  # (user, scope) -> token

    # -- to be provided by each front end ----------------------------------------------------

    def send(self, sent: Sent, source: str) -> tuple[int, CaseInsensitiveDict, bytes]:
        raise NotImplementedError

    def add_users(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.capture.remove()

    # -- the fuzzer's side -------------------------------------------------------------------

    def routes(self) -> list[FuzzRoute]:
        return router_routes()

    def exchange(self, case: FuzzCase) -> list[Exchange]:
        headers = dict(case.headers)
        sent = Sent(case.method, case.path, case.query, headers, case.body, case.chunked)
        user = {ADMIN: ADMIN_USER, ALICE: ALICE_USER}.get(case.credential or "")
        if not self.auth or user is None:
            return [self._one(sent, case.source)]
        token = self.pool.tokens.get(user)
        if token:
            headers["Authorization"] = f"Bearer {token}"
            sent.note = f"{user}'s seeded token"
        first = self._one(sent, case.source)
        scope = _challenged_scope(first)
        if scope is None:
            return [first]
        exchanges = [first]
        token = self.scoped_tokens.get((user, scope))
        if token is None:
            login = self._login(user, scope)
            exchanges.append(login)
            if login.status != 200:
                return exchanges
            token = json.loads(login.body)["token"]
            self.scoped_tokens[(user, scope)] = token
        retry = Sent(
            case.method,
            case.path,
            case.query,
            {**headers, "Authorization": f"Bearer {token}"},
            case.body,
            case.chunked,
            note=f"{user}'s token for scope {scope!r}",
        )
        exchanges.append(self._one(retry, case.source))
        return exchanges

    def _login(self, user: str, scope: str) -> Exchange:
        password = ADMIN_PASSWORD if user == ADMIN_USER else ALICE_PASSWORD
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        query = urlencode({"service": "soute-registry", "scope": scope})
        sent = Sent("GET", "/token", query, {"Authorization": f"Basic {basic}"}, Body(b""))
        sent.note = f"{user} logs in with the right password"
        return self._one(sent, LOGIN_SOURCE)

    def _one(self, sent: Sent, source: str) -> Exchange:
        self.capture.take()
        try:
            status, headers, body = self.send(sent, source)
        except Exception:  # the front end itself raised: as bad as a 500
            logging.getLogger("soute.fuzz").exception("the front end raised")
            status, headers, body = 599, CaseInsensitiveDict(), b""
        exchange = Exchange(sent, status, headers, body, self.capture.take())
        self._learn(exchange)
        return exchange

    def _learn(self, exchange: Exchange) -> None:
        if exchange.status >= 300:
            return
        self.pool.learn(exchange.headers.get("Location"))
        sent = exchange.sent
        if sent.method == "POST" and sent.path.rstrip("/") == "/v2/_soute/uploads":
            repository = (parse_qs(sent.query).get("repository") or [None])[0]
            try:
                document = json.loads(exchange.body)
                repository = repository or json.loads(sent.body.data).get("repository")
            except (ValueError, AttributeError, RecursionError):
                return
            if isinstance(repository, str):
                self.pool.learn_direct(repository, document)

    # -- seeding -----------------------------------------------------------------------------

    def seed(self) -> None:
        """Users, then in each seed repository: blobs, an image, an index, a referrer, upload
        sessions and direct uploads, all added to the pool."""
        if self.auth:
            self.add_users()
            scopes = [f"repository:{r}:pull,push,delete" for r in SEED_REPOSITORIES]
            self.pool.tokens[ADMIN_USER] = self._token(ADMIN_USER, ADMIN_PASSWORD, scopes)
            alice = ["repository:alice/app:pull,push,delete", "repository:pub:pull"]
            self.pool.tokens[ALICE_USER] = self._token(ALICE_USER, ALICE_PASSWORD, alice)
        for repository in SEED_REPOSITORIES:
            self.pool.names.append(repository)
            self._seed_repository(repository)

    def _token(self, user: str, password: str, scopes: list[str]) -> str:
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        query = urlencode(
            [
                ("service", "soute-registry"),
                *[("scope", s) for s in [*scopes, "registry:catalog:*"]],
            ]
        )
        sent = Sent("GET", "/token", query, {"Authorization": f"Basic {basic}"}, Body(b""))
        status, _, body = self.send(sent, LOGIN_SOURCE)
        assert status == 200, f"seeding: login of {user} failed: {status} {body[:300]!r}"
        return json.loads(body)["token"]

    def _seed_call(
        self, method: str, path: str, query: str = "", body: bytes = b"", **headers: str
    ) -> tuple[int, CaseInsensitiveDict, bytes]:
        if self.auth:
            headers["Authorization"] = f"Bearer {self.pool.tokens[ADMIN_USER]}"
        sent = Sent(method, path, query, {k.replace("_", "-"): v for k, v in headers.items()},
                    Body(body))  # fmt: skip
        status, reply_headers, reply = self.send(sent, LOGIN_SOURCE)
        assert status < 300, f"seeding: {method} {path}?{query}: {status} {reply[:300]!r}"
        return status, reply_headers, reply

    def _push_blob(self, repository: str, data: bytes, media_type: str) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self._seed_call("POST", f"/v2/{repository}/blobs/uploads/", f"digest={digest}", data)
        if (digest, len(data), media_type) not in self.pool.blobs:
            self.pool.blobs.append((digest, len(data), media_type))
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def _put_manifest(self, repository: str, reference: str, document: dict[str, Any]) -> dict:
        data = json.dumps(document).encode()
        media_type = document["mediaType"]
        self._seed_call(
            "PUT", f"/v2/{repository}/manifests/{reference}", body=data, Content_Type=media_type
        )
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if (digest, len(data), media_type) not in self.pool.manifests:
            self.pool.manifests.append((digest, len(data), media_type))
        if not reference.startswith("sha256:") and reference not in self.pool.tags:
            self.pool.tags.append(reference)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def _seed_repository(self, repository: str) -> None:
        # The same content in every repository: every known digest is valid in each of them.
        config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
        config_descriptor = self._push_blob(
            repository, config, "application/vnd.oci.image.config.v1+json"
        )
        layer = "application/vnd.oci.image.layer.v1.tar+gzip"
        layers = [self._push_blob(repository, bytes([i]) * (100 + i), layer) for i in range(2)]
        image = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_descriptor,
            "layers": layers,
        }
        image_descriptor = self._put_manifest(repository, "latest", image)
        self._put_manifest(repository, "v1.0", image)
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [image_descriptor]}
        self._put_manifest(repository, "multi", index)
        empty = self._push_blob(repository, b"{}", "application/vnd.oci.empty.v1+json")
        referrer = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.sbom",
            "config": empty,
            "layers": [empty],
            "subject": image_descriptor,
            "annotations": {"org.example": "fuzz"},
        }
        self._put_manifest(
            repository,
            f"sha256:{hashlib.sha256(json.dumps(referrer).encode()).hexdigest()}",
            referrer,
        )  # noqa: E501
        for _ in range(3):
            _, headers, _ = self._seed_call("POST", f"/v2/{repository}/blobs/uploads/")
            self.pool.learn(headers.get("Location"))
        for size in (10, 12 << 20):
            digest = "sha256:" + hashlib.sha256(uuid.uuid4().bytes).hexdigest()
            document = {"repository": repository, "digest": digest, "size": size}
            _, _, reply = self._seed_call(
                "POST",
                "/v2/_soute/uploads",
                f"repository={repository}",
                json.dumps(document).encode(),
                Content_Type="application/json",
            )
            self.pool.learn_direct(repository, json.loads(reply))


def _challenged_scope(exchange: Exchange) -> str | None:
    if exchange.status != 401:
        return None
    challenge = exchange.headers.get("WWW-Authenticate", "")
    match = _CHALLENGE_SCOPE.search(challenge)
    return match.group(1) if challenge.startswith("Bearer ") and match else None


# -- the router in process --------------------------------------------------------------------


class RouterTarget(Target):
    def __init__(self, data_dir: str | None = None, auth: bool = False) -> None:
        from chalicelib.api.router import Router
        from chalicelib.server.backends import embedded_registry

        super().__init__()
        self.auth = auth
        self.name = "router+auth" if auth else "router"
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="soute-fuzz-")
        os.makedirs(self.data_dir, exist_ok=True)
        self.context = None
        if auth:
            from chalicelib.server.backends import embedded_auth

            self.context = embedded_auth(self.data_dir)
        options = {}
        if "bound_address" in inspect.signature(Router).parameters:
            # As `soute serve` builds it: open mode then checks Host (DNS rebinding).
            options["bound_address"] = "127.0.0.1"
        self.router = Router(embedded_registry(self.data_dir), self.context, **options)

    def add_users(self) -> None:
        from chalicelib.auth.model import User
        from chalicelib.auth.passwords import hash_password

        assert self.context is not None
        self.context.store.add_user(User(ADMIN_USER, hash_password(ADMIN_PASSWORD), admin=True))
        self.context.store.add_user(User(ALICE_USER, hash_password(ALICE_PASSWORD)))

    def send(self, sent: Sent, source: str) -> tuple[int, CaseInsensitiveDict, bytes]:
        headers = {k.lower(): v for k, v in sent.headers.items()}
        headers.setdefault("host", "localhost")  # every HTTP/1.1 client sends one
        data = sent.body.data
        if sent.chunked:
            headers.pop("content-length", None)
            headers["transfer-encoding"] = "chunked"
            declared = None
        else:
            raw = headers.setdefault("content-length", str(len(data)))
            declared = _declared_length(raw)
        request = Request(
            method=sent.method,
            path=sent.path,
            query=parse_qs(sent.query, keep_blank_values=True),
            headers=headers,
            body=_DeclaredBody(data, declared),
            content_length=declared,
            source=source,
        )
        response = self.router.handle(request)
        payload = response.body
        if isinstance(payload, BlobBody):
            payload = b"".join(payload.iter_chunks()) if payload.path else b""
        return response.status, CaseInsensitiveDict(response.headers), payload


def _declared_length(raw: str) -> int | None:
    """The length a server takes from a Content-Length header; None for one it would refuse
    before any application sees the request (gunicorn answers 400 to those)."""
    if not (raw.isascii() and raw.isdigit()):
        return None
    try:
        return int(raw)
    except ValueError:  # more digits than int() takes
        return None


# -- the Lambda front end on moto ---------------------------------------------------------------


class LambdaTarget(Target):
    def __init__(self, moto_endpoint: str, auth: bool = False) -> None:
        from tests.contract.client import ConfiguredFunction
        from tests.support.moto import aws_backend

        super().__init__()
        self.auth = auth
        self.name = "lambda+auth" if auth else "lambda"
        self.endpoint = moto_endpoint
        self.options = aws_backend(moto_endpoint, chunk_min_length=4 << 20, auth=auth)
        self.function = ConfiguredFunction(self.options.environment())

    def add_users(self) -> None:
        from chalicelib.auth.model import User
        from chalicelib.auth.passwords import hash_password
        from chalicelib.storage.aws.clients import aws_clients
        from chalicelib.storage.aws.dynamodb_identities import DynamoIdentityStore

        dynamodb = aws_clients(self.options.region, self.endpoint).dynamodb
        store = DynamoIdentityStore(dynamodb, self.options.dynamodb_table or "")
        store.add_user(User(ADMIN_USER, hash_password(ADMIN_PASSWORD), admin=True))
        store.add_user(User(ALICE_USER, hash_password(ALICE_PASSWORD)))

    def send(self, sent: Sent, source: str) -> tuple[int, CaseInsensitiveDict, bytes]:
        environ = _environ(sent, source)
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            captured["status"] = int(status.split()[0])
            captured["headers"] = CaseInsensitiveDict(headers)

        payload = b"".join(self.function(environ, start_response))
        return captured["status"], captured["headers"], payload


def _environ(sent: Sent, source: str) -> dict[str, Any]:
    """The WSGI environ a server builds for this request (PEP 3333: the decoded path as
    latin-1 characters of its UTF-8 bytes)."""
    data = sent.body.data
    environ: dict[str, Any] = {
        "REQUEST_METHOD": sent.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": sent.path.encode("utf-8", "surrogatepass").decode("latin-1"),
        "QUERY_STRING": sent.query,
        "CONTENT_LENGTH": str(len(data)),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": source,
        "HTTP_HOST": "localhost",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(data),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in sent.headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    if sent.chunked:
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    return environ
