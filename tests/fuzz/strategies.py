"""Hypothesis strategies for whole registry requests: a route from the route table filled with
names, references, digests and upload ids (known ones from the pool, valid new ones, and
garbage), a query, headers, a body and a credential.

Values lean towards what the registry accepts, so that requests get past the first check, and
each one has a share of inputs a client should never send: trailing newlines, Unicode digits,
numbers of thousands of digits, deep JSON, forged tokens."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

from .pool import Pool
from .routes import ALL_METHODS, FuzzRoute, Optional, Param

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_TYPES = [
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_LIST,
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.empty.v1+json",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/octet-stream",
    "application/json",
    "application/x-www-form-urlencoded",
    "application/vnd.example+type",
]
QUERY_KEYS = [
    "n", "last", "digest", "mount", "from", "repository", "tag", "artifactType",
    "expires", "nonce", "signature", "service", "scope", "account", "offline_token",
]  # fmt: skip
ADMIN, ALICE = "@admin", "@alice"  # "use this user's token, logging in on a challenge"
BODY_DIGEST = "@body-digest"  # replaced by the body's sha256 once the body is drawn
SOURCES = [f"198.51.100.{i}" for i in range(1, 9)]
# Unicode digits: str.isdigit() says yes to all, int() refuses the superscripts; \d in a
# regex matches the Arabic-Indic and fullwidth ones.
ODD_DIGITS = ["²", "³", "١٢", "１０", "٣", "⁹", "𝟗"]


@dataclass
class Body:
    data: bytes
    desc: str = ""  # how to rebuild a large body in a reproduction, e.g. "'[' * 50000 + ..."


@dataclass
class FuzzCase:
    route: str  # the route's label, or "(any path)"
    method: str
    path: str  # decoded, as a front end hands it to the router
    query: str  # the raw query string
    headers: dict[str, str]
    body: Body
    credential: str | None  # ADMIN, ALICE, or None (the Authorization header, if any, is sent)
    chunked: bool = False
    source: str = SOURCES[0]


# -- small values -------------------------------------------------------------------------------

_SCALAR_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_PATH_TEXT = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="/?#"), max_size=24
)
_HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
)
_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
_WORD = st.text(_LOWER, min_size=1, max_size=8)
_COMPONENT = st.one_of(
    _WORD,
    st.tuples(_WORD, st.sampled_from([".", "_", "__", "-", "--"]), _WORD).map("".join),
)
VALID_NAME = st.lists(_COMPONENT, min_size=1, max_size=4).map("/".join)
VALID_TAG = st.tuples(
    st.sampled_from("abcXYZ019_"), st.text(_LOWER + "ABCXYZ._-", max_size=20)
).map("".join)
HEX64 = st.binary(min_size=32, max_size=32).map(bytes.hex)


def _huge_digits(draw_size: st.SearchStrategy[int] | None = None) -> st.SearchStrategy[str]:
    # Python's int() refuses more than 4,300 digits (ValueError), and so does json.loads.
    return (draw_size or st.integers(4290, 6000)).map(lambda k: "9" * k)


def weighted(*options: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, chosen with these weights (st.one_of drops a repeated branch, so
    repeating one there does not weigh it)."""
    indices = [i for i, (weight, _) in enumerate(options) for _ in range(weight)]
    strategies = [strategy for _, strategy in options]
    return st.sampled_from(indices).flatmap(strategies.__getitem__)


