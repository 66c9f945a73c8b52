"""The API Gateway emulator: events, limits, gateway responses and resource matching."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from typing import Any

import pytest
from chalice import Chalice, Response

from chalicelib.oci.lambda_limits import LAMBDA_CHUNK_BYTES
from chalicelib.server.chalice_routes import accept_any
from chalicelib.server.gateway_emulator import (
    INVOCATION_PAYLOAD_LIMIT,
    Gateway,
    Limits,
    ResourceTree,
    make_gateway_app,
)
from chalicelib.server.gateway_responses import GATEWAY_RESPONSES
from tests.contract.client import LambdaClient, Reply, new_repo, push_blob, wsgi_environ

MiB = 1024 * 1024


def echo_app(binary_types: list[str] | None = None) -> Chalice:
    """A Chalice app that answers with the event it received, and other test behaviours."""
    app = Chalice(app_name="echo")
    app.api.binary_types = binary_types or ["*/*"]
    app.calls = 0  # type: ignore[attr-defined]
    app.register_middleware(accept_any, "http")
    any_type = ["*/*"]

    @app.route("/echo/{thing}", methods=["GET", "HEAD", "POST", "PUT"], content_types=any_type)
    def echo(thing: str) -> Response:
        app.calls += 1  # type: ignore[attr-defined]
        request = app.current_request
        assert request is not None
        event = dict(request.to_original_event())
        event["raw_body"] = base64.b64encode(request.raw_body).decode()
        headers = {"Content-Type": "application/json", "Content-Length": "1234"}
        return Response(json.dumps(event), headers=headers)

    @app.route("/bytes/{size}", methods=["GET", "POST"], content_types=any_type)
    def data(size: str) -> Response:
        request = app.current_request
        assert request is not None
        body = request.raw_body if request.method == "POST" else os.urandom(int(size))
        return Response(body, headers={"Content-Type": "application/octet-stream"})

    @app.route("/slow/{seconds}", content_types=any_type)
    def slow(seconds: str) -> Response:
        time.sleep(float(seconds))
        return Response(b"done", headers={"Content-Type": "text/plain"})

    return app


def event_of(reply: Reply) -> dict[str, Any]:
    assert reply.status == 200, reply.body
    return reply.json()


def assert_gateway_response(reply: Reply, response_type: str) -> None:
    expected = GATEWAY_RESPONSES[response_type]
    assert reply.status == expected.status
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert reply.body == expected.body()
    assert reply.json()["errors"][0]["code"] == expected.code


@pytest.fixture
def echo() -> LambdaClient:
    return LambdaClient(make_gateway_app(echo_app()))


# -- events ---------------------------------------------------------------------------------


def test_proxy_event_shape(echo: LambdaClient) -> None:
    event = event_of(
        echo.request(
            "PUT", "/echo/thing?x=1", headers={"Content-Type": "text/plain"}, data=b"hello"
        )
    )
    assert event["resource"] == "/echo/{thing}"
    assert event["path"] == "/echo/thing"
    assert event["httpMethod"] == "PUT"
    assert event["pathParameters"] == {"thing": "thing"}
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["headers"]["Content-Type"] == "text/plain"
    assert event["multiValueHeaders"]["Content-Type"] == ["text/plain"]
    context = event["requestContext"]
    assert context["resourcePath"] == "/echo/{thing}"
    assert context["httpMethod"] == "PUT"
    assert context["stage"] == "api"
    assert context["path"] == "/api/echo/thing"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"]
    assert event["stageVariables"] is None


def test_no_query_and_no_body_are_null(echo: LambdaClient) -> None:
    event = event_of(echo.request("GET", "/echo/x"))
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False


def test_multi_value_query(echo: LambdaClient) -> None:
    event = event_of(echo.request("GET", "/echo/x?tag=a&tag=b&digest=sha256%3Aab"))
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "digest": ["sha256:ab"]}
    assert event["queryStringParameters"] == {"tag": "b", "digest": "sha256:ab"}


def test_binary_body_is_base64_both_ways(echo: LambdaClient) -> None:
    data = os.urandom(100_000) + b"\xff\xfe\x00"
    event = event_of(echo.request("POST", "/echo/x", data=data))
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == data
    reply = echo.request("POST", "/bytes/0", data=data)
    assert reply.status == 200
    assert reply.body == data
    assert reply.headers["Content-Length"] == str(len(data))


def test_text_body_when_the_type_is_not_binary() -> None:
    client = LambdaClient(make_gateway_app(echo_app(["application/octet-stream"])))
    text = client.request("POST", "/echo/x", headers={"Content-Type": "text/plain"}, data=b"hi")
    assert event_of(text)["isBase64Encoded"] is False
    assert event_of(text)["body"] == "hi"
    binary = client.request(
        "POST",
        "/echo/x",
        headers={"Content-Type": "application/octet-stream; x=y"},
        data=b"\x00\x01",
    )
    assert event_of(binary)["isBase64Encoded"] is True


def test_chunked_request_arrives_whole_without_transfer_encoding(echo: LambdaClient) -> None:
    pieces = [os.urandom(1000) for _ in range(5)]
    event = event_of(echo.request("POST", "/echo/x", data=iter(pieces)))
    assert base64.b64decode(event["raw_body"]) == b"".join(pieces)
    assert "Transfer-Encoding" not in event["multiValueHeaders"]


def test_head_keeps_the_function_content_length_and_sends_no_body(echo: LambdaClient) -> None:
    reply = echo.request("HEAD", "/echo/x")
    assert reply.status == 200
    assert reply.body == b""
    assert reply.headers["Content-Length"] == "1234"


def test_one_content_length_header() -> None:
    app = make_gateway_app(echo_app())
    for method in ("GET", "HEAD"):
        captured: list[tuple[str, str]] = []
        app(wsgi_environ(method, "/echo/x", "", b""), lambda _, h, seen=captured: seen.extend(h))
        lengths = [value for name, value in captured if name.lower() == "content-length"]
        assert len(lengths) == 1, captured


# -- limits ---------------------------------------------------------------------------------


def test_request_over_10_mb_is_refused_before_the_function_runs() -> None:
    app = echo_app()
    client = LambdaClient(make_gateway_app(app))
    too_big = b"x" * (10 * MiB + 1)
    assert_gateway_response(client.request("POST", "/echo/x", data=too_big), "REQUEST_TOO_LARGE")
    chunked = iter([too_big[: 5 * MiB], too_big[5 * MiB :]])
    assert_gateway_response(client.request("POST", "/echo/x", data=chunked), "REQUEST_TOO_LARGE")
    assert app.calls == 0  # type: ignore[attr-defined]


def test_body_over_the_lambda_payload_after_base64_is_refused() -> None:
    app = echo_app()
    client = LambdaClient(make_gateway_app(app))
    # 5 MB is under API Gateway's 10 MB but 6.7 MB once base64-encoded in the event: AWS
    # answers 413, its REQUEST_TOO_LARGE response (docs/lambda-limits.md).
    reply = client.request("POST", "/echo/x", data=os.urandom(5_000_000))
    assert_gateway_response(reply, "REQUEST_TOO_LARGE")
    assert app.calls == 0  # type: ignore[attr-defined]
    assert INVOCATION_PAYLOAD_LIMIT == 6_291_456


def test_body_shorter_than_its_content_length_is_refused() -> None:
    app = echo_app()
    environ = wsgi_environ("POST", "/echo/x", "", b"12345")
    environ["CONTENT_LENGTH"] = "10"
    replies: list[str] = []
    body = b"".join(make_gateway_app(app)(environ, lambda status, _: replies.append(status)))
    assert replies == ["400 Bad Request"]
    assert body == GATEWAY_RESPONSES["DEFAULT_4XX"].body()
    assert app.calls == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("declared", "response_type"),
    [
        ("²", "DEFAULT_4XX"),  # str.isdigit() says yes, int() says no
        ("٥", "DEFAULT_4XX"),  # int() reads Arabic-Indic 5, but HTTP digits are ASCII
        ("9" * 5000, "REQUEST_TOO_LARGE"),  # more digits than int() converts
        ("0" * 5000 + "6", "DEFAULT_4XX"),  # 6 bytes, fine, but 5 arrive
    ],
    ids=["superscript", "arabic-indic", "5000-digits", "5000-zeros"],
)
def test_a_content_length_that_is_no_number_of_bytes_is_refused(
    declared: str, response_type: str
) -> None:
    app = echo_app()
    environ = wsgi_environ("POST", "/echo/x", "", b"12345")
    environ["CONTENT_LENGTH"] = declared
    statuses: list[str] = []
    body = b"".join(make_gateway_app(app)(environ, lambda status, _: statuses.append(status)))
    expected = GATEWAY_RESPONSES[response_type]
    assert int(statuses[0].split()[0]) == (expected.status or 400)
    assert body == expected.body()
    assert app.calls == 0  # type: ignore[attr-defined]


def test_response_over_the_lambda_payload_is_an_integration_failure(echo: LambdaClient) -> None:
    reply = echo.request("GET", "/bytes/5000000")  # 6.7 MB once base64-encoded
    assert_gateway_response(reply, "INTEGRATION_FAILURE")
    assert echo.request("GET", "/bytes/4000000").status == 200


def test_timeout_is_an_integration_timeout_and_the_next_request_still_works() -> None:
    client = LambdaClient(make_gateway_app(echo_app(), limits=Limits(timeout=1.0)))
    assert_gateway_response(client.request("GET", "/slow/1.5"), "INTEGRATION_TIMEOUT")
    # This one waits about 0.5 s for the slow invocation to end, within its own timeout.
    reply = client.request("GET", "/slow/0")
    assert reply.status == 200
    assert reply.body == b"done"


def test_invocations_do_not_overlap() -> None:
    """Chalice keeps the current request on the app: one invocation at a time, as in one
    Lambda execution environment."""
    app = echo_app()
    client = LambdaClient(make_gateway_app(app))
    replies: list[dict[str, Any]] = []

    def call(index: int) -> None:
        replies.append(event_of(client.request("GET", f"/echo/n{index}?i={index}")))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(replies) == 16
    for event in replies:
        assert event["pathParameters"]["thing"] == "n" + event["queryStringParameters"]["i"]


# -- function errors ------------------------------------------------------------------------


def raw_gateway(handler: Any) -> LambdaClient:
    return LambdaClient(Gateway(handler, {"/x": ["GET"]}, ["*/*"], Limits()))


def test_function_error_is_a_502() -> None:
    def failing(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("boom")

    reply = raw_gateway(failing).request("GET", "/x")
    assert reply.status == 502
    assert reply.body == GATEWAY_RESPONSES["DEFAULT_5XX"].body()


@pytest.mark.parametrize(
    "result",
    [
        {"body": "no status"},
        {"statusCode": "abc"},
        {"statusCode": 200, "body": 12},
        ["not", "a", "dict"],
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
    ],
)
def test_malformed_proxy_response_is_a_502(result: Any) -> None:
    reply = raw_gateway(lambda event, context: result).request("GET", "/x")
    assert reply.status == 502
    assert reply.body == GATEWAY_RESPONSES["DEFAULT_5XX"].body()


def test_headers_and_multi_value_headers_are_merged() -> None:
    result = {
        "statusCode": 201,
        "headers": {"A": "1", "B": "single"},
        "multiValueHeaders": {"B": ["x", "y"]},
        "body": "ok",
    }
    gateway = Gateway(lambda event, context: result, {"/x": ["GET"]}, ["*/*"], Limits())
    headers: list[tuple[str, str]] = []
    body = b"".join(gateway(wsgi_environ("GET", "/x", "", b""), lambda _, h: headers.extend(h)))
    assert body == b"ok"
    assert ("A", "1") in headers
    assert [value for name, value in headers if name == "B"] == ["x", "y"]


def test_context_reports_the_remaining_time() -> None:
    seen: dict[str, int] = {}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen["ms"] = context.get_remaining_time_in_millis()
        return {"statusCode": 200, "body": ""}

    raw_gateway(handler).request("GET", "/x")
    assert 28_000 < seen["ms"] <= 29_000


# -- resource matching ----------------------------------------------------------------------


def test_unknown_route_and_unknown_method(echo: LambdaClient) -> None:
    assert_gateway_response(echo.request("GET", "/nothing"), "MISSING_AUTHENTICATION_TOKEN")
    assert_gateway_response(echo.request("DELETE", "/echo/x"), "MISSING_AUTHENTICATION_TOKEN")
    assert_gateway_response(echo.request("GET", "/echo"), "MISSING_AUTHENTICATION_TOKEN")
    assert_gateway_response(echo.request("GET", "/echo/x/y"), "MISSING_AUTHENTICATION_TOKEN")


def test_trailing_slash_is_ignored(echo: LambdaClient) -> None:
    event = event_of(echo.request("GET", "/echo/x/"))
    assert event["resource"] == "/echo/{thing}"
    assert event["path"] == "/echo/x/"


def test_literal_segment_wins_without_backtracking() -> None:
    tree = ResourceTree({"/a/{x}/c": ["GET"], "/a/b/d": ["GET"], "/a/b": ["GET"]})
    assert tree.match("/a/b/d").resource == "/a/b/d"
    assert tree.match("/a/z/c").resource == "/a/{x}/c"
    assert tree.match("/a/z/c").parameters == {"x": "z"}
    assert tree.match("/a/b/c") is None  # `b` entered the literal branch, which has no `c`
    assert tree.match("/a//c") is None  # a variable needs at least one character
    assert tree.match("/a/b").methods == frozenset({"GET"})
    assert tree.match("/a").methods == frozenset()  # a resource without methods


def test_sibling_variables_with_different_names_are_refused() -> None:
    with pytest.raises(ValueError, match="already has"):
        ResourceTree({"/a/{x}": ["GET"], "/a/{y}/b": ["GET"]})


# -- the registry behind it -------------------------------------------------------------------


def test_a_request_with_no_accept_header_gets_its_binary_body(registry: LambdaClient) -> None:
    """Chalice refuses a binary response to a request without a matching Accept header;
    Go clients send none."""
    reply = registry.request("GET", "/v2/")
    assert reply.status == 200
    assert reply.json() == {}


def test_a_chunk_of_the_advertised_size_fits(registry: LambdaClient) -> None:
    repo = new_repo()
    start = registry.request("POST", f"/v2/{repo}/blobs/uploads/")
    chunk_size = int(start.headers["OCI-Chunk-Min-Length"])
    assert chunk_size == LAMBDA_CHUNK_BYTES  # SOUTE_CHUNK_MIN_LENGTH in .chalice/config.json
    reply = registry.request(
        "PATCH",
        start.headers["Location"],
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"0-{chunk_size - 1}",
        },
        data=os.urandom(chunk_size),
    )
    assert reply.status == 202, reply.body
    assert reply.headers["Range"] == f"0-{chunk_size - 1}"


def test_a_5_mb_layer_gets_the_actionable_error(registry: LambdaClient) -> None:
    repo = new_repo()
    location = registry.request("POST", f"/v2/{repo}/blobs/uploads/").headers["Location"]
    for size in (5 * MiB, 11 * MiB):  # over Lambda's payload, over API Gateway's 10 MB
        reply = registry.request("PATCH", location, data=os.urandom(size))
        assert_gateway_response(reply, "REQUEST_TOO_LARGE")
        assert reply.status == 413
        error = reply.json()["errors"][0]
        assert error["code"] == "DENIED"  # the one code no client retries
        assert "soute push IMAGE HOST/REPO:TAG" in error["message"]
        assert "docker soute push" in error["message"]


def test_blob_bytes_from_local_files_are_a_clear_error(registry: LambdaClient) -> None:
    repo = new_repo()
    digest = push_blob(registry, repo, b"some bytes")
    head = registry.request("HEAD", f"/v2/{repo}/blobs/{digest}")
    assert head.status == 200
    assert head.headers["Content-Length"] == "10"
    reply = registry.request("GET", f"/v2/{repo}/blobs/{digest}")
    assert reply.status == 501
    assert reply.error_code() == "UNSUPPORTED"
    assert "aws backend" in reply.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "response_type", ["REQUEST_TOO_LARGE", "INTEGRATION_FAILURE", "DEFAULT_4XX"]
)
def test_a_refusal_an_oversized_request_can_get_is_never_retried(response_type: str) -> None:
    """Whichever of these AWS gives a request over the Lambda payload (docs/lambda-limits.md):
    a 4xx (clients retry a 5xx and hide its body), the code DENIED (the one docker, podman and
    skopeo all leave alone), and the command to use instead."""
    response = GATEWAY_RESPONSES[response_type]
    assert response.status is None or 400 <= response.status < 500
    assert response.code == "DENIED"
    assert "soute push IMAGE HOST/REPO:TAG" in response.message
    assert "docker soute push" in response.message
