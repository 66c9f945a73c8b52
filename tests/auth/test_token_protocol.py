"""The token-auth protocol as docker and containerd speak it, through the router."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from pathlib import Path
from urllib.parse import urlencode

import jwt

from chalicelib.api.messages import Request
from chalicelib.api.router import Router
from chalicelib.auth.access_tokens import create_access_token
from chalicelib.auth.model import User
from chalicelib.auth.passwords import hash_password
from chalicelib.auth.throttle import CounterUnavailable, LoginThrottle
from chalicelib.server.backends import embedded_auth, embedded_registry
from tests.auth.conftest import PASSWORD, AuthWorld
from tests.contract.client import RouterClient


def _basic(account: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{account}:{secret}".encode()).decode()}


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_the_base_endpoint_challenges(world: AuthWorld) -> None:
    reply = world.raw().request("GET", "/v2/", headers={"Host": "registry.test:5000"})
    assert reply.status == 401
    assert reply.error_code() == "UNAUTHORIZED"
    assert reply.headers["WWW-Authenticate"] == (
        'Bearer realm="http://registry.test:5000/token",service="soute-registry"'
    )
    assert reply.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_a_repository_request_challenges_with_its_scope(world: AuthWorld) -> None:
    reply = world.raw().request("GET", "/v2/acme/app/manifests/latest")
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].endswith(',scope="repository:acme/app:pull"')
    reply = world.raw().request("POST", "/v2/acme/app/blobs/uploads/")
    assert reply.headers["WWW-Authenticate"].endswith(',scope="repository:acme/app:pull,push"')
    reply = world.raw().request("GET", "/v2/_catalog")
    assert reply.headers["WWW-Authenticate"].endswith(',scope="registry:catalog:*"')


def test_get_token_grants_the_allowed_part_of_the_scopes(world: AuthWorld) -> None:
    query = urlencode(
        [
            ("service", "soute-registry"),
            ("scope", "repository:acme/app:pull,push,delete"),
            ("scope", "repository:other/app:pull"),
            ("account", "rita"),
        ]
    )
    reply = world.raw().request("GET", f"/token?{query}", headers=_basic("rita", PASSWORD))
    assert reply.status == 200, reply.body
    document = reply.json()
    assert document["token"] == document["access_token"]
    assert document["expires_in"] == 300
    assert document["issued_at"].endswith("Z")
    assert "refresh_token" not in document
    claims = _claims(document["token"])
    assert claims["sub"] == "rita" and claims["aud"] == "soute-registry"
    assert claims["access"] == [{"type": "repository", "name": "acme/app", "actions": ["pull"]}]
    assert claims["exp"] - claims["iat"] == 300
    assert reply.headers["Cache-Control"] == "no-store"


def test_scopes_naming_no_routable_repository_are_left_out(world: AuthWorld) -> None:
    """olga, an owner of acme, got tokens for names the router refuses (issue 10, F4). Like
    distribution's token server with a scope it cannot use, the token leaves them out."""
    scopes = ["repository:acme/App:pull", "repository:acme//x:pull", "repository:acme/ok:pull"]
    scopes.append(f"repository:acme/{'a' * 255}:pull")  # longer than a name may be
    query = "&".join(f"scope={scope}" for scope in scopes)
    reply = world.raw().request("GET", f"/token?{query}", headers=_basic("olga", PASSWORD))
    assert reply.status == 200, reply.body
    assert _claims(reply.json()["token"])["access"] == [
        {"type": "repository", "name": "acme/ok", "actions": ["pull"]}
    ]


def test_a_scope_broken_by_a_newline_is_refused(world: AuthWorld) -> None:
    """Scopes are separated by white space, so `evil\n` never reaches the name: the rest of
    the scope is malformed, a 400 that names it."""
    query = "scope=repository:acme/evil%0A:pull"
    reply = world.raw().request("GET", f"/token?{query}", headers=_basic("olga", PASSWORD))
    assert reply.status == 400 and reply.error_code() == "UNSUPPORTED"
    assert "repository:acme/evil" in reply.json()["errors"][0]["message"]


def test_a_wrong_password_is_refused_without_detail(world: AuthWorld) -> None:
    for account, secret in (("rita", "nope"), ("nobody", PASSWORD)):
        reply = world.raw().request("GET", "/token", headers=_basic(account, secret))
        assert reply.status == 401
        assert reply.json()["errors"][0]["message"] == "wrong user name or password"


def test_anonymous_tokens_grant_public_pulls_only(world: AuthWorld) -> None:
    query = urlencode(
        [("scope", "repository:pub/tool:pull,push"), ("scope", "repository:a/b:pull")]
    )
    reply = world.raw().request("GET", f"/token?{query}")
    assert reply.status == 200
    assert _claims(reply.json()["token"])["access"] == [
        {"type": "repository", "name": "pub/tool", "actions": ["pull"]}
    ]


def test_a_token_for_another_service_is_not_issued(world: AuthWorld) -> None:
    reply = world.raw().request("GET", "/token?service=elsewhere", headers=_basic("rita", PASSWORD))
    assert reply.status == 400
    assert "soute-registry" in reply.json()["errors"][0]["message"]


def _post(world: AuthWorld, form: dict[str, str]) -> dict:
    reply = world.raw().request(
        "POST",
        "/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data=urlencode(form).encode(),
    )
    assert reply.status == 200, reply.body
    return reply.json()