def pick(items: list[Any], fallback: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """An element of a list of the pool, read when drawn (the pool grows as the run goes on;
    it never empties once seeded), or the fallback for a list still empty when built."""
    if not items:
        return fallback
    return st.integers(0, 1 << 16).map(lambda i: items[i % len(items)])


def garbage_names() -> st.SearchStrategy[str]:
    return st.one_of(
        _PATH_TEXT,
        VALID_NAME.map(lambda n: n + "\n"),
        VALID_NAME.map(str.upper),
        VALID_NAME.map(lambda n: f"{n}/../{n}"),
        VALID_NAME.map(lambda n: f"_{n}"),
        st.integers(250, 300).map(lambda k: "a" * k),
        st.lists(_COMPONENT, min_size=15, max_size=20).map("/".join),  # Lambda routes 16 deep
        st.sampled_from(["", "a//b", "a/", "/a", "a..b", "a__b", "a___b", "_soute", "v2", "."]),
        st.sampled_from(["manifests", "blobs", "tags", "referrers", "a/blobs/b", "a/manifests"]),
    )


def names(pool: Pool) -> st.SearchStrategy[str]:
    known = pick(pool.names, VALID_NAME)
    return weighted((6, known), (1, VALID_NAME), (1, garbage_names()))


def digests(pool: Pool) -> st.SearchStrategy[str]:
    random_valid = st.one_of(
        HEX64.map(lambda h: f"sha256:{h}"),
        st.binary(min_size=64, max_size=64).map(lambda b: f"sha512:{b.hex()}"),
    )
    garbage = st.one_of(
        HEX64.map(lambda h: f"sha256:{h.upper()}"),
        HEX64.map(lambda h: f"sha256:{h}\n"),
        HEX64.map(lambda h: f"sha256:{h[:-1]}"),
        HEX64.map(lambda h: f"sha256:{h}0"),
        HEX64.map(lambda h: f"sha256+b64:{h}"),
        HEX64.map(lambda h: f"md5:{h[:32]}"),
        HEX64.map(lambda h: f"SHA256:{h}"),
        HEX64.map(lambda h: f"sha256:{h[:32]}%2F{h[32:]}"),
        _PATH_TEXT,
        st.sampled_from(["", "sha256:", ":", "sha256", "sha512:" + "0" * 64]),
    )
    known = st.one_of(
        pick(pool.blobs, random_valid.map(lambda d: (d, 0, ""))).map(lambda b: b[0]),
        pick(pool.manifests, random_valid.map(lambda d: (d, 0, ""))).map(lambda m: m[0]),
    )
    return weighted((2, known), (1, random_valid), (1, garbage))


def references(pool: Pool) -> st.SearchStrategy[str]:
    garbage = st.one_of(
        VALID_TAG.map(lambda t: t + "\n"),
        VALID_TAG.map(lambda t: "-" + t),
        st.integers(127, 140).map(lambda k: "t" * k),
        _PATH_TEXT,
    )
    known = pick(pool.tags, VALID_TAG)
    return weighted((3, known), (2, VALID_TAG), (1, digests(pool)), (1, garbage))


def upload_ids(pool: Pool) -> st.SearchStrategy[str]:
    known = pick(pool.uploads, st.uuids().map(lambda u: ("x", str(u)))).map(lambda u: u[1])
    direct = pick(pool.direct_uploads, st.uuids().map(lambda u: ("x", str(u)))).map(lambda u: u[1])
    return st.one_of(known, direct, st.uuids().map(str), _PATH_TEXT.filter(bool))


def params(pool: Pool, name: str, pattern: str) -> st.SearchStrategy[str]:
    if name == "name":
        return names(pool)
    if name == "reference":
        return references(pool)
    if name == "digest":
        return digests(pool)
    if name == "upload_id":
        return upload_ids(pool)
    if name == "number":
        return st.one_of(st.integers(1, 10001).map(str), st.integers(0, 10**6).map(str))
    return st.one_of(st.from_regex(pattern, fullmatch=True), _PATH_TEXT)


# -- query, headers and credentials -----------------------------------------------------------


def numbers_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(0, 2000).map(str),
        st.integers(-(10**20), 10**20).map(str),
        st.sampled_from(["", "-1", "abc", "1e3", "0x10", " 5", "5 ", "+5", *ODD_DIGITS]),
        _huge_digits(),
    )


def query_value(pool: Pool, key: str) -> st.SearchStrategy[str]:
    by_key: dict[str, st.SearchStrategy[str]] = {
        "n": numbers_text(),
        "last": st.one_of(names(pool), references(pool)),
        "digest": weighted((2, st.just(BODY_DIGEST)), (1, digests(pool))),
        "mount": digests(pool),
        "from": names(pool),
        "repository": names(pool),
        "tag": references(pool),
        "artifactType": st.one_of(st.sampled_from(MEDIA_TYPES), _SCALAR_TEXT),
        "expires": numbers_text(),
        "scope": st.one_of(
            names(pool).map(lambda n: f"repository:{n}:pull,push"),
            st.sampled_from(["registry:catalog:*", "repository::pull", "a:b", "::::"]),
            _SCALAR_TEXT,
        ),
        "service": st.sampled_from(["soute-registry", "other", ""]),
        "offline_token": st.sampled_from(["true", "false", "yes"]),
    }
    return by_key.get(key, _SCALAR_TEXT)


