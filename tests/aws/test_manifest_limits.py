"""Bounds of the DynamoDB layout against moto (issue 10, A1 and A3-A5): what a tag listing
reads whatever the manifests' sizes, how many tags a PUT and a manifest may carry, and a
manifest body that went missing from S3."""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from chalicelib.api.messages import Request, Response
from chalicelib.api.router import Router
from chalicelib.cli.main import main
from chalicelib.oci.errors import OCIError
from chalicelib.registry.errors import Conflict
from chalicelib.registry.manifests import MAX_TAGS_PER_PUT
from chalicelib.registry.service import Registry
from chalicelib.server.backends import BackendOptions
from chalicelib.storage.aws import dynamodb
from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.aws.dynamodb import TAG_BODY_LIMIT
from chalicelib.storage.ports import MAX_TAGS_PER_MANIFEST

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _manifest(registry: Registry, repo: str, pad: int = 0) -> bytes:
    """A manifest whose blobs are in `repo`, padded with an annotation to about `pad` bytes."""
    descriptors = []
    for data in (json.dumps({"n": uuid.uuid4().hex}).encode(), os.urandom(64)):
        registry.uploads.upload_whole(repo, _digest(data), io.BytesIO(data), len(data))
        descriptors.append({"mediaType": "application/octet-stream", "digest": _digest(data)})
        descriptors[-1]["size"] = len(data)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {**descriptors[0], "mediaType": "application/vnd.oci.image.config.v1+json"},
        "layers": descriptors[1:],
    }
    if pad:
        document["annotations"] = {"pad": "x" * pad}
    return json.dumps(document).encode()


@dataclass
class ReadMeter:
    """Counts DynamoDB calls, and the items and bytes each Query returns (botocore hooks)."""

    calls: list[str] = field(default_factory=list)
    items: int = 0
    bytes: int = 0

    def before(self, model: object, **_: object) -> None:
        self.calls.append(model.name)  # type: ignore[attr-defined]

    def after(self, http_response: object, parsed: dict, model: object, **_: object) -> None:
        if model.name == "Query":  # type: ignore[attr-defined]
            self.items += len(parsed.get("Items", []))
            self.bytes += len(http_response.content)  # type: ignore[attr-defined]


@pytest.fixture
def meter(backend: BackendOptions) -> Iterator[ReadMeter]:
    dynamodb = aws_clients(backend.region, backend.endpoint_url).dynamodb
    found = ReadMeter()
    dynamodb.meta.events.register("before-call.dynamodb.*", found.before)
    dynamodb.meta.events.register("after-call.dynamodb.*", found.after)
    yield found
    dynamodb.meta.events.unregister("before-call.dynamodb.*", found.before)
    dynamodb.meta.events.unregister("after-call.dynamodb.*", found.after)


def _tag(registry: Registry, repo: str, body: bytes, tags: list[str]) -> None:
    for start in range(0, len(tags), MAX_TAGS_PER_PUT):
        batch = tags[start : start + MAX_TAGS_PER_PUT]
        registry.manifests.put(repo, batch[0], body, OCI_MANIFEST, tuple(batch[1:]))


# -- A1: a tag listing reads small items only ----------------------------------------------


def test_listing_tags_of_a_big_manifest_reads_small_items(
    registry: Registry, meter: ReadMeter
) -> None:
    body = _manifest(registry, "r/big-tags", pad=150_000)
    _tag(registry, "r/big-tags", body, [f"t{i:03d}" for i in range(40)])
    meter.calls.clear()
    page = registry.listing.tags("r/big-tags", None, 10)
    assert page.items == [f"t{i:03d}" for i in range(10)] and page.more
    assert meter.items == 11  # the page and one more, to know whether a next page exists
    assert meter.bytes < 11 * 1024  # the tag items hold no copy of a 150 KB body
    assert meter.calls == ["GetItem", "Query"]


