"""AWS-native login: the password is a presigned `sts:GetCallerIdentity` URL, which the registry
sends to STS itself; STS's answer names the caller's IAM identity (its ARN). Nothing is stored.

The secret is `aws-sts:` + base64url(URL) without padding, sent with the user name `aws`.
Before any request leaves the registry the URL must be exactly the shape the client builds
(`soute login --aws`): https, an STS host of the allow-list (never a host the caller chooses:
this is a server-side request forgery guard; the global host and `sts.<region>.<suffix>` for
the real regions of botocore's partition data, not a pattern, so no host that fails to resolve
can be named), path `/`, and only the GetCallerIdentity and SigV4 query parameters, with
`x-soute-service` among the signed headers. The registry sends that header with its own service
name, so a URL minted for another registry fails STS's signature check.

STS accepts a presigned GetCallerIdentity for 15 minutes after its X-Amz-Date whatever
X-Amz-Expires says (it ignores it; see aws-iam-authenticator), so a password lives 15 minutes
at most; a shorter X-Amz-Expires is honoured here.

Successful verifications are kept in memory for a short time, keyed by a SHA-256 of the secret:
docker fetches a token, so logs in again, on every push and pull.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import functools
import hashlib
import http.client
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit
from xml.etree import ElementTree

log = logging.getLogger("soute.auth")

PREFIX = "aws-sts:"  # marks a password as a presigned STS URL
ACCOUNT = "aws"  # the user name an AWS login is sent with
SERVICE_HEADER = "x-soute-service"  # signed by the client, sent by the registry
MAX_SECRET = 12 * 1024  # a URL with a long session token is ~3 KB; base64 adds a third
MAX_EXPIRES = 12 * 3600  # the longest X-Amz-Expires accepted (STS itself stops at 15 min)
STS_WINDOW = 15 * 60  # how long after X-Amz-Date STS accepts a presigned request
CLOCK_SKEW = 5 * 60  # how far in the future X-Amz-Date may be
MAX_RESPONSE = 16 * 1024  # GetCallerIdentity answers with well under 1 KB
GLOBAL_STS_HOST = "sts.amazonaws.com"
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?&=%+]+")
_DATE = "%Y%m%dT%H%M%SZ"
_SECONDS = re.compile(r"[0-9]{1,6}")
_DATE_VALUE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_REQUIRED = {
    "Action",
    "Version",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
}
_OPTIONAL = {"X-Amz-Security-Token"}  # temporary credentials (roles, SSO) carry one
# [0-9], never \d: in a str pattern \d takes any Unicode digit.
_ARN = re.compile(r"arn:aws(?:-[a-z-]+)?:(?:iam|sts)::([0-9]{12}):[\x21-\x7e]{1,2000}")
_ASSUMED = re.compile(r"arn:([a-z-]+):sts::([0-9]{12}):assumed-role/([^/]+)/[^/]+")

Fetch = Callable[[str, dict[str, str], float], tuple[int, bytes]]


class StsUnavailable(Exception):
    """STS could not be asked or did not answer (network, timeout, throttling, 5xx)."""


@dataclass(frozen=True)
class AwsIdentity:
    """Who STS says signed the URL."""

    arn: str
    account: str
    user_id: str


@dataclass(frozen=True)
class SignedUrl:
    """A presigned URL that passed every check, and what the checks read from it."""

    url: str
    access_key: str
    signed_at: float
    valid_until: float


def encode_secret(url: str) -> str:
    return PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def is_aws_secret(secret: str) -> bool:
    return secret.startswith(PREFIX)


def decode_secret(secret: str) -> str | None:
    """The URL inside an AWS login secret, or None when it is not one or not decodable."""
    if not is_aws_secret(secret) or len(secret) > MAX_SECRET:
        return None
    encoded = secret[len(PREFIX) :]
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("ascii")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None


def check_url(url: str, now: float, extra_endpoints: Iterable[str] = ()) -> SignedUrl | str:
    """The URL's checked parts, or why it is refused. Pure: nothing is fetched."""
    if not _URL_CHARS.fullmatch(url):
        return "characters outside the presigned URL alphabet"
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" of an IPv6 host
        return "not a URL"
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin not in set(extra_endpoints):
        if parts.scheme != "https":
            return "not https"
        if parts.netloc not in sts_hosts():  # the whole netloc: no userinfo, no port
            return "not an STS host"
    if parts.path != "/" or parts.fragment:
        return "the path is not /"
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return "a malformed query"
    query = dict(pairs)
    if len(query) != len(pairs) or not _REQUIRED <= query.keys() <= _REQUIRED | _OPTIONAL:
        return "not exactly the GetCallerIdentity and signing parameters"
    if problem := _check_signing(query):
        return problem
    validity = _validity(query, now)
    if isinstance(validity, str):
        return validity
    access_key = query["X-Amz-Credential"].split("/", 1)[0]
    return SignedUrl(f"{origin}/?{parts.query}", access_key, *validity)