def query_pairs(pool: Pool) -> st.SearchStrategy[list[tuple[str, str]]]:
    pair = st.one_of(
        *[st.tuples(st.just(key), query_value(pool, key)) for key in QUERY_KEYS],
        st.tuples(_SCALAR_TEXT, _SCALAR_TEXT),
    )
    many_tags = st.tuples(st.integers(20, 300), VALID_TAG).map(
        lambda t: [("tag", f"{t[1]}{i}") for i in range(t[0])]
    )
    return weighted((6, st.lists(pair, max_size=4)), (1, many_tags))


def hinted_pairs(pool: Pool, label: str, method: str) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Query parameters a client sends on this route, so that requests get past "missing
    parameter" into the handler; each is left out half the time."""
    wanted: list[tuple[str, st.SearchStrategy[str]]] = []
    if "blobs/uploads" in label:
        wanted.append(("digest", weighted((2, st.just(BODY_DIGEST)), (1, digests(pool)))))
        if method == "POST":
            wanted += [("mount", digests(pool)), ("from", names(pool))]
    elif "manifests" in label and method == "PUT":
        wanted.append(("tag", references(pool)))
    elif "tags/list" in label or "_catalog" in label:
        wanted += [("n", numbers_text()), ("last", st.one_of(names(pool), references(pool)))]
    elif "referrers" in label:
        wanted.append(("artifactType", query_value(pool, "artifactType")))
    elif label.startswith("/token"):
        wanted += [("service", query_value(pool, "service")), ("scope", query_value(pool, "scope"))]
    if not wanted:
        return st.just([])
    each = [st.one_of(st.just(None), st.tuples(st.just(key), values)) for key, values in wanted]
    return st.tuples(*each).map(lambda pairs: [p for p in pairs if p is not None])


def raw_queries() -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_jwts() -> st.SearchStrategy[str]:
    header = st.one_of(
        st.fixed_dictionaries({"alg": st.sampled_from(["none", "HS256", "RS256", "ES256", ""])}),
        st.dictionaries(_SCALAR_TEXT, _SCALAR_TEXT, max_size=2),
    )
    claims = st.fixed_dictionaries(
        {},
        optional={
            "sub": st.sampled_from(["root", "alice", "", "admin"]),
            "aud": st.sampled_from(["soute-registry", "x"]),
            "exp": st.one_of(st.integers(0, 2**40), _SCALAR_TEXT),
            "access": st.just([{"type": "repository", "name": "*", "actions": ["*"]}]),
        },
    )
    return st.tuples(header, claims, st.binary(max_size=32)).map(
        lambda t: (
            f"{_b64(json.dumps(t[0]).encode())}.{_b64(json.dumps(t[1]).encode())}.{_b64(t[2])}"
        )
    )


def authorizations() -> st.SearchStrategy[str]:
    account = st.one_of(st.sampled_from(["mallory", "acme+ci", "aws", ""]), _SCALAR_TEXT)
    basic_pair = st.tuples(account, _SCALAR_TEXT).map(lambda p: f"{p[0]}:{p[1]}".encode())
    return st.one_of(
        forged_jwts().map(lambda t: f"Bearer {t}"),
        _HEADER_TEXT.map(lambda t: f"Bearer {t}"),
        st.sampled_from(["Bearer", "Bearer ", "Basic", "Basic =", "Digest x", "bearer x.y.z"]),
        basic_pair.map(lambda p: "Basic " + base64.b64encode(p).decode()),
        st.binary(max_size=24).map(lambda b: "Basic " + base64.b64encode(b).decode()),
        _HEADER_TEXT.map(lambda t: f"Basic {t}"),
        _HEADER_TEXT,
    )


def credentials() -> st.SearchStrategy[tuple[str | None, str | None]]:
    """(who logs in through the challenge, or None; the Authorization header sent as is)."""
    return weighted(
        (3, st.just((ADMIN, None))),
        (1, st.just((ALICE, None))),
        (1, st.just((None, None))),
        (2, authorizations().map(lambda a: (None, a))),
    )


def ranges() -> st.SearchStrategy[str]:
    small = st.integers(0, 5000)
    return st.one_of(
        st.tuples(small, small).map(lambda p: f"bytes={p[0]}-{p[1]}"),
        small.map(lambda k: f"bytes=-{k}"),
        small.map(lambda k: f"bytes={k}-"),
        st.sampled_from(["bytes=-", "bytes=0-0,5-9", "bytes=", "items=0-5", "bytes=a-b"]),
        st.sampled_from([f"bytes={d}-" for d in ODD_DIGITS] + [f"bytes=-{d}" for d in ODD_DIGITS]),
        _huge_digits().map(lambda d: f"bytes={d}-"),
        _huge_digits().map(lambda d: f"bytes=0-{d}"),
        _HEADER_TEXT,
    )


