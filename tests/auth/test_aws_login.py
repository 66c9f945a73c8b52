"""AWS-native login: the presigned-URL checks (the SSRF guard), the STS answer, ARN patterns,
and logins through the router against an STS emulator (tests/auth/sts_emulator.py)."""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import boto3
import jwt
import pytest

from chalicelib.api.router import Router
from chalicelib.auth import audit
from chalicelib.auth.authenticator import Authenticator, LoginThrottled
from chalicelib.auth.aws_login import (
    PREFIX,
    AwsLoginVerifier,
    StsUnavailable,
    arn_matches,
    check_url,
    decode_secret,
    encode_secret,
    parse_identity,
    pattern_problem,
    role_arn,
)
from chalicelib.auth.context import AuthContext
from chalicelib.auth.model import MAINTAINER, READER, AwsMapping, Team, User
from chalicelib.auth.passwords import hash_password
from chalicelib.auth.throttle import LoginThrottle
from chalicelib.cli.login import aws_secret
from chalicelib.server.backends import embedded_auth, embedded_registry
from chalicelib.storage.embedded.sqlite_identities import FILE, SqliteIdentityStore
from tests.auth.sts_emulator import StsEmulator
from tests.contract.client import RouterClient, image_manifest, push_blob, put_manifest
from tests.support.token_client import TokenClient

SERVICE = "soute-registry"
ACCOUNT_ID = "123456789012"
CI_PATTERN = f"arn:aws:iam::{ACCOUNT_ID}:role/ci-*"
IDENTITY_XML = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    b"<GetCallerIdentityResult><UserId>AROAEXAMPLE:job</UserId><Account>123456789012</Account>"
    b"<Arn>arn:aws:sts::123456789012:assumed-role/ci-builder/job</Arn></GetCallerIdentityResult>"
    b"</GetCallerIdentityResponse>"
)


# -- the presigned URL, before anything is fetched ------------------------------------------------
class RecordingFetch:
    """Stands in for the HTTP GET: records every URL it is asked for."""

    def __init__(self, status: int = 200, body: bytes = IDENTITY_XML) -> None:
        self.status, self.body = status, body
        self.calls: list[tuple[str, dict[str, str]]] = []

    def __call__(self, url: str, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
        self.calls.append((url, headers))
        return self.status, self.body


def _presign(endpoint: str = "https://sts.us-east-1.amazonaws.com", **creds: str) -> str:
    """What `soute login --aws` builds (presigning is local: no request is made)."""
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=creds.get("key", "AKIDEXAMPLE"),
        aws_secret_access_key=creds.get("secret", "secret"),
        aws_session_token=creds.get("token"),
    )

    def header(request: object, **_: object) -> None:
        request.headers["x-soute-service"] = SERVICE  # type: ignore[attr-defined]

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", header)
    return sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=900)


def _with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for key, value in changes.items():
        key = key.replace("_", "-")
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"


def _date(offset: float) -> str:
    return datetime.fromtimestamp(time.time() + offset, UTC).strftime("%Y%m%dT%H%M%SZ")