@functools.cache
def sts_hosts() -> frozenset[str]:
    """The STS hosts of every region botocore knows, in every partition. Loaded on first use:
    importing botocore's loader and reading its endpoints data take ~0.35 s, which a Lambda
    cold start that sees no AWS login should not pay (and ~50 ms once imported)."""
    from botocore.loaders import create_loader

    hosts = {GLOBAL_STS_HOST}
    for partition in create_loader().load_data("endpoints")["partitions"]:
        endpoints = partition["services"].get("sts", {}).get("endpoints", {})
        # Only real regions: the endpoint list also has aws-global and *-fips pseudo-regions.
        regions = endpoints.keys() & partition["regions"].keys()
        hosts.update(f"sts.{region}.{partition['dnsSuffix']}" for region in regions)
    return frozenset(hosts)


def _check_signing(query: dict[str, str]) -> str | None:
    if query["Action"] != "GetCallerIdentity" or query["Version"] != "2011-06-15":
        return "not GetCallerIdentity of version 2011-06-15"
    if query["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
        return "not signed with AWS4-HMAC-SHA256"
    if SERVICE_HEADER not in query["X-Amz-SignedHeaders"].split(";"):
        return f"{SERVICE_HEADER} is not a signed header"
    scope = query["X-Amz-Credential"].split("/")
    if len(scope) != 5 or scope[3] != "sts" or scope[4] != "aws4_request":
        return "not an STS credential scope"
    expires = query["X-Amz-Expires"]
    # ASCII digits only: str.isdigit() also takes "²" or "٣", which int() refuses or reads.
    if not _SECONDS.fullmatch(expires) or not 1 <= int(expires) <= MAX_EXPIRES:
        return f"X-Amz-Expires is not between 1 and {MAX_EXPIRES}"
    return None


def _validity(query: dict[str, str], now: float) -> tuple[float, float] | str:
    """When the URL was signed and until when STS accepts it, or why it is refused."""
    if not _DATE_VALUE.fullmatch(query["X-Amz-Date"]):
        return "X-Amz-Date is not a date"
    try:
        signed_at = datetime.strptime(query["X-Amz-Date"], _DATE).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return "X-Amz-Date is not a date"
    valid_until = signed_at + min(int(query["X-Amz-Expires"]), STS_WINDOW)
    if signed_at > now + CLOCK_SKEW:
        return "X-Amz-Date is in the future"
    if now >= valid_until:
        return "expired"
    return signed_at, valid_until


def parse_identity(body: bytes) -> AwsIdentity | None:
    """The Arn, Account and UserId of a GetCallerIdentity answer, or None."""
    if len(body) > MAX_RESPONSE or b"<!" in body:  # no DTD, so no entity can be declared
        return None
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    found: dict[str, str] = {}
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1]
        if name in ("Arn", "Account", "UserId") and element.text:
            found.setdefault(name, element.text.strip())
    arn, account = found.get("Arn", ""), found.get("Account", "")
    match = _ARN.fullmatch(arn)
    if not match or match.group(1) != account:
        return None
    return AwsIdentity(arn, account, found.get("UserId", ""))


