"""Drift between the regions of a multi-region deployment (`soute aws regions check`).

One table name in every region (a DynamoDB global table whose writes all go to the primary's
replica) and one bucket per region. What is compared, the primary being the reference:

- settings: every item of the identity partitions (dynamodb_identities.py: users, names,
  organisations, teams, members, public marks, tokens and robots, robot names, AWS mappings),
  attribute by attribute. A finding names the item and the attributes that differ, never their
  values (a password or token hash stays where it is). Throttle counters, login sources and
  audit partitions are left out: they are short-lived or append-only, not settings.
- repositories: the number of TAG# and MAN# items of each repository.
- objects: `OBJ#<key>`/`COPIES` items of the primary say which regions' buckets hold an object
  (`regions`, a string set; `removed` once the blob is deleted). An object a record places in
  a bucket that lacks it is drift; so is an object still in a bucket after its record says
  `removed`. An object under `blobs/` that no record places in its bucket is a note only: the
  bytes are there but pulls do not know it (they go to another region, slower).
- lag: a probe item (`REGIONCHECK`/`PROBE#<uuid>`, TTL an hour ahead) written to the primary
  and read in each other region until it appears; deleted afterwards.

Reads: one paged, consistent Scan of each region's table (the whole table is read and
charged, one read unit per 4 KB; a filter and a projection keep what travels to the items
above and their keys and known attributes), one ListObjectsV2 per 1000 objects under `blobs/`
of each bucket, and a HeadObject for each object a listing cannot answer for. A difference is
read again (GetItem, Query with Select=COUNT, HeadObject) before it is reported, so a write that
lands between two regions' scans is not reported unless it is still unreplicated.

Memory is bounded by `max_items`: the primary's settings (a digest per attribute), the
repositories counted, each bucket's listing and each region's findings hold at most that many
entries (differences past the findings' bound are counted, not read again). Past it, the
comparison of that part is cut short and said so (an `incomplete` finding): a listing cut
short is still exact for the keys up to its last one (S3 lists in key order), and HeadObject
answers for the rest.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .regions.copies import SK as OBJECT_SORT_KEY
from .regions.recorder import BLOB_PREFIX

IDENTITY_PARTITIONS = (
    "USERS",
    "TEAMS",
    "PUBLIC",
    "TOKENS",
    "ORGS",
    "ROBOT_NAMES",
    "AWS_MAPPINGS",
)
IDENTITY_PREFIXES = ("NAME#", "MEMBERS#", "MEMBER_OF#")
# Every attribute an identity item has besides its key (dynamodb_identities.py). The Scan
# fetches only these (and the object records'), so that manifest bodies do not travel: a test
# writes every kind of identity item and checks that the projection misses none of them.
IDENTITY_ATTRIBUTES = (
    "kind",
    "password_hash",
    "admin",
    "role",
    "owner",
    "secret_hash",
    "namespaces",
    "actions",
    "created_at",
    "revoked",
    "description",
    "valid_until",
    "token_id",
)
OBJECT_PREFIX = "OBJ#"
OBJECT_ATTRIBUTES = ("regions", "removed")
REPOSITORY_PREFIX = "R#"
PROBE_PARTITION = "REGIONCHECK"
PROBE_TTL_SECONDS = 3600
POLL_SECONDS = 0.1


class MissingResources(Exception):
    """A region's table or bucket cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Region:
    name: str
    dynamodb: Any
    s3: Any
    table: str
    bucket: str


@dataclass(frozen=True)
class Finding:
    """One difference. `subject` names the item (pk, sk), object (key) or repository; `drift`
    False marks a note that needs no action."""

    kind: str
    region: str
    subject: dict[str, str]
    attributes: tuple[str, ...] = ()
    detail: str = ""
    drift: bool = True

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"kind": self.kind, "region": self.region, **self.subject}
        if self.attributes:
            found["attributes"] = list(self.attributes)
        if self.detail:
            found["detail"] = self.detail
        found["drift"] = self.drift
        return found


