"""`soute gc`: the lifecycle garbage collector, run once, online (chalicelib/lifecycle/gc.py).

It prints one line per removal (or, with --dry-run, per removal it would make: the same ones),
then the totals. Safe while the registry serves pushes and pulls: no read-only window.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..client.images.render import human_size
from ..lifecycle.gc import DEFAULT_GRACE, Removal, Totals
from ..server.backends import BackendOptions, build_collector, parse_region_bucket, regions_problem
from .durations import duration_argument, format_duration

# Below this, a push whose manifest comes long after its blobs may be refused (and pushed
# again); an acknowledged image is never lost, whatever the grace (lifecycle/gc.py).
SAFE_GRACE = 3600

VERBS = {"upload": "cancelled upload", "link": "dropped link", "blob": "removed blob"}


def add_gc_parser(commands: argparse._SubParsersAction) -> None:
    gc = commands.add_parser(
        "gc",
        help="delete what nothing uses: idle blobs, their repository links, abandoned uploads",
    )
    gc.add_argument(
        "--dry-run", action="store_true", help="print what a run would delete; delete nothing"
    )
    gc.add_argument(
        "--grace",
        type=duration_argument,
        default=DEFAULT_GRACE,
        metavar="DURATION",
        help="keep what was used more recently than this (e.g. 24h, 90m, 0; default"
        f" {format_duration(DEFAULT_GRACE)}): pushes in progress finish within it",
    )
    gc.add_argument(
        "--backend", choices=("embedded", "aws"), default="embedded", help="where the data is"
    )
    gc.add_argument("--data-dir", default="./.soute-data", help="embedded data directory")
    gc.add_argument("--s3-bucket", help="S3 bucket (aws backend)")
    gc.add_argument("--dynamodb-table", help="DynamoDB table (aws backend)")
    gc.add_argument("--endpoint-url", help="S3/DynamoDB endpoint (an emulator); default AWS")
    gc.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    gc.add_argument(
        "--primary-region", metavar="REGION", help="several regions: the primary region"
    )
    gc.add_argument(
        "--region-bucket",
        action="append",
        default=[],
        type=_region_bucket,
        metavar="REGION=BUCKET",
        help="several regions: each region's bucket (repeat), to delete every copy",
    )
    gc.set_defaults(run=run_gc)


def run_gc(args: argparse.Namespace) -> int:
    options = BackendOptions(
        backend=args.backend,
        data_dir=args.data_dir,
        s3_bucket=args.s3_bucket or dict(args.region_bucket).get(args.region or ""),
        dynamodb_table=args.dynamodb_table,
        endpoint_url=args.endpoint_url,
        region=args.region,
        primary_region=args.primary_region,
        region_buckets=tuple(args.region_bucket),
    )
    if problem := _problem(options):
        print(f"soute gc: {problem}", file=sys.stderr)
        return 2
    if args.grace < SAFE_GRACE:
        print(f"soute gc: {grace_warning(args.grace)}", file=sys.stderr)
    totals = build_collector(options).run(args.grace, dry_run=args.dry_run, report=_print)
    print(summary(totals))
    return 0


def grace_warning(grace: float) -> str:
    """What a grace under SAFE_GRACE risks (`soute gc --grace`, `soute serve --gc-grace`)."""
    return (
        f"a grace of {format_duration(grace)} may refuse the manifest of a push still in"
        " progress (it is pushed again); nothing pushed whole is at risk"
    )


def _problem(options: BackendOptions) -> str | None:
    if options.backend == "embedded" and not os.path.isdir(options.data_dir):
        return f"no data directory {options.data_dir}: give the registry's --data-dir"
    if options.backend == "aws" and not (options.s3_bucket and options.dynamodb_table):
        return "the aws backend needs --s3-bucket and --dynamodb-table"
    return regions_problem(options)


def _print(removal: Removal) -> None:
    size = f" ({removal.size} bytes)" if removal.kind == "blob" else ""
    print(f"{VERBS[removal.kind]} {removal.subject}{size}", flush=True)


def summary(totals: Totals) -> str:
    verb = "would free" if totals.dry_run else "freed"
    line = (
        f"{verb} {human_size(totals.bytes)} ({totals.bytes} bytes): {totals.blobs} blobs,"
        f" {totals.links} repository links, {totals.uploads} abandoned uploads"
    )
    return f"{line} (dry run: nothing was deleted)" if totals.dry_run else line


def _region_bucket(text: str) -> tuple[str, str]:
    try:
        return parse_region_bucket(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