GOOD = _presign()
BAD_URLS = {
    "another host": GOOD.replace("sts.us-east-1.amazonaws.com", "evil.example.com"),
    "an STS-looking host": GOOD.replace("amazonaws.com/", "amazonaws.com.evil.example/"),
    "http": GOOD.replace("https://", "http://"),
    "userinfo": GOOD.replace(
        "https://sts.us-east-1.amazonaws.com", "https://sts.amazonaws.com@evil"
    ),
    "a port": GOOD.replace("amazonaws.com/", "amazonaws.com:8443/"),
    "a path": GOOD.replace("amazonaws.com/?", "amazonaws.com/x?"),
    "a fragment": GOOD + "#x",
    "an extra parameter": GOOD + "&Foo=bar",
    "a second Action": GOOD + "&Action=AssumeRole",
    "no Action": _with_query(GOOD, Action=None),
    "another Action": _with_query(GOOD, Action="AssumeRole"),
    "another Version": _with_query(GOOD, Version="2012-01-01"),
    "too long an expiry": _with_query(GOOD, X_Amz_Expires="43201"),
    "a zero expiry": _with_query(GOOD, X_Amz_Expires="0"),
    "a future date": _with_query(GOOD, X_Amz_Date=_date(600)),
    "an expired date": _with_query(GOOD, X_Amz_Date=_date(-16 * 60)),
    "a date past X-Amz-Expires": _with_query(GOOD, X_Amz_Date=_date(-120), X_Amz_Expires="60"),
    "no signed service header": _with_query(GOOD, X_Amz_SignedHeaders="host"),
    "not an STS scope": _with_query(
        GOOD, X_Amz_Credential="AKID/20260101/us-east-1/s3/aws4_request"
    ),
    "no signature": _with_query(GOOD, X_Amz_Signature=None),
    "an emulator not allowed": _presign("http://127.0.0.1:9"),
}
BAD_SECRETS = {
    **{name: encode_secret(url) for name, url in BAD_URLS.items()},
    "garbage base64": PREFIX + "!!!not base64!!!",
    "binary inside": PREFIX + base64.urlsafe_b64encode(b"\xff\xfe https://x").decode(),
    "huge": PREFIX + "A" * 200_000,
    "empty": PREFIX,
}


@pytest.mark.parametrize("name", BAD_SECRETS)
def test_a_bad_url_is_refused_without_any_request(name: str) -> None:
    fetch = RecordingFetch()
    verifier = AwsLoginVerifier(fetch=fetch)
    assert verifier.verify(BAD_SECRETS[name], SERVICE) is None
    assert fetch.calls == []


REASONS = {  # what check_url says for each, so each case fails for its own reason
    "another host": "not an STS host",
    "an STS-looking host": "not an STS host",
    "http": "not https",
    "userinfo": "alphabet",  # '@' never appears in a presigned URL
    "a port": "not an STS host",
    "a path": "the path is not /",
    "a fragment": "alphabet",
    "an extra parameter": "not exactly",
    "a second Action": "not exactly",
    "no Action": "not exactly",
    "another Action": "not GetCallerIdentity",
    "another Version": "not GetCallerIdentity",
    "too long an expiry": "X-Amz-Expires",
    "a zero expiry": "X-Amz-Expires",
    "a future date": "in the future",
    "an expired date": "expired",
    "a date past X-Amz-Expires": "expired",
    "no signed service header": "x-soute-service is not a signed header",
    "not an STS scope": "not an STS credential scope",
    "no signature": "not exactly",
    "an emulator not allowed": "not https",
}


@pytest.mark.parametrize("name", BAD_URLS)
def test_each_bad_shape_is_refused_by_the_url_check(name: str) -> None:
    reason = check_url(BAD_URLS[name], time.time())
    assert isinstance(reason, str) and REASONS[name] in reason


def test_the_good_shape_is_fetched_once_with_the_service_header() -> None:
    """The counterpart of the refusals: the recorder does see a well-formed URL."""
    fetch = RecordingFetch()
    identity = AwsLoginVerifier(fetch=fetch).verify(encode_secret(GOOD), "my-registry")
    assert identity is not None and identity.account == ACCOUNT_ID
    assert fetch.calls == [(GOOD, {"x-soute-service": "my-registry", "Accept": "application/xml"})]
    assert decode_secret(encode_secret(GOOD)) == GOOD


@pytest.mark.parametrize(
    "host",
    [
        "sts.amazonaws.com",
        "sts.eu-west-3.amazonaws.com",
        "sts.us-gov-west-1.amazonaws.com",
        "sts.cn-north-1.amazonaws.com.cn",
        "sts.us-isob-east-1.sc2s.sgov.gov",
    ],
)
def test_the_allowed_sts_hosts(host: str) -> None:
    url = GOOD.replace("sts.us-east-1.amazonaws.com", host)
    assert not isinstance(check_url(url, time.time()), str)