@dataclass
class Report:
    primary: str
    regions: list[str]
    lag: dict[str, float | None] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)  # items read per region's Scan
    listed: dict[str, int] = field(default_factory=dict)  # objects listed per bucket
    limit: int = 0  # findings kept per region (0: no limit)
    kept: dict[str, int] = field(default_factory=dict)  # findings per region
    unkept: dict[str, int] = field(default_factory=dict)  # differences past the limit

    def room(self, region: str) -> bool:
        """Whether another finding of `region` is kept; if not, it is counted only (and not
        read again: a bucket that lost everything costs no HEAD per object)."""
        if not self.limit or self.kept.get(region, 0) < self.limit:
            return True
        self.unkept[region] = self.unkept.get(region, 0) + 1
        return False

    def add(self, finding: Finding | None) -> None:
        if finding is not None:
            self.findings.append(finding)
            self.kept[finding.region] = self.kept.get(finding.region, 0) + 1

    @property
    def drift(self) -> bool:
        return any(finding.drift for finding in self.findings)

    def as_json(self) -> dict[str, Any]:
        return {
            "primary": self.primary,
            "regions": self.regions,
            "drift": self.drift,
            "lag_seconds": {name: _round(seconds) for name, seconds in self.lag.items()},
            "scanned_items": self.scanned,
            "listed_objects": self.listed,
            "findings": [finding.as_json() for finding in self.findings],
        }


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


# -- the check -----------------------------------------------------------------------------
def check(
    primary: Region,
    others: list[Region],
    *,
    max_items: int = 100_000,
    lag_timeout: float | None = 30.0,
    poll_seconds: float = POLL_SECONDS,
) -> Report:
    """Compare `others` with `primary`; `lag_timeout` None skips the lag probe."""
    regions = [primary, *others]
    require_resources(regions)
    report = Report(primary.name, [region.name for region in regions], limit=max_items)
    if lag_timeout is not None and others:
        report.lag = measure_lag(primary, others, lag_timeout, poll_seconds)
        for name, seconds in report.lag.items():
            if seconds is None:
                report.add(
                    Finding("lag", name, {}, detail=f"no replica of a probe after {lag_timeout} s")
                )
    listings = {region.name: _Listing.read(region, max_items) for region in regions}
    report.listed = {name: listing.count for name, listing in listings.items()}
    reference = _scan_primary(primary, regions, listings, max_items, report)
    for region in others:
        _compare_replica(primary, region, reference, max_items, report)
    for region in regions:
        listing = listings[region.name]
        if not listing.complete:
            report.add(
                Finding(
                    "incomplete",
                    region.name,
                    {"bucket": region.bucket},
                    detail=f"objects past {listing.last} were not checked for records"
                    f" (--max-items {max_items})",
                )
            )
        for key in sorted(listing.keys):
            report.add(
                Finding(
                    "object-unrecorded",
                    region.name,
                    {"key": key},
                    detail=f"in bucket {region.bucket} but no OBJ# record names this region",
                    drift=False,
                )
            )
    for name, count in report.unkept.items():
        report.findings.append(
            Finding(
                "incomplete",
                name,
                {},
                detail=f"{count} more differences, not listed or read again"
                f" (--max-items {max_items})",
            )
        )
    report.findings.sort(key=_order)
    return report


def _order(finding: Finding) -> tuple[Any, ...]:
    """Drift before notes, then by kind, region and subject: the same report for the same
    state, whatever order the Scan returned items in."""
    return (not finding.drift, finding.kind, finding.region, sorted(finding.subject.items()))


def require_resources(regions: list[Region]) -> None:
    """Raise MissingResources naming every region whose table or bucket is missing, or whose
    bucket is in another region."""
    problems = []
    for region in regions:
        try:
            region.dynamodb.describe_table(TableName=region.table)
        except region.dynamodb.exceptions.ResourceNotFoundException:
            problems.append(
                f"region {region.name} has no table {region.table} (a global table needs a"
                " replica in every region)"
            )
        try:
            reply = region.s3.head_bucket(Bucket=region.bucket)
        except region.s3.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchBucket", "NotFound"):
                problems.append(f"region {region.name}: no bucket {region.bucket}")
            elif code in ("403", "AccessDenied"):
                problems.append(
                    f"region {region.name}: bucket {region.bucket} refused access (another"
                    " account's, or these credentials lack s3:ListBucket)"
                )
            else:
                raise
        else:
            headers = reply.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            located = headers.get("x-amz-bucket-region")
            if located and located != region.name:
                problems.append(
                    f"region {region.name}: bucket {region.bucket} is in {located}, not"
                    f" {region.name}"
                )
    if problems:
        raise MissingResources("; ".join(problems))


