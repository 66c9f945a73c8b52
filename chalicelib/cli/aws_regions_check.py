"""`soute aws regions check`: report drift between the regions of a multi-region deployment
(settings, objects missing from a bucket, replication lag). The comparison is
storage/aws/region_drift.py; this module reads the command line and prints the report.

Exit status: 0 no drift, 1 drift (or a check cut short by --max-items, or a region whose table
or bucket is missing), 2 a usage error. Every name printed comes from the table or a bucket,
so from whoever could push: it is printed with rich's markup off and control characters
escaped, as aws_deploy prints stack events.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from ..server.backends import parse_region_bucket
from ..server.logs import escape_controls
from .console import plain_console

PROG = "soute aws regions check"
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
NOTES_SHOWN = 20  # per kind and region, in the text report; --json lists every one

READ_COST = (
    "Reads: one consistent Scan of the whole table in each region (charged for every item"
    " read: one read unit per 4 KB, e.g. ~2.6 million for a 10 GB table), one S3 LIST per 1000"
    " objects under blobs/ in each bucket, a HEAD per object a listing cannot answer for, and"
    " a few reads per difference found (read again before it is reported)."
)


class UsageError(Exception):
    pass


def _regions(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError("--regions: give at least one region, e.g. us-east-1,eu-west-1")
    for name in names:
        if not REGION.match(name):
            raise UsageError(f"--regions: {name!r} is not an AWS region name (e.g. eu-west-1)")
    if len(set(names)) != len(names):
        raise UsageError("--regions: a region is named twice")
    return names


def _buckets(pairs: list[str], regions: list[str]) -> dict[str, str]:
    buckets: dict[str, str] = {}
    for pair in pairs:
        try:
            region, bucket = parse_region_bucket(pair)
        except ValueError as error:
            raise UsageError(
                f"--region-bucket {pair!r}: write it REGION=BUCKET ({error})"
            ) from None
        if region not in regions:
            raise UsageError(f"--region-bucket {region}: not one of --regions")
        if region in buckets:
            raise UsageError(f"--region-bucket {region}: given twice")
        buckets[region] = bucket
    if missing := [region for region in regions if region not in buckets]:
        raise UsageError(f"no --region-bucket for {', '.join(missing)}")
    return buckets


def _settings(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    regions = _regions(args.regions)
    if args.primary not in regions:
        raise UsageError(f"--primary {args.primary!r}: name one of --regions")
    if not TABLE.match(args.table):
        raise UsageError(f"--table {args.table!r} is not a DynamoDB table name")
    if args.max_items < 1:
        raise UsageError("--max-items: at least 1")
    if args.lag_timeout <= 0:
        raise UsageError("--lag-timeout: more than 0 seconds")
    return regions, _buckets(args.region_bucket, regions)


def _check(args: argparse.Namespace) -> int:
    try:
        names, buckets = _settings(args)
    except UsageError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    from ..storage.aws import region_drift
    from ..storage.aws.clients import aws_clients

    def region(name: str) -> region_drift.Region:
        clients = aws_clients(name, args.endpoint_url)
        return region_drift.Region(name, clients.dynamodb, clients.s3, args.table, buckets[name])

    primary = region(args.primary)
    others = [region(name) for name in names if name != args.primary]
    try:
        report = region_drift.check(
            primary,
            others,
            max_items=args.max_items,
            lag_timeout=None if args.skip_lag else args.lag_timeout,
        )
    except region_drift.MissingResources as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        _print(report)
    return 1 if report.drift else 0


def _subject(subject: dict[str, str]) -> str:
    return " ".join(f"{name}={value}" for name, value in subject.items())


def _print(report: Any) -> None:
    from rich.text import Text

    console = plain_console()
    others = [name for name in report.regions if name != report.primary]
    console.print(f"primary {report.primary}; compared: {', '.join(others) or 'none'}")
    for name, seconds in report.lag.items():
        said = "no replica within the timeout" if seconds is None else f"{seconds:.2f} s"
        console.print(f"lag {name}: {said}")
    for name in report.regions:
        console.print(
            f"read {name}: {report.scanned.get(name, 0)} items scanned,"
            f" {report.listed.get(name, 0)} objects listed"
        )
    drift = [finding for finding in report.findings if finding.drift]
    notes = [finding for finding in report.findings if not finding.drift]
    for finding in drift:
        line = Text("DRIFT ", style="red")
        line.append(escape_controls(_line(finding)))
        console.print(line)
    shown: dict[tuple[str, str], int] = {}
    for finding in notes:
        group = (finding.kind, finding.region)
        shown[group] = shown.get(group, 0) + 1
        if shown[group] <= NOTES_SHOWN:
            line = Text("note ", style="yellow")
            line.append(escape_controls(_line(finding)))
            console.print(line)
    for (kind, name), count in shown.items():
        if count > NOTES_SHOWN:
            console.print(f"note {kind} {name}: {count - NOTES_SHOWN} more (all with --json)")
    if drift:
        console.print(Text(f"{len(drift)} differences between regions", style="red"))
    else:
        console.print(Text("no drift", style="green"))


def _line(finding: Any) -> str:
    parts = [finding.kind, finding.region]
    if finding.subject:
        parts.append(_subject(finding.subject))
    if finding.attributes:
        parts.append("attributes " + ", ".join(finding.attributes))
    if finding.detail:
        parts.append(finding.detail)
    return " ".join(parts[:2]) + ": " + "; ".join(parts[2:]) if parts[2:] else " ".join(parts)


def add_check_parser(regions: argparse._SubParsersAction) -> None:
    check = regions.add_parser(
        "check",
        help="report drift between regions: settings, objects missing from a bucket, lag",
        description="Compare each region with the primary: identity and settings items"
        " attribute by attribute (names only, never values), TAG#/MAN# counts per repository,"
        " the buckets each OBJ# record names against the buckets' objects, and the lag of a"
        " probe item written to the primary. Exit 0: no drift; 1: drift; 2: usage. " + READ_COST,
    )
    check.add_argument("--primary", required=True, metavar="REGION", help="the primary region")
    check.add_argument(
        "--regions", required=True, metavar="R1,R2", help="every region, the primary among them"
    )
    check.add_argument("--table", required=True, help="the table (one name in every region)")
    check.add_argument(
        "--region-bucket",
        action="append",
        required=True,
        metavar="REGION=BUCKET",
        help="each region's bucket (once per region)",
    )
    check.add_argument("--endpoint-url", help="one endpoint for every region (an emulator)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--skip-lag", action="store_true", help="do not write a probe to measure the lag"
    )
    check.add_argument(
        "--lag-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the probe in each region (default 30)",
    )
    check.add_argument(
        "--max-items",
        type=int,
        default=100_000,
        metavar="N",
        help="the most settings items, repositories and listed objects per bucket held in"
        " memory (default 100000); past it the check says it was cut short",
    )
    check.set_defaults(run=_check)