@pytest.mark.parametrize(
    "host",
    [
        "sts.xx-fake-1.amazonaws.com",  # STS-shaped, resolves nowhere
        "sts.us-east-99.amazonaws.com",
        "sts.us-east-1.amazonaws.com.cn",  # a real region in another partition's domain
        "sts.cn-north-1.amazonaws.com",
        "sts.us-isob-east-1.amazonaws.com",
        "sts.aws-global.amazonaws.com",  # botocore's pseudo-regions are no hosts
        "sts.us-east-1-fips.amazonaws.com",
    ],
)
def test_only_the_sts_hosts_of_real_regions_are_allowed(host: str) -> None:
    """A host that does not resolve gave StsUnavailable, which was not counted: unlimited
    attempts, each a DNS query of the caller's choosing (issue 10, F6)."""
    fetch = RecordingFetch()
    url = GOOD.replace("sts.us-east-1.amazonaws.com", host)
    assert check_url(url, time.time()) == "not an STS host"
    assert AwsLoginVerifier(fetch=fetch).verify(encode_secret(url), SERVICE) is None
    assert fetch.calls == []


def test_an_extra_endpoint_is_allowed_exactly() -> None:
    url = _presign("http://127.0.0.1:9")
    assert not isinstance(check_url(url, time.time(), ["http://127.0.0.1:9"]), str)
    assert isinstance(check_url(url, time.time(), ["http://127.0.0.1:99"]), str)


@pytest.mark.parametrize(
    "status,body",
    [
        (403, b"<ErrorResponse/>"),
        (302, b""),
        (200, b"not xml"),
        (200, IDENTITY_XML.replace(b"123456789012</Account>", b"999999999999</Account>")),
        (200, b'<!DOCTYPE x [<!ENTITY a "arn">]><A><Arn>&a;</Arn></A>'),
        (200, IDENTITY_XML + b" " * 20_000),
    ],
)
def test_a_failed_or_strange_sts_answer_is_a_failed_login(status: int, body: bytes) -> None:
    verifier = AwsLoginVerifier(fetch=RecordingFetch(status, body))
    assert verifier.verify(encode_secret(GOOD), SERVICE) is None


def test_the_sts_answer_is_parsed() -> None:
    identity = parse_identity(IDENTITY_XML)
    assert identity is not None
    assert identity.arn == "arn:aws:sts::123456789012:assumed-role/ci-builder/job"
    assert (identity.account, identity.user_id) == (ACCOUNT_ID, "AROAEXAMPLE:job")


def test_redirects_are_not_followed() -> None:
    """The real fetch, against a local server that redirects to a second one: the second one
    never sees a request."""
    from chalicelib.auth.aws_login import urllib_fetch
    from tests.auth.http_recorder import recording_server

    with recording_server(200) as target, recording_server(302, target.url) as redirector:
        assert urllib_fetch(redirector.url + "/", {}, 5)[0] == 302
        assert len(redirector.hits) == 1 and target.hits == []


# -- ARN patterns ---------------------------------------------------------------------------------
def test_an_assumed_role_matches_patterns_for_its_role() -> None:
    session = "arn:aws:sts::123456789012:assumed-role/ci-builder/job-42"
    assert role_arn(session) == "arn:aws:iam::123456789012:role/ci-builder"
    assert arn_matches(CI_PATTERN, session)
    assert arn_matches("arn:aws:sts::123456789012:assumed-role/ci-builder/*", session)
    assert not arn_matches("arn:aws:iam::123456789012:role/CI-*", session)  # case-sensitive
    assert not arn_matches(CI_PATTERN, "arn:aws:iam::999999999999:role/ci-builder")
    assert arn_matches(
        "arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/alice"
    )


def test_a_pattern_must_name_its_account() -> None:
    assert pattern_problem(CI_PATTERN) is None
    for bad in ("arn:aws:iam::*:role/ci", "*", "arn:aws:iam::12345678901?:role/x", "role/ci-*"):
        assert pattern_problem(bad) is not None, bad
    # `\d` of a str pattern takes any Unicode digit: Arabic-Indic ones name no AWS account.
    assert pattern_problem("arn:aws:iam::\u0661\u0662\u0663456789012:role/ci") is not None


