"""Where the admin verbs find identities and the audit log: the embedded data directory
(default), or the registry's DynamoDB table (`--backend aws --dynamodb-table ...`)."""

from __future__ import annotations

import argparse
import os

from ..auth.audit import AuditLog
from ..storage.identity_ports import IdentityStore

DATA_DIR_HELP = "the embedded registry's data directory (default ./.soute-data)"


def add_storage_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default="./.soute-data", help=DATA_DIR_HELP)
    parser.add_argument(
        "--backend", choices=("embedded", "aws"), default="embedded", help="where identities live"
    )
    parser.add_argument("--dynamodb-table", help="the registry's DynamoDB table (aws backend)")
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint (an emulator); default AWS")
    parser.add_argument("--region", help="AWS region (default: the AWS configuration's)")


class StorageMissing(Exception):
    """The aws backend was asked for without its table."""


def open_identities(args: argparse.Namespace) -> tuple[IdentityStore, AuditLog]:
    if getattr(args, "backend", "embedded") == "aws":
        return _aws(args)
    from ..storage.sqlite_audit import SqliteAuditLog
    from ..storage.sqlite_identities import FILE, SqliteIdentityStore

    path = os.path.join(args.data_dir, FILE)
    return SqliteIdentityStore(path), SqliteAuditLog(path)


def _aws(args: argparse.Namespace) -> tuple[IdentityStore, AuditLog]:
    from ..storage.aws_clients import aws_clients
    from ..storage.dynamodb_audit import DynamoAuditLog
    from ..storage.dynamodb_identities import DynamoIdentityStore

    if not args.dynamodb_table:
        raise StorageMissing("the aws backend needs --dynamodb-table")
    dynamodb = aws_clients(args.region, args.endpoint_url).dynamodb
    return (
        DynamoIdentityStore(dynamodb, args.dynamodb_table),
        DynamoAuditLog(dynamodb, args.dynamodb_table),
    )
