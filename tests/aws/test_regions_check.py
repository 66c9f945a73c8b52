"""`soute aws regions check` against moto, through boto3 as in production.

moto does not replicate global tables or buckets (shared/research/moto-multi-region.md): each
test creates the same table in us-east-1 and eu-west-1 and a bucket per region on the one moto
server, "replicates" by copying every item from the primary's table to the other (`replicate`,
test code only), then writes items or objects in one region alone to make each kind of drift
on purpose, and reads the command's report and exit status.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.auth.model import AccessToken, AwsMapping, Team, User
from chalicelib.cli.main import main
from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.aws.dynamodb_identities import DynamoIdentityStore
from chalicelib.storage.aws.provision import ensure_bucket, ensure_table
from chalicelib.storage.aws.region_drift import IDENTITY_ATTRIBUTES, PROBE_PARTITION

PRIMARY, OTHER = "us-east-1", "eu-west-1"


@dataclass
class Regions:
    endpoint: str
    table: str
    buckets: dict[str, str]

    def clients(self, region: str) -> Any:
        return aws_clients(region, self.endpoint)

    def db(self, region: str) -> Any:
        return self.clients(region).dynamodb

    def s3(self, region: str) -> Any:
        return self.clients(region).s3

    def identities(self, region: str) -> DynamoIdentityStore:
        return DynamoIdentityStore(self.db(region), self.table)

    def argv(self, *extra: str) -> list[str]:
        argv = ["aws", "regions", "check", "--primary", PRIMARY, "--regions"]
        argv += [f"{PRIMARY},{OTHER}", "--table", self.table, "--endpoint-url", self.endpoint]
        for region, bucket in self.buckets.items():
            argv += ["--region-bucket", f"{region}={bucket}"]
        return argv + list(extra)

    def put(self, region: str, pk: str, sk: str, **attributes: Any) -> None:
        item = {"pk": {"S": pk}, "sk": {"S": sk}, **attributes}
        self.db(region).put_item(TableName=self.table, Item=item)

    def items(self, region: str) -> list[dict[str, Any]]:
        pages = self.db(region).get_paginator("scan").paginate(TableName=self.table)
        return [item for page in pages for item in page["Items"]]

    def replicate(self) -> None:
        """Stand-in for the global table: copy every item of the primary to the other."""
        for item in self.items(PRIMARY):
            self.db(OTHER).put_item(TableName=self.table, Item=item)

    def record(self, key: str, regions: list[str], removed: bool = False) -> None:
        """An OBJ# record, in both replicas (as the global table would have it)."""
        extra = {"removed": {"BOOL": True}} if removed else {}
        for region in (PRIMARY, OTHER):
            self.put(region, f"OBJ#{key}", "COPIES", regions={"SS": regions}, **extra)

    def upload(self, region: str, key: str) -> None:
        self.s3(region).put_object(Bucket=self.buckets[region], Key=key, Body=b"layer")


@pytest.fixture
def regions(moto_endpoint: str) -> Regions:
    name = f"soute-{uuid.uuid4().hex[:10]}"
    found = Regions(moto_endpoint, name, {PRIMARY: f"{name}-use1", OTHER: f"{name}-euw1"})
    for region, bucket in found.buckets.items():
        clients = found.clients(region)
        ensure_table(clients.dynamodb, name)
        ensure_bucket(clients.s3, bucket, region)
    return found


@pytest.fixture
def settled(regions: Regions) -> Regions:
    """Both regions hold the same users, teams, public marks, tokens, a repository and a blob
    in both buckets: no drift."""
    store = regions.identities(PRIMARY)
    store.add_user(User("alice", "scrypt$secret-hash-of-alice"))
    store.add_user(User("bob", "scrypt$secret-hash-of-bob", admin=True))
    store.add_org("acme")
    store.put_team(Team("acme", "devs", "MAINTAINER"))
    store.add_member("acme", "devs", "alice")
    store.set_public("acme/site", True)
    store.add_token(_token("t1", "robot", "acme", "ci"))
    store.add_token(_token("t2", "pat", "alice", ""))
    store.add_aws_mapping(AwsMapping("arn:aws:iam::123456789012:role/*", "acme", "devs"))
    regions.put(PRIMARY, "R#acme/app", "TAG#v1", digest={"S": "sha256:aa"})
    regions.put(PRIMARY, "R#acme/app", "MAN#sha256:aa", size={"N": "10"})
    regions.replicate()
    regions.record("blobs/upload-1", [PRIMARY, OTHER])
    regions.upload(PRIMARY, "blobs/upload-1")
    regions.upload(OTHER, "blobs/upload-1")
    return regions