# -- logins through the router, against the STS emulator -------------------------------------------
@dataclass
class AwsWorld:
    router: Router
    auth: AuthContext
    sts: StsEmulator
    data_dir: Path

    def client(self, secret: str) -> TokenClient:
        return TokenClient(RouterClient(self.router), "aws", secret)


def _world(data_dir: Path, sts: StsEmulator, **verifier: object) -> AwsWorld:
    aws_login = AwsLoginVerifier([sts.endpoint], **verifier)  # type: ignore[arg-type]
    auth = embedded_auth(str(data_dir), aws_login=aws_login)
    store = auth.store
    for org in ("acme", "other"):
        store.add_org(org)
    store.put_team(Team("acme", "ci", MAINTAINER))
    store.put_team(Team("acme", "readers", READER))
    store.put_team(Team("other", "devs", MAINTAINER))
    store.add_user(User("otto", hash_password("otto-password")))
    store.add_member("other", "devs", "otto")
    store.add_aws_mapping(AwsMapping(CI_PATTERN, "acme", "ci"))
    return AwsWorld(Router(embedded_registry(str(data_dir)), auth), auth, sts, data_dir)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sts: StsEmulator) -> AwsWorld:
    return _world(tmp_path_factory.mktemp("aws-login"), sts)


def _login_secret(
    sts: StsEmulator, monkeypatch: pytest.MonkeyPatch, role: str, service: str = SERVICE
) -> str:
    """`soute login --aws`'s secret, signed with the credentials of a session of `role`."""
    client = boto3.client("sts", endpoint_url=sts.endpoint, region_name="us-east-1")
    credentials = client.assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{role}", RoleSessionName=uuid.uuid4().hex[:12]
    )["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    return aws_secret(service, "us-east-1", 900, sts.endpoint)


def _token(world: AwsWorld, secret: str, scope: str) -> tuple[int, dict]:
    query = urlencode({"service": SERVICE, "scope": scope})
    pair = base64.b64encode(f"aws:{secret}".encode()).decode()
    reply = RouterClient(world.router).request(
        "GET", f"/token?{query}", headers={"Authorization": f"Basic {pair}"}
    )
    return reply.status, reply.json()


def test_a_mapped_role_pushes_and_pulls_in_its_teams_namespace(
    world: AwsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _login_secret(world.sts, monkeypatch, "ci-builder")
    client = world.client(secret)
    repo = f"acme/app-{uuid.uuid4().hex[:8]}"
    push_blob(client, repo, uuid.uuid4().bytes)
    assert put_manifest(client, repo, "v1", image_manifest(client, repo)).status == 201
    assert client.request("GET", f"/v2/{repo}/manifests/v1").status == 200
    assert client.request("POST", "/v2/other/app/blobs/uploads/").status == 403
    status, document = _token(world, secret, f"repository:{repo}:pull,push,delete")
    claims = jwt.decode(document["token"], options={"verify_signature": False})
    arn_prefix = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/ci-builder/"
    assert status == 200 and claims["sub"].startswith(f"aws:{arn_prefix}")
    assert claims["access"][0]["actions"] == ["delete", "pull", "push"]  # a maintainer's


def test_the_service_header_is_signed_and_sent(
    world: AwsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto checks no signature: the binding to this registry is STS's check, so what is
    tested is that the client signs the header and the registry sends its own service name."""
    secret = _login_secret(world.sts, monkeypatch, "ci-header")
    before = len(world.sts.presigned_hits())
    assert _token(world, secret, "repository:acme/x:pull")[0] == 200
    hit = world.sts.presigned_hits()[before]
    assert "x-soute-service" in hit["query"]["X-Amz-SignedHeaders"].split(";")
    assert hit["headers"]["x-soute-service"] == SERVICE


def test_an_unmapped_role_gets_the_wrong_password_answer(
    world: AwsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _login_secret(world.sts, monkeypatch, "deployer")
    verifier = world.auth.authenticator.aws_login
    identity = verifier.verify(secret, SERVICE) if verifier else None
    assert identity is not None and "assumed-role/deployer/" in identity.arn  # STS said yes
    status, document = _token(world, secret, "repository:acme/app:pull")
    assert status == 401
    assert document["errors"][0]["message"] == "wrong user name or password"


def test_an_aws_login_with_another_user_name_fails(
    world: AwsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _login_secret(world.sts, monkeypatch, "ci-builder")
    assert world.auth.authenticator.login("otto", secret, "10.0.0.9") is None
    assert world.auth.authenticator.login("aws", secret, "10.0.0.9") is not None


def test_a_bearer_token_principal_is_rebuilt_from_the_mappings(
    tmp_path: Path, sts: StsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _world(tmp_path, sts)
    otto = TokenClient(RouterClient(world.router), "otto", "otto-password")
    assert (
        put_manifest(otto, "other/hidden", "v1", image_manifest(otto, "other/hidden")).status == 201
    )
    client = world.client(_login_secret(sts, monkeypatch, "ci-catalog"))
    push_blob(client, "acme/seen", b"x" * 10)
    assert (
        put_manifest(client, "acme/seen", "v1", image_manifest(client, "acme/seen")).status == 201
    )
    catalog = client.request("GET", "/v2/_catalog")
    assert catalog.status == 200 and catalog.json()["repositories"] == ["acme/seen"]
    world.auth.store.remove_aws_mapping(AwsMapping(CI_PATTERN, "acme", "ci"))
    again = client.request("GET", "/v2/_catalog")  # the same bearer token, now mapped to nothing
    assert again.status == 200 and again.json()["repositories"] == []


def test_an_aws_login_gets_no_usable_refresh_token(
    world: AwsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _login_secret(world.sts, monkeypatch, "ci-refresh")
    form = urlencode(
        {
            "grant_type": "password",
            "username": "aws",
            "password": secret,
            "service": SERVICE,
            "access_type": "offline",
            "scope": "repository:acme/app:pull",
        }
    ).encode()
    raw = RouterClient(world.router)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    reply = raw.request("POST", "/token", headers=headers, data=form)
    assert reply.status == 200
    assert "refresh_token" not in reply.json()
    # And one made for an AWS subject anyway (it would need the signing key) never works:
    subject = "aws:arn:aws:sts::123456789012:assumed-role/ci-refresh/s"
    refresh = world.auth.refresh.issue(subject, [], stamp=world.auth.authenticator.stamp(subject))
    form = urlencode(
        {"grant_type": "refresh_token", "refresh_token": refresh, "service": SERVICE}
    ).encode()
    assert raw.request("POST", "/token", headers=headers, data=form).status == 401


def test_a_second_login_is_answered_from_the_cache(
    tmp_path: Path, sts: StsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _world(tmp_path, sts)
    secret = _login_secret(sts, monkeypatch, "ci-cached")
    before = len(sts.presigned_hits())
    assert _token(world, secret, "repository:acme/a:pull")[0] == 200
    assert _token(world, secret, "repository:acme/b:pull")[0] == 200
    assert len(sts.presigned_hits()) == before + 1


def test_the_cache_expires(
    tmp_path: Path, sts: StsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [time.time()]
    world = _world(tmp_path, sts, clock=lambda: now[0], cache_seconds=30)
    secret = _login_secret(sts, monkeypatch, "ci-expiring")
    before = len(sts.presigned_hits())
    assert _token(world, secret, "repository:acme/a:pull")[0] == 200
    now[0] += 31
    assert _token(world, secret, "repository:acme/a:pull")[0] == 200
    assert len(sts.presigned_hits()) == before + 2


def test_an_aws_login_is_audited(world: AwsWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = _login_secret(world.sts, monkeypatch, "ci-audited")
    assert _token(world, secret, "repository:acme/a:pull")[0] == 200
    event = world.auth.audit.events(1)[0]
    assert (event.action, event.target) == (audit.LOGIN, "aws")
    assert event.actor.startswith("arn:aws:") and "ci-audited" in event.actor  # the IAM identity
    assert secret not in repr(world.auth.audit.events(50))


# -- throttling and configuration ------------------------------------------------------------------
def _authenticator(tmp_path: Path, fetch: RecordingFetch, limit: int = 3) -> Authenticator:
    store = SqliteIdentityStore(str(tmp_path / FILE))
    store.add_org("acme")
    store.put_team(Team("acme", "ci", MAINTAINER))
    store.add_aws_mapping(AwsMapping(CI_PATTERN, "acme", "ci"))
    verifier = AwsLoginVerifier(fetch=fetch)
    return Authenticator(store, LoginThrottle(limit=limit), verifier, SERVICE)


def test_failed_aws_logins_are_throttled_by_source_only(tmp_path: Path) -> None:
    """A SigV4 signature cannot be guessed, and the access key in the URL is unverified and no
    secret: counting by it would let anyone lock out someone's key. The source's count bounds
    what a caller makes us ask of STS."""
    fetch = RecordingFetch(403, b"")
    authenticator = _authenticator(tmp_path, fetch)
    victim_key = "AKIAVICTIM0000000001"
    for _ in range(3):
        secret = encode_secret(_presign(key=victim_key))
        assert authenticator.login("aws", secret, "10.0.0.1") is None
    with pytest.raises(LoginThrottled):
        authenticator.login("aws", encode_secret(_presign(key="AKIAOTHER00000000002")), "10.0.0.1")
    assert len(fetch.calls) == 3  # a throttled attempt never reaches STS
    # The victim's key from its own address is not locked out by those failures.
    fetch.status, fetch.body = 200, IDENTITY_XML
    assert authenticator.login("aws", encode_secret(_presign(key=victim_key)), "10.0.0.3")


def test_sts_unavailable_is_a_503_counted_against_the_source(tmp_path: Path) -> None:
    """No answer is no proof: STS unavailable counts against the source like a failure, or an
    attempt that makes STS (or a host's DNS) fail would cost the caller nothing."""
    fetch = RecordingFetch(503, b"")
    authenticator = _authenticator(tmp_path, fetch, limit=3)
    for _ in range(3):
        with pytest.raises(StsUnavailable):
            authenticator.login("aws", encode_secret(_presign()), "10.0.0.1")
    with pytest.raises(LoginThrottled):
        authenticator.login("aws", encode_secret(_presign()), "10.0.0.1")
    assert len(fetch.calls) == 3
    fetch.status, fetch.body = 200, IDENTITY_XML
    assert authenticator.login("aws", encode_secret(_presign()), "10.0.0.2")  # only the source


def test_without_a_verifier_an_aws_secret_is_a_wrong_password(tmp_path: Path) -> None:
    fetch = RecordingFetch()
    authenticator = _authenticator(tmp_path, fetch)
    authenticator.aws_login = None
    assert authenticator.login("aws", encode_secret(GOOD), "10.0.0.1") is None
    assert fetch.calls == []


def test_a_verified_identity_without_a_mapping_fails(tmp_path: Path) -> None:
    body = IDENTITY_XML.replace(b"ci-builder", b"intruder")
    authenticator = _authenticator(tmp_path, RecordingFetch(200, body))
    assert authenticator.login("aws", encode_secret(GOOD), "10.0.0.1") is None
    assert authenticator.principal(
        "aws:arn:aws:sts::123456789012:assumed-role/intruder/x"
    ).anonymous


@pytest.mark.parametrize(
    "url",
    [
        "https://[sts.amazonaws.com/?Action=GetCallerIdentity",  # urlsplit raises on it
        "https://sts.amazonaws.com]/?Action=GetCallerIdentity",
        _with_query(GOOD, X_Amz_Expires="²"),  # str.isdigit() says yes, int() says no
        _with_query(GOOD, X_Amz_Expires="٣"),  # a digit int() reads
        _with_query(GOOD, X_Amz_Date="٢٠٢٦1128T010000Z"),
    ],
)
def test_crafted_urls_are_refused_not_a_500(tmp_path: Path, url: str) -> None:
    assert isinstance(check_url(url, time.time()), str)
    fetch = RecordingFetch()
    authenticator = _authenticator(tmp_path, fetch)
    assert authenticator.login("aws", encode_secret(url), "10.0.0.1") is None
    assert fetch.calls == []