def content_ranges() -> st.SearchStrategy[str]:
    small = st.integers(0, 5000)
    return st.one_of(
        st.tuples(small, small).map(lambda p: f"{p[0]}-{p[1]}"),
        st.tuples(small, small).map(lambda p: f"bytes {p[0]}-{p[1]}/*"),
        st.sampled_from([f"{d}-{d}" for d in ODD_DIGITS]),
        _huge_digits().map(lambda d: f"0-{d}"),
        _huge_digits().map(lambda d: f"{d}-{d}"),
        _HEADER_TEXT,
    )


def content_lengths() -> st.SearchStrategy[str | None]:
    return weighted(
        (6, st.none()),
        (1, st.integers(0, 2**40).map(str)),
        (1, st.sampled_from(["-1", "abc", "", "1e3", " 5", *ODD_DIGITS])),
        (1, _huge_digits()),
    )


def hosts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            ["localhost", "localhost:5000", "127.0.0.1", "[::1]:5000", "evil.example", "a b",
             "localhost:abc", "", "xn--80ak6aa92e.com", "LOCALHOST", "127.1"]
        ),
        _HEADER_TEXT,
    )  # fmt: skip


def headers() -> st.SearchStrategy[dict[str, str]]:
    media = st.one_of(st.sampled_from(MEDIA_TYPES), _HEADER_TEXT)
    return st.fixed_dictionaries(
        {},
        optional={
            "Content-Type": st.one_of(media, media.map(lambda m: f"{m}; charset=utf-8")),
            "Accept": st.lists(media, max_size=3).map(", ".join),
            "Range": ranges(),
            "Content-Range": content_ranges(),
            # Mostly a loopback name: open mode refuses other hosts (DNS rebinding) early.
            "Host": weighted((2, st.sampled_from(["localhost", "127.0.0.1:5000"])), (1, hosts())),
            "X-Forwarded-Proto": st.sampled_from(["https", "http", "gopher", ""]),
            "If-None-Match": _HEADER_TEXT,
            "X-Random": _HEADER_TEXT,
        },
    )


# -- bodies -----------------------------------------------------------------------------------


class Huge:
    """A JSON number of more digits than Python's int() takes, placed in a document."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    _SCALAR_TEXT,
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_SCALAR_TEXT, inner, max_size=3),
    max_leaves=5,
)


def mutated(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a value of the right shape, sometimes any JSON value or a huge number."""
    return weighted(
        (8, plausible),
        (1, ANY_JSON),
        (1, st.integers(4301, 5000).map(Huge)),
        (1, st.sampled_from([-1, 0, 2**63, 2**64 + 1, 10**30, 1.5, 1e308, True])),
    )


def sizes() -> st.SearchStrategy[Any]:
    return mutated(st.integers(0, 100_000))


def descriptors(
    pool: Pool, kind: str, exact_only: bool = False
) -> st.SearchStrategy[dict[str, Any]]:
    """A descriptor of a known blob (kind "blob") or manifest (kind "manifest"), or a made-up
    one."""
    known = pool.blobs if kind == "blob" else pool.manifests
    exact = pick(known, st.nothing()).map(
        lambda k: {"mediaType": k[2], "digest": k[0], "size": k[1]}
    )
    if exact_only and known:
        return exact
    made_up = st.fixed_dictionaries(
        {
            "mediaType": mutated(st.sampled_from(MEDIA_TYPES)),
            "digest": mutated(digests(pool)),
            "size": sizes(),
        },
        optional={
            "annotations": mutated(st.dictionaries(_SCALAR_TEXT, _SCALAR_TEXT, max_size=3)),
            "artifactType": mutated(st.sampled_from(MEDIA_TYPES)),
            "urls": mutated(st.lists(_SCALAR_TEXT, max_size=2)),
            "platform": mutated(
                st.fixed_dictionaries({"os": _SCALAR_TEXT, "architecture": _SCALAR_TEXT})
            ),
        },
    )
    return st.one_of(exact, exact, made_up) if known else made_up


