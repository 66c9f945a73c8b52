"""The fuzzer's own parts: that it reads every route of the router's table, builds paths those
routes match, and flags each kind of failure (so a green slice means something)."""

from __future__ import annotations

import logging

from requests.structures import CaseInsensitiveDict

from chalicelib.api import router
from tests.fuzz.harness import NOT_OCI, SERVER_ERROR, TRACEBACK, check, reproduction
from tests.fuzz.routes import Optional, Param, router_routes, template
from tests.fuzz.strategies import Body
from tests.fuzz.targets import Exchange, Sent

SAMPLE = {"name": "a/b", "reference": "latest", "digest": "sha256:" + "0" * 64}


def test_every_route_of_the_table_is_fuzzed_with_its_methods() -> None:
    fuzzed = {route.pattern.pattern: set(route.methods) for route in router_routes()}
    for route in router.ROUTES:
        assert set(route.methods) <= fuzzed[route.pattern.pattern]
    assert {"GET", "POST"} <= fuzzed[f"^/{router.TOKEN_PATH.strip('/')}$"]


def test_the_paths_built_from_a_template_match_their_route() -> None:
    for route in router_routes():
        assert route.template is not None, route.pattern.pattern
        for optional in (False, True):
            path = ""
            for piece in route.template:
                if isinstance(piece, Param):
                    path += SAMPLE.get(piece.name, "1")
                elif isinstance(piece, Optional):
                    path += piece.text if optional else ""
                else:
                    path += piece
            assert route.pattern.fullmatch(path), (route.label, path)


def test_a_template_reads_groups_with_classes_and_counts() -> None:
    pieces = template(r"^/v2/_soute/parts/(?P<id>[^/]+)/(?P<number>[1-9][0-9]{0,4})/?$")
    assert pieces == (
        "/v2/_soute/parts/",
        Param("id", "[^/]+"),
        "/",
        Param("number", "[1-9][0-9]{0,4}"),
        Optional("/"),
    )
    assert template(r"^/v2/(a|b)$") is None  # not a template: paths come from the regex


def _exchange(status: int, body: bytes, method: str = "GET", records=()) -> Exchange:  # noqa: ANN001
    sent = Sent(method, "/v2/a/tags/list", "n=1", {"Range": "bytes=0-1"}, Body(b""))
    return Exchange(sent, status, CaseInsensitiveDict(), body, list(records))


def _record(message: str, error: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(error), error, error.__traceback__) if error else None
    return logging.LogRecord("soute.api", logging.ERROR, __file__, 1, message, (), exc_info)


def test_check_flags_a_5xx_a_4xx_without_an_oci_error_and_a_traceback() -> None:
    oci = b'{"errors":[{"code":"NAME_UNKNOWN","message":"no such repository"}]}'
    assert check("t", "r", _exchange(200, b"")) == []
    assert check("t", "r", _exchange(404, oci)) == []
    assert check("t", "r", _exchange(404, b"", method="HEAD")) == []
    assert [f.kind for f in check("t", "r", _exchange(502, oci))] == [SERVER_ERROR]
    for body in (b"not found", b'{"errors":[]}', b'{"errors":[{"code":"X"}]}', b"{}"):
        assert [f.kind for f in check("t", "r", _exchange(400, body))] == [NOT_OCI]
    try:
        raise ValueError("boom")
    except ValueError as error:
        record = _record("unexpected error on GET /v2/a/tags/list", error)
    found = check("t", "r", _exchange(200, b"", records=[record]))
    assert [f.kind for f in found] == [TRACEBACK]
    assert found[0].summary.startswith("ValueError at ")
    assert [f.kind for f in check("t", "r", _exchange(200, b"", records=[_record("ok")]))] == []


def test_a_reproduction_names_the_request() -> None:
    [finding] = check("router", "/v2/{name}/tags/list", _exchange(500, b"{}"))
    text = reproduction(finding)
    assert "GET '/v2/a/tags/list?n=1'" in text
    assert "header Range: 'bytes=0-1'" in text
