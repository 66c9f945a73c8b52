"""The storage options of the verbs that work on a registry's data directly (`soute gc`, `soute
du`): the embedded data directory, or the bucket(s) and table of the aws backend, with the
regions of a multi-region deployment."""

from __future__ import annotations

import argparse
import os
import sys

from ..server.backends import BackendOptions, parse_region_bucket, regions_problem


def add_storage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", choices=("embedded", "aws"), default="embedded", help="where the data is"
    )
    parser.add_argument("--data-dir", default="./.soute-data", help="embedded data directory")
    parser.add_argument("--s3-bucket", help="S3 bucket (aws backend)")
    parser.add_argument("--dynamodb-table", help="DynamoDB table (aws backend)")
    parser.add_argument("--endpoint-url", help="S3/DynamoDB endpoint (an emulator); default AWS")
    parser.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    parser.add_argument(
        "--primary-region", metavar="REGION", help="several regions: the primary region"
    )
    parser.add_argument(
        "--region-bucket",
        action="append",
        default=[],
        type=region_bucket,
        metavar="REGION=BUCKET",
        help="several regions: each region's bucket (repeat it for each region)",
    )


def storage_options(args: argparse.Namespace) -> BackendOptions:
    return BackendOptions(
        backend=args.backend,
        data_dir=args.data_dir,
        s3_bucket=args.s3_bucket or dict(args.region_bucket).get(args.region or ""),
        dynamodb_table=args.dynamodb_table,
        endpoint_url=args.endpoint_url,
        region=args.region,
        primary_region=args.primary_region,
        region_buckets=tuple(args.region_bucket),
    )


def checked_storage_options(args: argparse.Namespace) -> BackendOptions | int:
    """The options, or, when they name no registry's storage, the exit status to give, after
    one line on stderr saying why (`soute VERB: ...`)."""
    options = storage_options(args)
    if problem := storage_problem(options):
        status, message = problem
        print(f"soute {args.command}: {message}", file=sys.stderr)
        return status
    return options


def storage_problem(options: BackendOptions) -> tuple[int, str] | None:
    """Why the options name no registry's storage, with the exit status to give (2: the
    options are wrong; 1: the data directory they name is not there), or None."""
    if options.backend == "embedded" and not os.path.isdir(options.data_dir):
        return 1, f"no data directory {options.data_dir}: give the registry's --data-dir"
    if options.backend == "aws" and not (options.s3_bucket and options.dynamodb_table):
        return 2, "the aws backend needs --s3-bucket and --dynamodb-table"
    problem = regions_problem(options)
    return (2, problem) if problem else None


def region_bucket(text: str) -> tuple[str, str]:
    """argparse's type of a REGION=BUCKET option."""
    try:
        return parse_region_bucket(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