def test_post_token_password_and_refresh_grants(world: AuthWorld) -> None:
    first = _post(
        world,
        {
            "grant_type": "password",
            "username": "mia",
            "password": PASSWORD,
            "service": "soute-registry",
            "client_id": "containerd",
            "access_type": "offline",
            "scope": "repository:acme/app:pull,push",
        },
    )
    assert _claims(first["access_token"])["access"][0]["actions"] == ["pull", "push"]
    assert first["scope"] == "repository:acme/app:pull,push"
    refresh = first["refresh_token"]
    second = _post(
        world,
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "service": "soute-registry",
            "scope": "repository:acme/app:pull",
        },
    )
    assert _claims(second["access_token"])["sub"] == "mia"
    assert _claims(second["access_token"])["access"][0]["actions"] == ["pull"]


def test_a_refresh_token_is_not_a_bearer_token(world: AuthWorld) -> None:
    refresh = _post(
        world,
        {
            "grant_type": "password",
            "username": "mia",
            "password": PASSWORD,
            "access_type": "offline",
        },
    )["refresh_token"]
    reply = world.raw().request("GET", "/v2/", headers={"Authorization": f"Bearer {refresh}"})
    assert reply.status == 401


def test_a_bad_refresh_token_or_grant_is_refused(world: AuthWorld) -> None:
    raw = world.raw()
    form = {"grant_type": "refresh_token", "refresh_token": "garbage"}
    reply = raw.request("POST", "/token", data=urlencode(form).encode())
    assert reply.status == 401
    reply = raw.request("POST", "/token", data=b"grant_type=client_credentials")
    assert reply.status == 400


def test_a_forged_bearer_token_is_refused(world: AuthWorld) -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
    now = int(time.time())
    payload = {
        "iss": "soute",
        "sub": "olga",
        "aud": "soute-registry",
        "exp": now + 60,
        "iat": now,
        "nbf": now,
        "access": [{"type": "repository", "name": "acme/app", "actions": ["pull"]}],
    }
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    reply = world.raw().request(
        "GET", "/v2/acme/app/tags/list", headers={"Authorization": f"Bearer {header}.{body}."}
    )
    assert reply.status == 401
    assert reply.error_code() == "UNAUTHORIZED"


def test_repeated_failed_logins_are_throttled(world: AuthWorld) -> None:
    raw = world.raw()
    statuses = [
        raw.request("GET", "/token", headers=_basic("ghost-target", "guess")).status
        for _ in range(12)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]


def _token_from(router: Router, source: str, account: str, secret: str) -> int:
    """GET /token with Basic credentials as a client at address `source`."""
    request = Request(
        "GET", "/token", headers={k.lower(): v for k, v in _basic(account, secret).items()}
    )
    request.source = source
    return router.handle(request).status


def test_guesses_at_a_robot_name_do_not_lock_out_the_robot(tmp_path: Path) -> None:
    """Robot names are predictable (acme+ci): ten wrong guesses at one used to refuse its real
    256-bit secret for five minutes, from every address."""
    context = embedded_auth(str(tmp_path))
    robot, secret = create_access_token("robot", "acme", ["acme"], ["pull", "push"], None, "ci")
    context.store.add_org("acme")
    context.store.add_token(robot)
    router = Router(embedded_registry(str(tmp_path)), context)
    wrong = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    guesses = [_token_from(router, "10.6.6.6", "acme+ci", guess) for guess in ["x", wrong] * 6]
    assert set(guesses[:10]) == {401} and set(guesses[10:]) == {429}  # the guesser is throttled
    assert _token_from(router, "10.0.0.2", "acme+ci", secret) == 200
    assert _token_from(router, "10.6.6.6", "acme+ci", secret) == 200


def test_a_password_change_ends_refresh_tokens(world: AuthWorld) -> None:
    world.auth.store.add_user(User("pia", hash_password("first password")))
    form = {"grant_type": "password", "username": "pia", "password": "first password"}
    refresh = _post(world, {**form, "access_type": "offline"})["refresh_token"]
    again = {"grant_type": "refresh_token", "refresh_token": refresh}
    assert _post(world, again)["access_token"]
    world.auth.store.set_password("pia", hash_password("second password"))
    reply = world.raw().request("POST", "/token", data=urlencode(again).encode())
    assert reply.status == 401
    assert "password changed" in reply.json()["errors"][0]["message"]


def test_a_login_while_the_failure_counter_is_down_is_refused_503_not_500(
    tmp_path: Path,
) -> None:
    """The counter fails closed (chalicelib/auth/throttle.py): the right password gets a 503 the
    client may retry, never a token, and never a 500."""
    context = embedded_auth(str(tmp_path))
    context.store.add_user(User("alice", hash_password("wonderland")))
    broken = LoginThrottle(counter=DownCounter())
    authenticator = dataclasses.replace(context.authenticator, throttle=broken)
    router = Router(
        embedded_registry(str(tmp_path)), dataclasses.replace(context, authenticator=authenticator)
    )
    reply = RouterClient(router).request("GET", "/token", headers=_basic("alice", "wonderland"))
    assert reply.status == 503
    assert reply.error_code() == "UNAVAILABLE"
    assert reply.headers["Retry-After"] == "5"
    assert "token" not in reply.json()


class DownCounter:
    def add_failure(self, key: str, now: float, window: float) -> None:
        raise CounterUnavailable("down")

    def failures(self, key: str, now: float, window: float) -> int:
        raise CounterUnavailable("down")

    def clear(self, key: str) -> None:
        raise CounterUnavailable("down")