# -- lag -----------------------------------------------------------------------------------
def measure_lag(
    primary: Region,
    others: list[Region],
    timeout: float,
    poll_seconds: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, float | None]:
    """Seconds from the probe's write to the primary until each region reads it (to within
    one poll), None for a region that did not within `timeout`."""
    key = _key(PROBE_PARTITION, f"PROBE#{uuid.uuid4()}")
    now = time.time()
    primary.dynamodb.put_item(
        TableName=primary.table,
        Item={
            **key,
            "written_at": {"N": repr(now)},
            "expires_at": {"N": str(int(now) + PROBE_TTL_SECONDS)},
        },
    )
    start = clock()
    lag: dict[str, float | None] = {region.name: None for region in others}
    waiting = list(others)
    try:
        while waiting:
            for region in list(waiting):
                reply = region.dynamodb.get_item(
                    TableName=region.table, Key=key, ConsistentRead=True
                )
                if "Item" in reply:
                    lag[region.name] = clock() - start
                    waiting.remove(region)
            if not waiting or clock() - start >= timeout:
                break
            time.sleep(poll_seconds)
    finally:
        # Global tables replicate the delete; the TTL removes any probe this leaves behind.
        primary.dynamodb.delete_item(TableName=primary.table, Key=key)
    return lag


# -- listings ------------------------------------------------------------------------------
@dataclass
class _Listing:
    """The keys under blobs/ of one bucket, at most `max_items` of them. Keys are dropped as
    records claim them; what is left at the end is unrecorded."""

    keys: set[str]
    last: str | None  # the listing is exact up to this key
    complete: bool
    count: int

    @classmethod
    def read(cls, region: Region, max_items: int) -> _Listing:
        keys: set[str] = set()
        last, complete = None, True
        pages = region.s3.get_paginator("list_objects_v2").paginate(
            Bucket=region.bucket, Prefix=BLOB_PREFIX
        )
        for page in pages:
            for entry in page.get("Contents", []):
                if len(keys) >= max_items:
                    complete = False
                    break
                keys.add(entry["Key"])
                last = entry["Key"]
            if not complete:
                break
        return cls(keys, last, complete, len(keys))

    def holds(self, key: str) -> bool | None:
        """Whether the bucket held `key` when listed; None when the listing cannot say."""
        if key in self.keys:
            return True
        if key.startswith(BLOB_PREFIX) and (self.complete or (self.last and key <= self.last)):
            return False
        return None


def _exists(region: Region, key: str) -> bool:
    try:
        region.s3.head_object(Bucket=region.bucket, Key=key)
    except region.s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


# -- scans ---------------------------------------------------------------------------------
@dataclass
class _Reference:
    """What the primary's scan keeps: a digest per attribute of each settings item, and the
    TAG#/MAN# counts of each repository."""

    settings: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    settings_complete: bool = True
    counts: dict[str, list[int]] = field(default_factory=dict)
    counts_complete: bool = True


def _is_setting(pk: str) -> bool:
    return pk in IDENTITY_PARTITIONS or pk.startswith(IDENTITY_PREFIXES)


def _scan(region: Region, with_objects: bool, report: Report) -> Iterator[dict[str, Any]]:
    """The region's items of interest, page by page (consistent reads)."""
    names = {"#pk": "pk", "#sk": "sk"}
    attributes = IDENTITY_ATTRIBUTES + (OBJECT_ATTRIBUTES if with_objects else ())
    names.update({f"#a{i}": name for i, name in enumerate(attributes)})
    values: dict[str, Any] = {f":p{i}": _s(pk) for i, pk in enumerate(IDENTITY_PARTITIONS)}
    values.update({f":x{i}": _s(prefix) for i, prefix in enumerate(IDENTITY_PREFIXES)})
    values.update({":repo": _s(REPOSITORY_PREFIX), ":tag": _s("TAG#"), ":man": _s("MAN#")})
    partitions = ", ".join(f":p{i}" for i in range(len(IDENTITY_PARTITIONS)))
    clauses = [f"#pk IN ({partitions})"]
    clauses += [f"begins_with(#pk, :x{i})" for i in range(len(IDENTITY_PREFIXES))]
    clauses.append(
        "(begins_with(#pk, :repo) AND (begins_with(#sk, :tag) OR begins_with(#sk, :man)))"
    )
    if with_objects:
        values[":obj"] = _s(OBJECT_PREFIX)
        clauses.append("begins_with(#pk, :obj)")
    pages = region.dynamodb.get_paginator("scan").paginate(
        TableName=region.table,
        ConsistentRead=True,
        FilterExpression=" OR ".join(clauses),
        ProjectionExpression=", ".join(names),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )
    report.scanned.setdefault(region.name, 0)
    for page in pages:
        report.scanned[region.name] += page.get("ScannedCount", 0)
        yield from page.get("Items", [])