def role_arn(arn: str) -> str:
    """The role ARN of an assumed-role session ARN (the ARN itself for anything else):
    `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION` -> `arn:aws:iam::ACCT:role/ROLE`. STS does not
    say the role's path, so patterns for roles are written without one."""
    match = _ASSUMED.fullmatch(arn)
    if not match:
        return arn
    partition, account, role = match.groups()
    return f"arn:{partition}:iam::{account}:role/{role}"


def arn_matches(pattern: str, arn: str) -> bool:
    """fnmatch, case-sensitive, against the full ARN or its role ARN."""
    return any(fnmatch.fnmatchcase(candidate, pattern) for candidate in {arn, role_arn(arn)})


_PATTERN_PREFIX = re.compile(r"arn:aws(?:-[a-z-]+)?:(?:iam|sts)::[0-9]{12}:")


def pattern_problem(pattern: str) -> str | None:
    """Why an ARN pattern is refused, or None. The account must be written out: a wildcard
    there would let a role of that name in any AWS account in, and anyone can create one."""
    if not _PATTERN_PREFIX.match(pattern) or any(c.isspace() for c in pattern):
        return (
            "a pattern starts arn:aws:iam::<12-digit account>: (or sts), with no wildcard"
            " before the resource, e.g. arn:aws:iam::123456789012:role/ci-*"
        )
    return None


def urllib_fetch(url: str, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """GET `url` without following redirects; the status and up to MAX_RESPONSE + 1 bytes."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with opener.open(request, timeout=timeout) as reply:
            return reply.status, reply.read(MAX_RESPONSE + 1)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, b""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect is answered as the 3xx it is: a failed login


class AwsLoginVerifier:
    """Checks AWS login secrets against STS. `extra_endpoints` are exact `scheme://host:port`
    origins also allowed (an STS emulator, for tests only); `fetch` replaces the HTTP GET."""

    def __init__(
        self,
        extra_endpoints: Iterable[str] = (),
        *,
        timeout: float = 5.0,
        cache_seconds: float = 60.0,
        cache_size: int = 1024,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.extra_endpoints = tuple(extra_endpoints)
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self.fetch = fetch or urllib_fetch
        self.clock = clock
        self._cache: OrderedDict[str, tuple[float, AwsIdentity]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, secret: str, service: str) -> AwsIdentity | None:
        """The identity that signed the URL in `secret` for `service`, or None. Raises
        StsUnavailable."""
        now = self.clock()
        key = hashlib.sha256(f"{service}\0{secret}".encode()).hexdigest()
        if (cached := self._cached(key, now)) is not None:
            return cached
        url = decode_secret(secret)
        checked = check_url(url, now, self.extra_endpoints) if url is not None else "undecodable"
        if isinstance(checked, str):
            log.info("aws login refused before asking STS: %s", checked)  # never the URL
            return None
        identity = self._ask_sts(checked, service)
        if identity is not None:
            self._remember(key, identity, min(now + self.cache_seconds, checked.valid_until))
        return identity

    def _ask_sts(self, signed: SignedUrl, service: str) -> AwsIdentity | None:
        """STS's answer; raises StsUnavailable when it gave none (the client gets a 503 it may
        retry; the attempt still counts against its source, see Authenticator.login)."""
        headers = {SERVICE_HEADER: service, "Accept": "application/xml"}
        try:
            status, body = self.fetch(signed.url, headers, self.timeout)
        except (OSError, ValueError, http.client.HTTPException) as error:
            # URLError and timeouts are OSErrors; IncompleteRead is an HTTPException.
            log.warning("aws login: STS could not be asked: %s", type(error).__name__)
            raise StsUnavailable(type(error).__name__) from None
        if status == 429 or status >= 500:
            log.warning("aws login: STS answered %s", status)
            raise StsUnavailable(f"STS answered {status}")
        if status != 200:
            log.info("aws login refused by STS: status %s", status)
            return None
        return parse_identity(body)

    def _cached(self, key: str, now: float) -> AwsIdentity | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            if now >= entry[0]:
                del self._cache[key]
                return None
            return entry[1]

    def _remember(self, key: str, identity: AwsIdentity, until: float) -> None:
        with self._lock:
            self._cache[key] = (until, identity)
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