def valid_manifests(pool: Pool) -> st.SearchStrategy[dict[str, Any]]:
    """Manifests the registry accepts as they are: known blobs and manifests only."""
    blob = descriptors(pool, "blob", exact_only=True)
    image = st.fixed_dictionaries(
        {
            "schemaVersion": st.just(2),
            "mediaType": st.sampled_from([OCI_MANIFEST, DOCKER_MANIFEST]),
            "config": blob,
            "layers": st.lists(blob, max_size=3),
        },
        optional={
            "subject": descriptors(pool, "manifest", exact_only=True),
            "artifactType": st.sampled_from(MEDIA_TYPES),
            "annotations": st.dictionaries(_SCALAR_TEXT, _SCALAR_TEXT, max_size=2),
        },
    )
    index = st.fixed_dictionaries(
        {
            "schemaVersion": st.just(2),
            "mediaType": st.sampled_from([OCI_INDEX, DOCKER_LIST]),
            "manifests": st.lists(descriptors(pool, "manifest", exact_only=True), max_size=3),
        },
        optional={"subject": descriptors(pool, "manifest", exact_only=True)},
    )
    return weighted((2, image), (1, index))


def manifest_documents(pool: Pool) -> st.SearchStrategy[dict[str, Any]]:
    image = st.fixed_dictionaries(
        {
            "schemaVersion": mutated(st.just(2)),
            "mediaType": mutated(st.sampled_from([OCI_MANIFEST, DOCKER_MANIFEST])),
            "config": mutated(descriptors(pool, "blob")),
            "layers": mutated(st.lists(descriptors(pool, "blob"), max_size=3)),
        },
        optional={
            "subject": mutated(descriptors(pool, "manifest")),
            "artifactType": mutated(st.sampled_from(MEDIA_TYPES)),
            "annotations": mutated(st.dictionaries(_SCALAR_TEXT, _SCALAR_TEXT, max_size=3)),
        },
    )
    index = st.fixed_dictionaries(
        {
            "schemaVersion": mutated(st.just(2)),
            "mediaType": mutated(st.sampled_from([OCI_INDEX, DOCKER_LIST])),
            "manifests": mutated(st.lists(descriptors(pool, "manifest"), max_size=3)),
        },
        optional={
            "subject": mutated(descriptors(pool, "manifest")),
            "annotations": mutated(st.dictionaries(_SCALAR_TEXT, _SCALAR_TEXT, max_size=3)),
        },
    )
    return weighted((2, image), (1, index))


def direct_upload_documents(pool: Pool) -> st.SearchStrategy[dict[str, Any]]:
    repository = mutated(names(pool))
    initiate = st.fixed_dictionaries(
        {"repository": repository, "digest": mutated(digests(pool)), "size": sizes()}
    )
    numbers = st.fixed_dictionaries(
        {
            "repository": repository,
            "numbers": mutated(st.lists(st.integers(-2, 10_002), max_size=5)),
        }
    )
    part = st.fixed_dictionaries(
        {"number": mutated(st.integers(0, 10_001)), "etag": mutated(_SCALAR_TEXT)}
    )
    complete = st.fixed_dictionaries(
        {"repository": repository, "parts": mutated(st.lists(part, max_size=4))}
    )
    return st.one_of(initiate, numbers, complete)


