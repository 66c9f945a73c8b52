"""The Chalice routes: every endpoint, for every name depth, reaches the one Router with the
request as the client sent it."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from chalice import Chalice

import app as lambda_function
from chalicelib.api import routes as table
from chalicelib.api.messages import Request, Response
from chalicelib.api.router import ROUTES, TOKEN_PATH
from chalicelib.server.backends import BackendOptions
from chalicelib.server.chalice_app import SouteApp
from chalicelib.server.chalice_routes import (
    API_GATEWAY_RESOURCE_QUOTA,
    MAX_DEPTH,
    register_routes,
    resource_count,
    route_table,
    to_chalice,
)
from chalicelib.server.gateway_emulator import make_gateway_app
from chalicelib.server.gateway_responses import GATEWAY_RESPONSES
from chalicelib.server.gunicorn_app import lambda_gateway
from chalicelib.storage.ports import BlobBody
from tests.contract.client import (
    OCI_INDEX,
    OCI_MANIFEST,
    LambdaClient,
    image_manifest,
    push_blob,
    put_manifest,
    sha256,
)

DIGEST = "sha256:" + "ab" * 32
NAME_ROUTES = [r for r in table.ROUTES if "{name}" in r.path]
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = {"reference": "v1", "digest": DIGEST, "upload_id": "u-123"}


class RecordingRouter:
    """Stands in for the Router: records what it is handed."""

    def __init__(self) -> None:
        self.seen: list[Request] = []
        self.bodies: list[bytes] = []

    def handle(self, request: Request) -> Response:
        self.seen.append(request)
        self.bodies.append(request.body.read())
        return Response(200, {"Content-Type": "application/json"}, b"{}")


@pytest.fixture
def recorder() -> tuple[RecordingRouter, LambdaClient]:
    router = RecordingRouter()
    app = Chalice(app_name="recording")
    register_routes(app, lambda: router)  # type: ignore[arg-type, return-value]
    return router, LambdaClient(make_gateway_app(app))


def concrete(route: str, depth: int) -> tuple[str, str]:
    """A request path for a route template, and the repository name in it."""
    name = "/".join(f"d{depth}c{i}" for i in range(1, depth + 1))
    path = re.sub(r"\{n\d+\}(/\{n\d+\})*", name, route)
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], path), name


def router_route(path: str, method: str) -> dict[str, str] | None:
    """The parameters the real Router finds in this request, if it serves it."""
    for route in ROUTES:
        match = route.pattern.match(path)
        if match:
            return match.groupdict() if method in route.methods else None
    return None


@pytest.mark.parametrize("depth", range(1, MAX_DEPTH + 1))
def test_every_route_reaches_the_router_with_the_name(
    recorder: tuple[RecordingRouter, LambdaClient], depth: int
) -> None:
    router, client = recorder
    routes = {r: m for r, m in route_table().items() if r.count("{n") == depth}
    assert len(routes) == len(NAME_ROUTES)
    for route, methods in routes.items():
        path, name = concrete(route, depth)
        for method in methods:
            body = b"" if method in ("GET", "HEAD", "DELETE") else f"{method} {path}".encode()
            sent = path + "/" if route.endswith("uploads") else path  # as clients send it
            reply = client.request(
                method, sent + "?tag=a&tag=b", headers={"Accept": "x/y"}, data=body
            )
            assert reply.status == 200, (method, sent, reply.body)
            request = router.seen[-1]
            assert (request.method, request.path) == (method, path)
            assert request.query == {"tag": ["a", "b"]}
            assert request.headers["accept"] == "x/y"
            assert router.bodies[-1] == body
            assert request.content_length == len(body)
            assert router_route(request.path, method)["name"] == name, (method, path)


def test_the_routes_serve_exactly_the_methods_of_the_router() -> None:
    served: dict[int, set[str]] = {}
    for route, methods in route_table(max_depth=2).items():
        path, _ = concrete(route, 2)
        if path == TOKEN_PATH:  # the token endpoint, answered before the registry routes
            assert set(methods) == {"GET", "POST"}
            continue
        for index, candidate in enumerate(ROUTES):
            if candidate.pattern.match(path):
                served.setdefault(index, set()).update(methods)
                assert set(methods) == set(candidate.methods), route
                break
        else:
            pytest.fail(f"the router has no route for {route}")
    # Every router route is served, but the embedded backend's part receiver: on Lambda the
    # part URLs point at S3.
    local_only = {i for i, r in enumerate(ROUTES) if "_soute/parts" in r.pattern.pattern}
    assert len(local_only) == 1
    assert set(served) == set(range(len(ROUTES))) - local_only


def test_the_chalice_app_declares_exactly_the_routes_the_table_derives() -> None:
    """app.py's routes are the route table's: every method of every route the Lambda front
    end serves, at every name depth, and `/token`; nothing else."""
    declared = {
        path: sorted(entry.method for entry in by_method.values())
        for path, by_method in lambda_function.app.routes.items()
    }
    expected: dict[str, list[str]] = {TOKEN_PATH: sorted(table.TOKEN_METHODS)}
    for route in table.ROUTES:
        if not route.on_lambda:
            continue
        depths = range(1, MAX_DEPTH + 1) if "{name}" in route.path else [0]
        for depth in depths:
            name = "/".join(f"{{n{i}}}" for i in range(1, depth + 1))
            expected[route.path.replace("{name}", name)] = sorted(route.methods)
    assert declared == expected
    assert {path: sorted(methods) for path, methods in route_table().items()} == expected


def test_route_count_is_within_the_api_gateway_quota() -> None:
    routes = route_table()
    assert MAX_DEPTH >= 8
    fixed = len([r for r in table.ROUTES if r.on_lambda]) - len(NAME_ROUTES) + 1  # /token
    assert len(routes) == fixed + MAX_DEPTH * len(NAME_ROUTES) == 104
    # `/`, `/v2`, `/v2/_catalog`, and per depth the name and 10 endpoint resources, the 5 of
    # the direct upload extension, the usage API, and `/token`.
    assert resource_count(list(routes)) == 3 + 11 * MAX_DEPTH + 5 + 1 + 1 == 186
    assert resource_count(list(lambda_function.app.routes)) <= API_GATEWAY_RESOURCE_QUOTA


# -- app.py on embedded storage ---------------------------------------------------------------


def repository(depth: int) -> str:
    unique = uuid.uuid4().hex[:8]
    return "/".join([f"r{depth}x{i}" for i in range(1, depth)] + [unique])


@pytest.mark.parametrize("depth", [*range(1, 9), MAX_DEPTH])
def test_push_and_pull_at_every_depth(registry: LambdaClient, depth: int) -> None:
    name = repository(depth)
    _blob_endpoints(registry, name)
    _upload_endpoints(registry, name)
    _manifest_endpoints(registry, name)


def _blob_endpoints(client: LambdaClient, name: str) -> None:
    data = b"blob of " + name.encode()
    digest = push_blob(client, name, data)
    head = client.request("HEAD", f"/v2/{name}/blobs/{digest}")
    assert (head.status, head.headers["Content-Length"]) == (200, str(len(data)))
    assert client.request("GET", f"/v2/{name}/blobs/{digest}").status == 501  # local files
    assert client.request("DELETE", f"/v2/{name}/blobs/{digest}").status == 202
    assert client.request("HEAD", f"/v2/{name}/blobs/{digest}").status == 404


def _upload_endpoints(client: LambdaClient, name: str) -> None:
    data = b"0123456789" * 10
    start = client.request("POST", f"/v2/{name}/blobs/uploads/")
    assert start.status == 202
    location = start.headers["Location"]
    assert location.startswith(f"/v2/{name}/blobs/uploads/")
    patched = client.request("PATCH", location, headers={"Content-Range": "0-59"}, data=data[:60])
    assert (patched.status, patched.headers["Range"]) == (202, "0-59")
    assert client.request("GET", location).status == 204
    done = client.request(
        "PUT",
        location,
        params={"digest": sha256(data)},
        headers={"Content-Range": "60-99"},
        data=data[60:],
    )
    assert (done.status, done.headers["Location"]) == (201, f"/v2/{name}/blobs/{sha256(data)}")
    other = client.request("POST", f"/v2/{name}/blobs/uploads/").headers["Location"]
    assert client.request("DELETE", other).status == 204


def _manifest_endpoints(client: LambdaClient, name: str) -> None:
    body = image_manifest(client, name)
    assert put_manifest(client, name, "v1", body).status == 201
    got = client.request("GET", f"/v2/{name}/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert (got.status, got.body) == (200, body)
    head = client.request("HEAD", f"/v2/{name}/manifests/v1")
    assert (head.status, head.headers["Content-Length"], head.body) == (200, str(len(body)), b"")
    tags = client.request("GET", f"/v2/{name}/tags/list")
    assert tags.json() == {"name": name, "tags": ["v1"]}
    referrers = client.request("GET", f"/v2/{name}/referrers/{sha256(body)}")
    assert (referrers.status, referrers.headers["Content-Type"]) == (200, OCI_INDEX)
    catalog = client.request("GET", "/v2/_catalog", params={"n": "10000"})
    assert name in catalog.json()["repositories"]
    assert client.request("DELETE", f"/v2/{name}/manifests/{sha256(body)}").status == 202
    assert client.request("GET", f"/v2/{name}/manifests/v1").status == 404


@pytest.mark.parametrize(
    "name",
    [
        "a/blobs/b",
        "a/manifests",
        "a/b/tags",
        "a/referrers/b",
        "/".join(f"c{i}" for i in range(MAX_DEPTH + 1)),
    ],
)
def test_names_the_lambda_endpoint_cannot_address(registry: LambdaClient, name: str) -> None:
    expected = GATEWAY_RESPONSES["MISSING_AUTHENTICATION_TOKEN"]
    for method, path in [
        ("GET", f"/v2/{name}/tags/list"),
        ("GET", f"/v2/{name}/manifests/latest"),
        ("HEAD", f"/v2/{name}/blobs/{DIGEST}"),
        ("POST", f"/v2/{name}/blobs/uploads/"),
        ("PATCH", f"/v2/{name}/blobs/uploads/u-123"),
    ]:
        reply = registry.request(method, path)
        assert reply.status == expected.status == 404, (method, path)
        if method != "HEAD":
            assert reply.body == expected.body()
    assert str(MAX_DEPTH) in json.loads(expected.body())["errors"][0]["message"]


@pytest.mark.parametrize("name", ["blobs", "manifests/x", "tags/list/x", "uploads/a"])
def test_reserved_words_are_fine_as_first_component(registry: LambdaClient, name: str) -> None:
    push_blob(registry, name, b"config")
    body = image_manifest(registry, name)
    assert put_manifest(registry, name, "v1", body).status == 201
    assert registry.request("GET", f"/v2/{name}/tags/list").json() == {"name": name, "tags": ["v1"]}


def test_a_registry_that_cannot_start_answers_with_an_oci_error() -> None:
    def broken() -> None:
        raise ValueError("the aws backend needs an S3 bucket and a DynamoDB table")

    app = Chalice(app_name="broken")
    register_routes(app, broken)  # type: ignore[arg-type]
    reply = LambdaClient(make_gateway_app(app)).request("GET", "/v2/")
    assert reply.status == 500
    assert reply.error_code() == "UNSUPPORTED"
    assert "misconfigured" in reply.json()["errors"][0]["message"]


def test_the_view_rebuilds_the_path_from_the_route() -> None:
    """Behind a custom domain the event's `path` carries the base path mapping's prefix; the
    router must see the path relative to the API."""
    router = RecordingRouter()
    app = Chalice(app_name="prefixed")
    register_routes(app, lambda: router)  # type: ignore[arg-type, return-value]
    event = {
        "resource": "/v2/{n1}/{n2}/manifests/{reference}",
        "path": "/registry/v2/a/b/manifests/v1",
        "httpMethod": "GET",
        "headers": {"Host": "example.com"},
        "multiValueHeaders": {"Host": ["example.com"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"n1": "a", "n2": "b", "reference": "v1"},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/v2/{n1}/{n2}/manifests/{reference}",
            "httpMethod": "GET",
            "path": "/registry/v2/a/b/manifests/v1",
        },
        "body": None,
        "isBase64Encoded": False,
    }
    result = app(event, None)
    assert result["statusCode"] == 200
    assert router.seen[-1].path == "/v2/a/b/manifests/v1"
    assert isinstance(router.seen[-1].body, io.BytesIO)


def test_the_router_sees_the_headers_the_client_sent(
    recorder: tuple[RecordingRouter, LambdaClient],
) -> None:
    """The Accept header Chalice needs for binary bodies is added for Chalice only."""
    router, client = recorder
    assert client.request("GET", "/v2/a/tags/list").status == 200
    assert "accept" not in router.seen[-1].headers
    client.request("GET", "/v2/a/manifests/v1", headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"})
    assert router.seen[-1].headers["accept"] == f"{OCI_MANIFEST}, {OCI_INDEX}"


def test_a_blob_body_with_a_url_is_a_redirect() -> None:
    url = "https://bucket.s3.amazonaws.com/blobs/x?X-Amz-Signature=abc"
    response = to_chalice(
        Response(200, {"Docker-Content-Digest": DIGEST}, BlobBody(redirect_url=url, length=9))
    )
    assert response.status_code == 307
    assert response.headers["Location"] == url
    assert response.headers["Docker-Content-Digest"] == DIGEST
    assert response.body == b""


def test_soute_info_lines_reach_the_function_log() -> None:
    """Chalice sets its app logger, `soute`, to ERROR; app.py lowers it so logins and refused
    tokens (INFO on soute.auth) are written to CloudWatch."""
    assert logging.getLogger("soute.auth").isEnabledFor(logging.INFO)
    assert lambda_function.app.log.name == "soute"


def test_import_app_does_not_load_the_router() -> None:
    """The cold start: app.py declares its routes from the route table's declarations alone;
    the router, the registry and the handlers load on the first request."""
    script = "import sys, app; print(sorted(m for m in sys.modules if m.startswith('chalicelib.')))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = done.stdout
    assert "chalicelib.api.routes" in loaded
    heavy_modules = ("chalicelib.api.router", "chalicelib.registry", "chalicelib.auth.tokens")
    # The scheduled GC's collector loads on its own function's first batch only.
    for heavy in (*heavy_modules, "chalicelib.lifecycle", "chalicelib.server.gc_function"):
        assert heavy not in loaded, heavy


def test_every_function_chalice_deploys_is_a_name_of_app_py() -> None:
    """Chalice deploys each function as a handler string (`app.app`, `app.verifier`): each
    must name an attribute of app.py that calls the factory's function, or Lambda fails to
    start it."""
    app = lambda_function.app
    handlers = {f.name: f.handler_string for f in [*app.pure_lambda_functions, *app.event_sources]}
    assert handlers == {
        "verifier": "app.verifier",
        "blob_copies": "app.blob_copies",
        "gc": "app.gc",
    }
    for handler in handlers.values():
        module, name = handler.split(".")
        assert module == "app" and callable(getattr(lambda_function, name))
    assert lambda_function.verifier == lambda_function.app.verifier
    assert lambda_function.blob_copies == lambda_function.app.blob_copies
    assert lambda_function.gc == lambda_function.app.gc


def test_soute_serve_lambda_serves_an_app_the_factory_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`soute serve --lambda` builds its app with the factory app.py calls, not by loading
    app.py: an app of its own, with the same routes, binary types and functions."""
    monkeypatch.setattr(os, "environ", dict(os.environ))  # lambda_gateway configures it
    gateway = lambda_gateway(BackendOptions(data_dir=str(tmp_path)), "127.0.0.1:5000")
    served = gateway.handler  # type: ignore[attr-defined]
    assert isinstance(served, SouteApp) and served is not lambda_function.app
    assert served.routes.keys() == lambda_function.app.routes.keys()
    assert served.api.binary_types == lambda_function.app.api.binary_types
    assert [f.name for f in served.pure_lambda_functions] == ["verifier", "blob_copies"]
    assert [source.name for source in served.event_sources] == ["gc"]
