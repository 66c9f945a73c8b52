"""The route table (chalicelib/api/routes.py) is the one place a route's permission is written:
every method declares an action, and the gate refuses one that does not (deny by default)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from chalicelib.api import router as router_module
from chalicelib.api import routes
from chalicelib.api.access import Gate
from chalicelib.api.messages import Request
from chalicelib.api.router import Router, resolve
from chalicelib.auth.model import User
from chalicelib.auth.passwords import hash_password
from chalicelib.auth.scopes import DELETE, PUSH, REPOSITORY_ACTIONS
from chalicelib.oci.errors import OCIError
from chalicelib.server.backends import embedded_auth, embedded_registry
from tests.contract.client import RouterClient
from tests.support.token_client import TokenClient

EVERY_METHOD = [
    (route, method, declared)
    for route in routes.ROUTES
    for method, declared in route.methods.items()
]


@pytest.mark.parametrize(
    ("route", "method", "declared"),
    EVERY_METHOD,
    ids=[f"{method} {route.path}" for route, method, _ in EVERY_METHOD],
)
def test_every_route_and_method_declares_an_action(
    route: routes.Route, method: str, declared: routes.Method
) -> None:
    assert declared.action in routes.ACTIONS, f"{method} {route.path} declares no action"
    if declared.action in REPOSITORY_ACTIONS:  # the gate needs the repository to check
        assert route.names_repository(), f"{method} {route.path} names no repository"
    if declared.audited:
        assert declared.action in (PUSH, DELETE)
    assert callable(resolve(declared.handler))


def test_what_is_audited() -> None:
    audited = {(m, r.path) for r in routes.ROUTES for m, d in r.methods.items() if d.audited}
    assert audited == {
        ("PUT", "/v2/{name}/manifests/{reference}"),
        ("DELETE", "/v2/{name}/manifests/{reference}"),
        ("DELETE", "/v2/{name}/blobs/{digest}"),
    }


@pytest.mark.parametrize("action", [None, "", "pul", "*"])
def test_the_gate_refuses_a_method_without_an_action(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, action: str | None
) -> None:
    gate = Gate(embedded_auth(str(tmp_path)))
    request = Request("GET", "/v2/a/b/undeclared")
    # On the logger itself: once app.py is imported, Chalice stops `soute` propagating.
    logger = logging.getLogger("soute.auth")
    logger.addHandler(caplog.handler)
    try:
        with pytest.raises(OCIError) as refused:
            gate.authorise(request, routes.Method("listings.base", action), {"name": "a/b"})
    finally:
        logger.removeHandler(caplog.handler)
    assert (refused.value.status, refused.value.code) == (403, "DENIED")
    assert "declares no action" in caplog.text


def test_a_repository_action_without_a_repository_is_refused(tmp_path: Path) -> None:
    gate = Gate(embedded_auth(str(tmp_path)))
    with pytest.raises(OCIError) as refused:
        gate.authorise(Request("GET", "/v2/x"), routes.Method("listings.base", PUSH), {})
    assert refused.value.status == 403


def test_an_undeclared_route_is_refused_even_to_an_admin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the router, with a valid admin token: 403, not the handler's 200."""
    undeclared = routes.Route("/v2/_undeclared", {"GET": routes.Method("listings.base", None)})
    compiled = router_module._compile(undeclared)
    monkeypatch.setattr(router_module, "ROUTES", (compiled, *router_module.ROUTES))
    context = embedded_auth(str(tmp_path))
    context.store.add_user(User("root", hash_password("pw"), admin=True))
    raw = RouterClient(Router(embedded_registry(str(tmp_path)), context))
    admin = TokenClient(raw, "root", "pw")
    assert admin.request("GET", "/v2/_catalog").status == 200  # the admin's token works
    bearer = {"Authorization": f"Bearer {admin.tokens['/v2/_catalog']}"}
    reply = raw.request("GET", "/v2/_undeclared", headers=bearer)
    assert (reply.status, reply.error_code()) == (403, "DENIED"), reply.body