def _scan_primary(
    primary: Region,
    regions: list[Region],
    listings: dict[str, _Listing],
    max_items: int,
    report: Report,
) -> _Reference:
    reference = _Reference()
    by_name = {region.name: region for region in regions}
    unchecked: set[str] = set()
    for item in _scan(primary, with_objects=True, report=report):
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if _is_setting(pk):
            if len(reference.settings) < max_items:
                reference.settings[(pk, sk)] = _fingerprint(item)
            else:
                reference.settings_complete = False
        elif pk.startswith(OBJECT_PREFIX) and sk == OBJECT_SORT_KEY:
            recorded = set(item.get("regions", {}).get("SS", []))
            unchecked |= recorded - by_name.keys()
            key = pk[len(OBJECT_PREFIX) :]
            _check_object(key, recorded, _removed(item), by_name, listings, report)
        elif pk.startswith(REPOSITORY_PREFIX) and not _count(reference.counts, pk, sk, max_items):
            reference.counts_complete = False
    if unchecked:
        report.add(
            Finding(
                "unchecked-regions",
                primary.name,
                {},
                detail="OBJ# records name regions not given to --regions: "
                + ", ".join(sorted(unchecked)),
                drift=False,
            )
        )
    for part, complete in (
        ("settings", reference.settings_complete),
        ("repositories", reference.counts_complete),
    ):
        if not complete:
            report.add(
                Finding(
                    "incomplete",
                    primary.name,
                    {},
                    detail=f"more {part} than --max-items {max_items}: the rest not compared",
                )
            )
    return reference


def _removed(item: dict[str, Any]) -> bool:
    value = item.get("removed")
    return value is not None and value != {"BOOL": False}


def _check_object(
    key: str,
    recorded: set[str],
    removed: bool,
    regions: dict[str, Region],
    listings: dict[str, _Listing],
    report: Report,
) -> None:
    for name, region in regions.items():
        listing = listings[name]
        held = listing.holds(key)
        if removed or name in recorded:
            listing.keys.discard(key)  # not an unrecorded replica
        if removed:
            if held is not False and report.room(name) and _exists(region, key):
                report.add(
                    Finding(
                        "object-leftover",
                        name,
                        {"key": key},
                        detail=f"still in bucket {region.bucket} after the blob was removed",
                    )
                )
        elif name in recorded and held is not True and report.room(name):
            if _exists(region, key):
                continue
            report.add(
                Finding(
                    "object-missing",
                    name,
                    {"key": key},
                    detail=f"recorded in this region but not in bucket {region.bucket}",
                )
            )


def _count(counts: dict[str, list[int]], pk: str, sk: str, max_items: int) -> bool:
    """Count a TAG# or MAN# item; False when its repository is past the bound."""
    repository = pk[len(REPOSITORY_PREFIX) :]
    if repository not in counts:
        if len(counts) >= max_items:
            return False
        counts[repository] = [0, 0]
    counts[repository][0 if sk.startswith("TAG#") else 1] += 1
    return True