def test_first_page_of_100000_tags_costs_what_its_length_does(
    registry: Registry, backend: BackendOptions, meter: ReadMeter
) -> None:
    body = _manifest(registry, "r/many", pad=4000)  # an ordinary size: the tags copy it
    registry.manifests.put("r/many", "seed", body, OCI_MANIFEST)
    store = registry.manifests.meta
    template = store._get("R#r/many", "TAG#seed")  # noqa: SLF001
    assert template is not None and len(bytes(template["body"])) == len(body)
    _seed_tags(backend, template, 100_000)
    for n, calls in ((None, 1), (10, 1), (1000, 5)):  # None: the default page, 100 tags
        meter.calls.clear()
        meter.items = meter.bytes = 0
        page = registry.listing.tags("r/many", None, n)
        length = n or 100
        assert len(page.items) == length and page.more
        assert meter.items == length + 1
        # Each tag item is its body copy (<= TAG_BODY_LIMIT, base64 in the JSON reply) and a
        # few short attributes:
        assert meter.bytes <= (length + 1) * (TAG_BODY_LIMIT * 4 // 3 + 512)
        assert meter.calls == ["GetItem"] + ["Query"] * calls  # one per MB read


def _seed_tags(backend: BackendOptions, template: dict, count: int) -> None:
    """`count` copies of a tag item, straight into moto's table (its HTTP API takes ~45 s for
    100,000 items; this ~12 s)."""
    from boto3.dynamodb.types import TypeSerializer

    serialize = TypeSerializer().serialize
    item = {key: serialize(value) for key, value in template.items()}
    tables = dynamodb_backends[DEFAULT_ACCOUNT_ID][backend.region or "us-east-1"]
    for i in range(count):
        tables.put_item(backend.dynamodb_table, {**item, "sk": {"S": f"TAG#v{i:06d}"}})


def test_pull_by_tag_of_a_small_manifest_is_one_read_and_a_big_one_two(
    registry: Registry, meter: ReadMeter
) -> None:
    small = _manifest(registry, "r/reads", pad=TAG_BODY_LIMIT - 1000)
    big = _manifest(registry, "r/reads", pad=TAG_BODY_LIMIT)
    registry.manifests.put("r/reads", "small", small, OCI_MANIFEST)
    registry.manifests.put("r/reads", "big", big, OCI_MANIFEST)
    for tag, body, calls in (("small", small, ["GetItem"]), ("big", big, ["GetItem"] * 2)):
        meter.calls.clear()
        assert registry.manifests.get("r/reads", tag).body == body
        assert meter.calls == [*calls, "UpdateItem"]  # the hour's first pull records its time
        meter.calls.clear()
        assert registry.manifests.get("r/reads", tag).body == body
        assert meter.calls == calls
        meter.calls.clear()
        assert registry.manifests.head("r/reads", tag).size == len(body)
        assert meter.calls == ["GetItem"]


def test_tag_items_of_the_old_layout_are_read_and_rewritten_small(registry: Registry) -> None:
    """Tags written before: a copy of any body up to 256 KiB, or the body's S3 key."""
    store, repo = registry.manifests.meta, "r/old"
    inline = _manifest(registry, repo, pad=100_000)
    in_s3 = _manifest(registry, repo, pad=300_000)
    registry.manifests.put(repo, "inline", inline, OCI_MANIFEST)
    registry.manifests.put(repo, "in-s3", in_s3, OCI_MANIFEST)
    man = store._get("R#" + repo, f"MAN#{_digest(in_s3)}")  # noqa: SLF001
    old_items = {
        "inline": {"digest": _digest(inline), "media_type": OCI_MANIFEST, "body": inline},
        "in-s3": {
            "digest": _digest(in_s3),
            "media_type": OCI_MANIFEST,
            "body_key": man["body_key"],
        },
    }
    for tag, attributes in old_items.items():
        store.db.put_item(
            TableName=store.table, Item=store._item("R#" + repo, f"TAG#{tag}", **attributes)
        )  # noqa: SLF001
    for tag, body in (("inline", inline), ("in-s3", in_s3)):
        assert registry.manifests.get(repo, tag).body == body
        assert registry.manifests.head(repo, tag).size == len(body)
        registry.manifests.put(repo, tag, body, OCI_MANIFEST)  # a push again: rewritten small
        item = store._get("R#" + repo, f"TAG#{tag}")  # noqa: SLF001
        assert "body" not in item and "body_key" not in item and int(item["size"]) == len(body)
        assert registry.manifests.get(repo, tag).body == body


# -- A3: tags one PUT may set --------------------------------------------------------------


def test_more_tags_in_one_put_than_a_transaction_holds_is_a_clear_400(registry: Registry) -> None:
    body = _manifest(registry, "r/put-tags", pad=100_000)
    router = Router(registry)
    query = "&".join(f"tag=x{i}" for i in range(120))
    reply = _request(router, "PUT", f"/v2/r/put-tags/manifests/v1?{query}", body)
    assert reply.status == 400
    error = json.loads(reply.body)["errors"][0]
    assert error["code"] == "TAG_INVALID"
    assert f"at most {MAX_TAGS_PER_PUT} tags" in error["message"]
    limit = "&".join(f"tag=x{i}" for i in range(MAX_TAGS_PER_PUT - 1))
    assert _request(router, "PUT", f"/v2/r/put-tags/manifests/v1?{limit}", body).status == 201
    assert len(registry.listing.tags("r/put-tags", None, None).items) == MAX_TAGS_PER_PUT


def _request(router: Router, method: str, target: str, body: bytes = b"") -> Response:
    path, _, query = target.partition("?")
    args: dict[str, list[str]] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        args.setdefault(key, []).append(value)
    headers = {"content-type": OCI_MANIFEST} if body else {}
    return router.handle(Request(method, path, args, headers, io.BytesIO(body), len(body)))


# -- A4: a manifest item's tag set is bounded ----------------------------------------------


@pytest.mark.parametrize("pad", [190_000, 250_000])  # the largest body in the item; in S3
def test_tags_of_one_manifest_are_bounded_before_its_item_is_too_big(
    registry: Registry, pad: int
) -> None:
    """Long tags on a large manifest: the item must never pass DynamoDB's 400 KB (a 500)."""
    store, repo = registry.manifests.meta, "r/tag-set"
    body = _manifest(registry, repo, pad=pad)
    registry.manifests.put(repo, "first", body, OCI_MANIFEST)
    long_tags = {f"{i:04d}" + "t" * 124 for i in range(MAX_TAGS_PER_MANIFEST - 1)}
    store.db.update_item(  # as many tag writes would leave it, without 1,000 round trips
        TableName=store.table,
        Key=store._key("R#" + repo, f"MAN#{_digest(body)}"),  # noqa: SLF001
        UpdateExpression="ADD tags :t",
        ExpressionAttributeValues={":t": {"SS": sorted(long_tags)}},
    )
    for i in range(300):  # past 400 KB at ~1,150 such tags without the bound
        try:
            registry.manifests.put(repo, f"more{i:03d}" + "m" * 120, body, OCI_MANIFEST)
        except OCIError as refused:
            assert i == 0 and refused.status == 400 and refused.code == "TAG_INVALID"
            assert f"has {MAX_TAGS_PER_MANIFEST} tags" in refused.message
            break
    else:
        pytest.fail("no bound on a manifest's tags")
    # moto checks an item's size when an attribute is set, not when a set grows in place: so
    # measure it as DynamoDB does (names and values, in bytes), at the bound.
    key = store._key("R#" + repo, f"MAN#{_digest(body)}")  # noqa: SLF001
    item = store.db.get_item(TableName=store.table, Key=key)["Item"]
    assert _item_size(item) < 400 * 1024
    registry.manifests.delete(repo, "first")  # one fewer: room for one more
    registry.manifests.put(repo, "again", body, OCI_MANIFEST)


def _item_size(item: dict) -> int:
    def size(value: dict) -> int:
        kind, content = next(iter(value.items()))
        if kind in ("SS", "NS", "BS", "L"):
            return sum(size({kind[0]: v} if kind != "L" else v) for v in content)
        if kind == "M":
            return sum(len(k.encode()) + size(v) for k, v in content.items())
        if kind == "B":
            return len(content)
        return len(str(content).encode())

    return sum(len(name.encode()) + size(value) for name, value in item.items())


# -- A5: a manifest body missing from S3 ---------------------------------------------------


def test_manifest_body_missing_from_s3(
    registry: Registry, backend: BackendOptions, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = "r/lost"
    body = _manifest(registry, repo, pad=300_000)  # too big for an item: its body is in S3
    registry.manifests.put(repo, "v1", body, OCI_MANIFEST)
    s3 = aws_clients(backend.region, backend.endpoint_url).s3
    s3.delete_object(Bucket=backend.s3_bucket, Key=f"manifests/{_digest(body)}")
    router = Router(registry)
    for reference in ("v1", _digest(body)):
        head = _request(router, "HEAD", f"/v2/{repo}/manifests/{reference}")
        assert head.status == 200 and head.headers["Content-Length"] == str(len(body))
        get = _request(router, "GET", f"/v2/{repo}/manifests/{reference}")
        assert get.status == 404
        error = json.loads(get.body)["errors"][0]
        assert error["code"] == "MANIFEST_UNKNOWN" and "content is missing" in error["message"]
    verify = ["verify", "--backend", "aws", "--s3-bucket", backend.s3_bucket or ""]
    verify += ["--dynamodb-table", backend.dynamodb_table or ""]
    verify += ["--endpoint-url", backend.endpoint_url or "", "--region", "us-east-1"]
    capsys.readouterr()
    assert main(verify) == 1
    report = capsys.readouterr().out
    assert f"{repo}@{_digest(body)}: content missing" in report
    assert "1 missing" in report
    registry.manifests.put(repo, "v1", body, OCI_MANIFEST)  # a push again restores it
    assert _request(router, "GET", f"/v2/{repo}/manifests/v1").body == body
    assert main(verify) == 0


# -- A4: nor does a manifest item's list of references -------------------------------------


def test_references_past_the_limit_are_read_from_the_body(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 4 MiB manifest can name ~38,000 blobs: ~3 MB of sort keys, too many for an item. Past
    USES_LIMIT they are not kept but read from the body on delete. (5,400 real references
    take moto 15 minutes to count and uncount: the limit is lowered here instead.)"""
    monkeypatch.setattr(dynamodb, "USES_LIMIT", 1024)  # ~13 references
    repo = "r/layers"
    layers = []
    for i in range(30):
        data = f"layer {i} {uuid.uuid4()}".encode()
        registry.uploads.upload_whole(repo, _digest(data), io.BytesIO(data), len(data))
        layers.append({"mediaType": "application/octet-stream", "digest": _digest(data)})
        layers[-1]["size"] = len(data)
    config = json.dumps({"n": 1}).encode()
    registry.uploads.upload_whole(repo, _digest(config), io.BytesIO(config), len(config))
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json"}
        | {"digest": _digest(config), "size": len(config)},
        "layers": layers,
    }
    body = json.dumps(document).encode()
    registry.manifests.put(repo, "wide", body, OCI_MANIFEST)
    store = registry.manifests.meta
    item = store._get("R#" + repo, f"MAN#{_digest(body)}")  # noqa: SLF001
    assert "uses" not in item and item["uses_in_body"]
    with pytest.raises(Conflict) as refused:
        registry.blobs.delete(repo, layers[21]["digest"])
    assert refused.value.code == "DENIED"  # counted all the same
    registry.manifests.delete(repo, "wide")
    registry.manifests.delete(repo, _digest(body))  # the references come from the body
    for layer in layers:
        registry.blobs.delete(repo, layer["digest"])  # every count went back to zero
