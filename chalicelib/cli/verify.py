"""`soute verify`: check that the content every stored manifest's record points at is there.

A table restored to a point in time without its bucket (or an S3 object deleted by hand)
leaves manifest records whose body is gone: pulls of those answer 404 "content is missing".
This walks every repository's manifests, reads each once (never on a request path), prints
one line per missing body, and exits 1 if any is missing, so a script or a cron job can tell.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..server.backends import BackendOptions, build_registry


def add_verify_parser(commands: argparse._SubParsersAction) -> None:
    verify = commands.add_parser(
        "verify", help="check that every stored manifest's content is readable"
    )
    verify.add_argument(
        "--backend", choices=("embedded", "aws"), default="embedded", help="where the data is"
    )
    verify.add_argument("--data-dir", default="./.soute-data", help="embedded data directory")
    verify.add_argument("--s3-bucket", help="S3 bucket (aws backend)")
    verify.add_argument("--dynamodb-table", help="DynamoDB table (aws backend)")
    verify.add_argument("--endpoint-url", help="S3/DynamoDB endpoint (an emulator); default AWS")
    verify.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    verify.set_defaults(run=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    if args.backend == "aws" and not (args.s3_bucket and args.dynamodb_table):
        print(
            "soute verify: the aws backend needs --s3-bucket and --dynamodb-table", file=sys.stderr
        )
        return 2
    if args.backend == "embedded" and not os.path.isdir(args.data_dir):
        print(
            f"soute verify: no data directory {args.data_dir}: give the registry's --data-dir",
            file=sys.stderr,
        )
        return 1
    options = BackendOptions(
        backend=args.backend,
        data_dir=args.data_dir,
        s3_bucket=args.s3_bucket,
        dynamodb_table=args.dynamodb_table,
        endpoint_url=args.endpoint_url,
        region=args.region,
    )
    manifests = build_registry(options).manifests
    checked = missing = repositories = 0
    for repository, digest, count in manifests.missing_bodies():
        if digest:
            missing += 1
            print(f"{repository}@{digest}: content missing (push the manifest again)")
        else:
            repositories += 1
            checked += count
    print(f"checked {checked} manifests in {repositories} repositories: {missing} missing")
    return 1 if missing else 0