def _token(token_id: str, kind: str, owner: str, description: str) -> AccessToken:
    return AccessToken(
        id=token_id,
        kind=kind,
        owner=owner,
        secret_hash=f"sha256-secret-of-{token_id}",
        namespaces=frozenset({"acme"}),
        actions=frozenset({"pull", "push"}),
        created_at=1_700_000_000.0,
        description=description,
    )


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def report(capsys: pytest.CaptureFixture[str], regions: Regions) -> tuple[int, dict[str, Any]]:
    return report_with(capsys, regions)


def report_with(
    capsys: pytest.CaptureFixture[str], regions: Regions, *extra: str
) -> tuple[int, dict[str, Any]]:
    status, out, _ = run(capsys, regions.argv("--json", "--skip-lag", *extra))
    return status, json.loads(out)


def kinds(found: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted(
        (f["kind"], f["region"], f.get("sk") or f.get("key") or f.get("repository") or "")
        for f in found["findings"]
    )


# -- no drift ------------------------------------------------------------------------------
def test_no_drift_exits_0(settled: Regions, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, settled.argv("--skip-lag"))
    assert status == 0, out + err
    assert "no drift" in out
    assert "DRIFT" not in out
    status, found = report(capsys, settled)
    assert status == 0
    assert found["drift"] is False and found["findings"] == []
    assert found["scanned_items"][PRIMARY] > 0 and found["listed_objects"] == {
        PRIMARY: 1,
        OTHER: 1,
    }


# -- settings ------------------------------------------------------------------------------
def test_a_user_in_the_primary_only(settled: Regions, capsys: pytest.CaptureFixture[str]) -> None:
    settled.identities(PRIMARY).add_user(User("carol", "scrypt$secret-hash-of-carol"))
    status, found = report(capsys, settled)
    assert status == 1 and found["drift"] is True
    # The user and the name it claimed (NAME#carol), both missing from the other region.
    assert kinds(found) == [
        ("setting-missing", OTHER, "NAME"),
        ("setting-missing", OTHER, "carol"),
    ]
    assert {f["pk"] for f in found["findings"]} == {"USERS", "NAME#carol"}


def test_a_public_mark_left_in_another_region(
    settled: Regions, capsys: pytest.CaptureFixture[str]
) -> None:
    """acme/site made private on the primary, still public in the other region: the one drift
    that grants a pull the primary refuses."""
    settled.identities(PRIMARY).set_public("acme/site", False)
    settled.identities(PRIMARY).set_public("acme/docs", True)
    status, found = report(capsys, settled)
    assert status == 1
    assert kinds(found) == [
        ("setting-extra", OTHER, "acme/site"),
        ("setting-missing", OTHER, "acme/docs"),
    ]


def test_differing_attributes_are_named_never_their_values(
    settled: Regions, capsys: pytest.CaptureFixture[str]
) -> None:
    settled.identities(PRIMARY).set_password("alice", "scrypt$new-secret-hash")
    settled.identities(PRIMARY).revoke_token("t1")
    status, out, _ = run(capsys, settled.argv("--skip-lag"))
    assert status == 1
    assert "setting-differs eu-west-1: pk=USERS sk=alice; attributes password_hash" in out
    assert "setting-differs eu-west-1: pk=TOKENS sk=t1; attributes revoked" in out
    assert "secret" not in out.replace("secret hash", "")  # no hash, old or new
    status, found = report(capsys, settled)
    assert [f.get("attributes") for f in found["findings"]] == [["revoked"], ["password_hash"]]
    assert "secret" not in json.dumps(found)


def test_the_scan_sees_every_attribute_of_every_identity_item(settled: Regions) -> None:
    """The Scan projects the identity items onto IDENTITY_ATTRIBUTES (so manifest bodies do not
    travel): an attribute added to an identity item must be added there, or drift in it would
    go unseen. `settled` wrote every kind of identity item through DynamoIdentityStore."""
    written = {
        attribute
        for item in settled.items(PRIMARY)
        if not item["pk"]["S"].startswith(("R#", "OBJ#"))
        for attribute in item
    }
    assert written - {"pk", "sk"} <= set(IDENTITY_ATTRIBUTES)
    partitions = {item["pk"]["S"].split("#")[0] for item in settled.items(PRIMARY)}
    assert {"USERS", "NAME", "ORGS", "TEAMS", "MEMBERS", "MEMBER_OF", "PUBLIC", "TOKENS"} | {
        "ROBOT_NAMES",
        "AWS_MAPPINGS",
    } <= partitions


def test_repository_counts(settled: Regions, capsys: pytest.CaptureFixture[str]) -> None:
    settled.put(PRIMARY, "R#acme/app", "TAG#v2", digest={"S": "sha256:aa"})
    settled.put(OTHER, "R#acme/new", "MAN#sha256:bb", size={"N": "1"})
    status, found = report(capsys, settled)
    assert status == 1
    assert kinds(found) == [
        ("repository-counts", OTHER, "acme/app"),
        ("repository-counts", OTHER, "acme/new"),
    ]
    assert found["findings"][0]["detail"] == "tags 1 (primary 2), manifests 1 (primary 1)"


# -- objects -------------------------------------------------------------------------------
def test_objects_missing_unrecorded_and_left_over(
    settled: Regions, capsys: pytest.CaptureFixture[str]
) -> None:
    settled.record("blobs/upload-2", [PRIMARY, OTHER])  # but only in the primary's bucket
    settled.upload(PRIMARY, "blobs/upload-2")
    settled.upload(OTHER, "blobs/upload-3")  # replicated, recorded for the primary only
    settled.upload(PRIMARY, "blobs/upload-3")
    settled.record("blobs/upload-3", [PRIMARY])
    settled.record("blobs/upload-4", [PRIMARY, OTHER], removed=True)  # deleted here only
    settled.upload(OTHER, "blobs/upload-4")
    settled.record("manifests/sha256:cc", [OTHER])  # outside blobs/: HEAD answers
    status, found = report(capsys, settled)
    assert status == 1
    assert kinds(found) == [
        ("object-leftover", OTHER, "blobs/upload-4"),
        ("object-missing", OTHER, "blobs/upload-2"),
        ("object-missing", OTHER, "manifests/sha256:cc"),
        ("object-unrecorded", OTHER, "blobs/upload-3"),
    ]
    notes = [f for f in found["findings"] if not f["drift"]]
    assert [f["key"] for f in notes] == ["blobs/upload-3"]


def test_an_unrecorded_replica_alone_is_a_note(
    settled: Regions, capsys: pytest.CaptureFixture[str]
) -> None:
    settled.upload(OTHER, "blobs/upload-5")
    settled.upload(PRIMARY, "blobs/upload-5")
    settled.record("blobs/upload-5", [PRIMARY])
    status, out, _ = run(capsys, settled.argv("--skip-lag"))
    assert status == 0
    assert "note object-unrecorded eu-west-1: key=blobs/upload-5" in out
    assert "no drift" in out


def test_names_from_the_table_print_as_text(
    settled: Regions, capsys: pytest.CaptureFixture[str]
) -> None:
    """Keys and names come from whoever could write them: rich markup stays literal and control
    characters are escaped, so nothing can restyle or rewrite the terminal."""
    key = "blobs/[bold red]x[/] :secret: \x1b[2J\nDRIFT forged"
    settled.record(key, [PRIMARY])
    status, out, _ = run(capsys, settled.argv("--skip-lag"))
    assert status == 1
    assert "key=blobs/[bold red]x[/] :secret: \\x1b[2J\\nDRIFT forged" in out
    assert "\x1b" not in out
    assert not any(line.startswith("DRIFT forged") for line in out.splitlines())


def test_max_items_cuts_the_check_short_and_says_so(
    settled: Regions, capsys: pytest.CaptureFixture[str]
) -> None:
    settled.upload(OTHER, "blobs/upload-0")  # sorts before upload-1: the listing stops there
    settled.record("blobs/upload-0", [OTHER])
    status, out, _ = run(capsys, settled.argv("--skip-lag", "--max-items", "1"))
    assert status == 1
    assert "incomplete us-east-1: more settings than --max-items 1" in out
    assert "incomplete us-east-1: more repositories than" not in out  # one repository
    assert "incomplete eu-west-1: bucket=" in out
    assert "object-missing" not in out  # upload-1 is past the listing: HEAD found it


def test_findings_are_bounded_too(regions: Regions, capsys: pytest.CaptureFixture[str]) -> None:
    """A bucket that lost everything gives one finding per object: past --max-items they are
    counted, not kept (nor read again with a HEAD each)."""
    for number in range(5):
        regions.record(f"blobs/upload-{number}", [OTHER])
    status, found = report_with(capsys, regions, "--max-items", "2")
    assert status == 1
    assert kinds(found) == [
        ("incomplete", OTHER, ""),
        ("object-missing", OTHER, "blobs/upload-0"),
        ("object-missing", OTHER, "blobs/upload-1"),
    ]
    assert found["findings"][0]["detail"] == (
        "3 more differences, not listed or read again (--max-items 2)"
    )


# -- lag -----------------------------------------------------------------------------------
@pytest.fixture
def copier(regions: Regions) -> Iterator[list[float]]:
    """A test-side stand-in for the global table's replication of the probe: a thread that
    finds the probe in the primary and puts it in the other region ~0.3 s after it saw it.
    Yields the delays it applied."""
    stop, delays = threading.Event(), []

    def copy() -> None:
        copied: set[str] = set()
        while not stop.is_set():
            reply = regions.db(PRIMARY).query(
                TableName=regions.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": PROBE_PARTITION}},
            )
            for item in reply["Items"]:
                if item["sk"]["S"] in copied:
                    continue
                seen = time.monotonic()
                time.sleep(0.3)
                regions.db(OTHER).put_item(TableName=regions.table, Item=item)
                copied.add(item["sk"]["S"])
                delays.append(time.monotonic() - seen)
            stop.wait(0.02)

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    try:
        yield delays
    finally:
        stop.set()
        thread.join(5)
        assert not thread.is_alive()


def test_lag_is_measured_with_a_probe(
    regions: Regions, copier: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    """The copier thread replicates the probe ~0.3 s after it appears in the primary: the
    reported lag is at least that, and well under the timeout. The probe is deleted from the
    primary afterwards (with a TTL an hour ahead in case it is not)."""
    status, out, err = run(capsys, regions.argv("--json"))
    assert status == 0, out + err
    found = json.loads(out)
    lag = found["lag_seconds"][OTHER]
    assert copier and lag is not None
    assert 0.3 <= lag < 10, lag
    assert PRIMARY not in found["lag_seconds"]
    probes = [i for i in regions.items(PRIMARY) if i["pk"]["S"] == PROBE_PARTITION]
    assert probes == []
    [copy] = [i for i in regions.items(OTHER) if i["pk"]["S"] == PROBE_PARTITION]
    assert copy["sk"]["S"].startswith("PROBE#")
    assert 3500 < int(copy["expires_at"]["N"]) - time.time() <= 3600


def test_a_probe_that_never_arrives(regions: Regions, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    status, out, _ = run(capsys, regions.argv("--lag-timeout", "0.5"))
    assert status == 1
    assert "lag eu-west-1: no replica within the timeout" in out
    assert "DRIFT lag eu-west-1: no replica of a probe after 0.5 s" in out
    assert time.monotonic() - started < 10
    assert not [i for i in regions.items(PRIMARY) if i["pk"]["S"] == PROBE_PARTITION]


# -- what cannot be checked ----------------------------------------------------------------
def test_a_region_without_its_table(moto_endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    name = f"soute-{uuid.uuid4().hex[:10]}"
    found = Regions(moto_endpoint, name, {PRIMARY: f"{name}-use1", OTHER: f"{name}-euw1"})
    ensure_table(found.db(PRIMARY), name)
    ensure_bucket(found.s3(PRIMARY), found.buckets[PRIMARY], PRIMARY)
    status, out, err = run(capsys, found.argv("--skip-lag"))
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("soute aws regions check: ")
    assert f"region eu-west-1 has no table {name}" in err
    assert f"region eu-west-1: no bucket {name}-euw1" in err


def test_a_bucket_in_another_region(regions: Regions, capsys: pytest.CaptureFixture[str]) -> None:
    swapped = {PRIMARY: regions.buckets[OTHER], OTHER: regions.buckets[PRIMARY]}
    status, _, err = run(capsys, Regions(regions.endpoint, regions.table, swapped).argv())
    assert status == 1
    assert f"bucket {regions.buckets[OTHER]} is in eu-west-1, not us-east-1" in err


@pytest.mark.parametrize(
    "change, message",
    [
        (["--primary", "ap-south-1"], "--primary 'ap-south-1': name one of --regions"),
        (["--regions", "us-east-1,Bad Name!"], "is not an AWS region name"),
        (["--regions", "us-east-1,us-east-1"], "a region is named twice"),
        (["--region-bucket", "eu-west-1"], "write it REGION=BUCKET"),
        (["--region-bucket", "ap-south-1=b-b-b"], "ap-south-1: not one of --regions"),
        (["--region-bucket", "eu-west-1=other"], "eu-west-1: given twice"),
        (["--max-items", "0"], "--max-items: at least 1"),
    ],
)
def test_usage_errors_exit_2(
    regions: Regions, capsys: pytest.CaptureFixture[str], change: list[str], message: str
) -> None:
    argv = regions.argv()
    if change[0] in argv and change[0] != "--region-bucket":
        argv[argv.index(change[0]) + 1] = change[1]
    else:
        argv += change
    status, out, err = run(capsys, argv)
    assert status == 2 and out == ""
    assert re.fullmatch(r"soute aws regions check: .*\n", err), err
    assert message in err


def test_a_missing_bucket_option_is_a_usage_error(
    regions: Regions, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = regions.argv()
    cut = argv.index(f"{OTHER}={regions.buckets[OTHER]}")
    status, _, err = run(capsys, argv[: cut - 1] + argv[cut + 1 :])
    assert status == 2 and "no --region-bucket for eu-west-1" in err