def _compare_replica(
    primary: Region, region: Region, reference: _Reference, max_items: int, report: Report
) -> None:
    unseen = set(reference.settings)
    counts: dict[str, list[int]] = {}
    candidates: list[tuple[str, str]] = []
    counts_complete = True
    for item in _scan(region, with_objects=False, report=report):
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if _is_setting(pk):
            unseen.discard((pk, sk))
            expected = reference.settings.get((pk, sk))
            if expected is None and not reference.settings_complete:
                continue  # past the bound: cannot tell an extra item from an uncompared one
            if expected != _fingerprint(item):
                candidates.append((pk, sk))
        elif pk.startswith(REPOSITORY_PREFIX):
            repository = pk[len(REPOSITORY_PREFIX) :]
            known = repository in reference.counts or reference.counts_complete
            if known and not _count(counts, pk, sk, max_items):
                counts_complete = False
    candidates += sorted(unseen)
    for pk, sk in candidates:
        if report.room(region.name):
            report.add(_setting_difference(primary, region, pk, sk))
    for repository in sorted(set(reference.counts) | set(counts)):
        if repository not in reference.counts and not reference.counts_complete:
            continue
        if reference.counts.get(repository) == counts.get(repository):
            continue
        if report.room(region.name):
            report.add(_count_difference(primary, region, repository))
    if not counts_complete:
        report.add(
            Finding(
                "incomplete",
                region.name,
                {},
                detail=f"more repositories than --max-items {max_items}: the rest not compared",
            )
        )


def _setting_difference(primary: Region, region: Region, pk: str, sk: str) -> Finding | None:
    """The difference of one settings item, read again in both regions; None if gone."""
    expected, found = (_get(each, pk, sk) for each in (primary, region))
    subject = {"pk": pk, "sk": sk}
    if expected is None and found is None:
        return None
    if found is None:
        return Finding("setting-missing", region.name, subject, detail="in the primary only")
    if expected is None:
        return Finding(
            "setting-extra", region.name, subject, detail="in this region, not in the primary"
        )
    one, other = _fingerprint(expected), _fingerprint(found)
    differing = tuple(sorted(n for n in set(one) | set(other) if one.get(n) != other.get(n)))
    if not differing:
        return None
    return Finding("setting-differs", region.name, subject, attributes=differing)


def _count_difference(primary: Region, region: Region, repository: str) -> Finding | None:
    expected, found = (_counted(each, repository) for each in (primary, region))
    if expected == found:
        return None
    detail = (
        f"tags {found[0]} (primary {expected[0]}), manifests {found[1]} (primary {expected[1]})"
    )
    return Finding("repository-counts", region.name, {"repository": repository}, detail=detail)


def _counted(region: Region, repository: str) -> tuple[int, int]:
    counts = []
    for prefix in ("TAG#", "MAN#"):
        pages = region.dynamodb.get_paginator("query").paginate(
            TableName=region.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={
                ":pk": _s(REPOSITORY_PREFIX + repository),
                ":prefix": _s(prefix),
            },
            Select="COUNT",
            ConsistentRead=True,
        )
        counts.append(sum(page["Count"] for page in pages))
    return counts[0], counts[1]


def _get(region: Region, pk: str, sk: str) -> dict[str, Any] | None:
    reply = region.dynamodb.get_item(TableName=region.table, Key=_key(pk, sk), ConsistentRead=True)
    item = reply.get("Item")
    if item is None:
        return None
    known = {"pk", "sk", *IDENTITY_ATTRIBUTES}  # as the Scan's projection sees it
    return {name: value for name, value in item.items() if name in known}


# -- items ---------------------------------------------------------------------------------
def _fingerprint(item: dict[str, Any]) -> dict[str, str]:
    """A digest of each attribute's value (so no secret hash is kept or printed)."""
    return {
        name: hashlib.sha256(_canonical(value).encode()).hexdigest()[:32]
        for name, value in item.items()
        if name not in ("pk", "sk")
    }


def _canonical(value: dict[str, Any]) -> str:
    """One text per DynamoDB value: sets sorted, numbers normalised."""
    [(kind, inner)] = value.items()
    if kind == "N":
        inner = str(Decimal(inner).normalize())
    elif kind == "NS":
        inner = sorted(str(Decimal(n).normalize()) for n in inner)
    elif kind in ("SS", "BS"):
        inner = sorted(inner)
    elif kind == "L":
        inner = [_canonical(v) for v in inner]
    elif kind == "M":
        inner = {k: _canonical(v) for k, v in inner.items()}
    elif kind == "B":
        inner = inner.hex() if isinstance(inner, bytes) else inner
    return json.dumps({kind: inner}, sort_keys=True, default=str)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": _s(pk), "sk": _s(sk)}