def _drop_keys(documents: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """The document, sometimes without some of its keys (a bit mask of the keys to drop)."""
    mask = weighted((3, st.just(0)), (1, st.integers(0, 63)))
    return st.tuples(documents, mask).map(
        lambda t: {k: v for i, (k, v) in enumerate(t[0].items()) if not (t[1] >> i) & 1}
    )


def json_bytes(document: Any) -> Body:
    huge: list[int] = []

    def placeholder(value: Any) -> str:
        if isinstance(value, Huge):
            huge.append(value.digits)
            return f"@huge{len(huge) - 1}@"
        raise TypeError(type(value))

    text = json.dumps(document, default=placeholder)
    desc = ""
    for i, digits in enumerate(huge):
        text = text.replace(f'"@huge{i}@"', "9" * digits)
        desc = f"a JSON document with a {digits}-digit number"
    return Body(text.encode(), desc)


def nested_bodies() -> st.SearchStrategy[Body]:
    def build(depth: int, kind: str, wrap: bool) -> Body:
        opening, closing = ("[", "]") if kind == "list" else ('{"a":', "}")
        inner = opening * depth + "1" + closing * depth
        desc = f"{opening!r} * {depth} + '1' + {closing!r} * {depth}"
        if wrap:
            inner = f'{{"schemaVersion":2,"repository":"a","annotations":{inner}}}'
            desc = f"an object whose value is {desc}"
        return Body(inner.encode(), desc)

    depth = st.sampled_from([10, 900, 1000, 2000, 5000, 20000, 100_000])
    return st.builds(build, depth, st.sampled_from(["list", "dict"]), st.booleans())


def huge_number_bodies() -> st.SearchStrategy[Body]:
    def build(digits: int, key: str) -> Body:
        return Body(
            f'{{"{key}":{"9" * digits}}}'.encode(), f"{{{key!r}: <{digits} nines>}} as JSON"
        )

    return st.builds(build, st.integers(4290, 6000), st.sampled_from(["size", "schemaVersion"]))


def random_bytes() -> st.SearchStrategy[Body]:
    def build(chunk: bytes, times: int) -> Body:
        data = chunk * times
        return Body(data, f"{chunk!r} * {times}" if times > 1 else "")

    return st.builds(build, st.binary(max_size=64), st.sampled_from([1, 1, 1, 2, 100, 20_000]))


def form_bodies(pool: Pool) -> st.SearchStrategy[Body]:
    values = st.fixed_dictionaries(
        {},
        optional={
            "grant_type": st.sampled_from(["password", "refresh_token", "client_credentials", ""]),
            "username": st.sampled_from(["mallory", "", "acme+ci", "aws"]),
            "password": _SCALAR_TEXT,
            "refresh_token": st.one_of(forged_jwts(), _SCALAR_TEXT),
            "scope": query_value(pool, "scope"),
            "service": query_value(pool, "service"),
            "access_type": st.sampled_from(["offline", "online"]),
        },
    )
    return st.one_of(
        values.map(lambda v: Body(urlencode(v).encode())),
        st.binary(max_size=40).map(Body),
    )


def body_kind(route: FuzzRoute | None, method: str) -> str:
    label = route.label if route else ""
    if "manifests" in label and method == "PUT":
        return "manifest"
    if "_soute/uploads" in label:
        return "direct"
    if label.startswith("/token"):
        return "token"
    if "blobs/uploads" in label or "_soute/parts" in label:
        return "bytes"
    if method in ("GET", "HEAD", "DELETE"):
        return "mostly empty"
    return "any"


def bodies(pool: Pool, kind: str) -> st.SearchStrategy[Body]:
    documents = st.one_of(
        _drop_keys(manifest_documents(pool)), _drop_keys(direct_upload_documents(pool)), ANY_JSON
    ).map(json_bytes)
    generic = st.one_of(
        st.just(Body(b"")),
        random_bytes(),
        documents,
        nested_bodies(),
        huge_number_bodies(),
        form_bodies(pool),
    )
    if kind == "manifest":
        valid = valid_manifests(pool).map(json_bytes)
        manifests = _drop_keys(manifest_documents(pool)).map(json_bytes)
        return weighted((2, valid), (2, manifests), (1, generic))
    if kind == "direct":
        uploads = _drop_keys(direct_upload_documents(pool)).map(json_bytes)
        return weighted((3, uploads), (1, generic))
    if kind == "token":
        return weighted((2, form_bodies(pool)), (1, generic))
    if kind == "bytes":
        return weighted((2, random_bytes()), (1, generic))
    if kind == "mostly empty":
        return weighted((3, st.just(Body(b""))), (1, generic))
    return generic


# -- whole requests ---------------------------------------------------------------------------

_ANY_PATH = st.one_of(
    _PATH_TEXT.map(lambda t: f"/v2/{t}"),
    _PATH_TEXT.map(lambda t: f"/{t}"),
    st.integers(1, 40).map(lambda k: "/v2" + "/a" * k + "/manifests/latest"),
    st.sampled_from(["/", "/v2//", "/v2/_soute", "/v2/_soute/parts", "/token/x", "/v3/"]),
)


class CaseStrategies:
    """The strategies of one fuzz run, built once (hypothesis is slow to build and validate
    strategies on every draw) over the run's routes and pool."""

    def __init__(self, routes: list[FuzzRoute], pool: Pool) -> None:
        self.routes, self.pool = routes, pool
        self.pairs = [(route, method) for route in routes for method in route.methods]
        self.params = {
            (route.label, p.name): params(pool, p.name, p.pattern)
            for route in routes
            for p in route.template or ()
            if isinstance(p, Param)
        }
        self.regex_paths = {
            route.label: st.from_regex(route.pattern, fullmatch=True) for route in routes
        }
        kinds = ("manifest", "direct", "token", "bytes", "mostly empty", "any")
        self.bodies = {kind: bodies(pool, kind) for kind in kinds}
        self.query = query_pairs(pool)
        self.hints = {
            (route.label, method): hinted_pairs(pool, route.label, method)
            for route in routes
            for method in ALL_METHODS
        }
        self.headers = headers()
        self.credentials = credentials()
        self.lengths = content_lengths()
        self.raw_query = raw_queries()

    def cases(self) -> st.SearchStrategy[FuzzCase]:
        return _cases(self)


def _path_for(draw: Any, s: CaseStrategies, route: FuzzRoute) -> tuple[str, dict[str, str]]:
    """A path for `route` and the values of its parameters."""
    if route.template is None or draw(st.integers(0, 19)) == 0:
        path = draw(s.regex_paths[route.label])
        match = route.pattern.fullmatch(path)
        return path, (match.groupdict() if match else {})
    values: dict[str, str] = {}
    # A known upload session, under the repository it belongs to (or not).
    if "upload_id" in route.params and draw(st.booleans()):
        sessions = s.pool.direct_uploads if "_soute" in route.label else s.pool.uploads
        if sessions:
            name, upload_id = sessions[draw(st.integers(0, 1 << 16)) % len(sessions)]
            values = {"name": name, "upload_id": upload_id}
    out = []
    for piece in route.template:
        if isinstance(piece, Param):
            if piece.name not in values:
                values[piece.name] = draw(s.params[(route.label, piece.name)])
            out.append(values[piece.name])
        elif isinstance(piece, Optional):
            out.append(piece.text if draw(st.booleans()) else "")
        else:
            out.append(piece)
    return "".join(out), values


def _media_type_of(data: bytes) -> str | None:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return None
    media_type = document.get("mediaType") if isinstance(document, dict) else None
    return media_type if isinstance(media_type, str) else None


@st.composite
def _cases(draw: Any, s: CaseStrategies) -> FuzzCase:
    # Every (route, method) pair alike; now and then a method the route does not have, or a
    # path of no route.
    pair = draw(weighted((7, st.sampled_from(s.pairs)), (1, st.none())))
    if pair is None:
        label, path, values = "(any path)", draw(_ANY_PATH), {}
        route, method = None, draw(st.sampled_from(ALL_METHODS))
    else:
        route, method = pair
        label = route.label
        path, values = _path_for(draw, s, route)
        if draw(st.integers(0, 11)) == 0:
            method = draw(st.sampled_from(ALL_METHODS))
    # A signed part URL the registry gave out, with its own query.
    part = None
    if "_soute/parts" in label and s.pool.part_paths and draw(st.booleans()):
        part = s.pool.part_paths[draw(st.integers(0, 1 << 16)) % len(s.pool.part_paths)]
        path = part[0]
    pairs = draw(s.query)
    if route is not None:
        pairs = draw(s.hints[(route.label, method)]) + pairs
    if "_soute/uploads/" in label and "name" in values and draw(st.integers(0, 3)):
        pairs.append(("repository", values["name"]))
    body = draw(s.bodies[body_kind(route, method)])
    digest = "sha256:" + hashlib.sha256(body.data).hexdigest()
    pairs = [(k, digest if v == BODY_DIGEST else v) for k, v in pairs]
    query = urlencode(pairs)
    if part is not None:
        query = part[1] + ("&" + query if query and draw(st.booleans()) else "")
    elif draw(st.integers(0, 15)) == 0:
        query = draw(s.raw_query)
    credential, authorization = draw(s.credentials)
    sent = draw(s.headers)
    if body_kind(route, method) == "manifest" and draw(st.integers(0, 3)):
        sent["Content-Type"] = _media_type_of(body.data) or sent.get("Content-Type", "")
    if authorization is not None:
        sent["Authorization"] = authorization
    length = draw(s.lengths)
    if length is not None:
        sent["Content-Length"] = length
    return FuzzCase(
        route=label,
        method=method,
        path=path,
        query=query,
        headers=sent,
        body=body,
        credential=credential,
        chunked=draw(st.integers(0, 7)) == 0,
        source=draw(st.sampled_from(SOURCES)),
    )
