"""Where the admin verbs find identities, the audit log, the failed-login counts and the
registry's catalog: the embedded data directory (default), or the registry's DynamoDB table
(`--backend aws --dynamodb-table ...`)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..auth.audit import AuditLog
from ..auth.identity_ports import IdentityStore
from ..auth.throttle import LoginThrottle
from ..storage.ports import MetadataStore

METADATA_FILE = "metadata.sqlite"  # as server/backends.py embedded_registry names it
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
    """The aws backend was asked for without its table, or a data directory that is not there."""


def open_identities(args: argparse.Namespace) -> tuple[IdentityStore, AuditLog]:
    """The identities and the audit log. Only the verbs that start a registry's identities
    (`user add`, `org add`) create a missing data directory: any other verb on a directory
    that is not there names a mistyped path, and must not leave an empty registry behind."""
    if getattr(args, "backend", "embedded") == "aws":
        return _aws(args)
    if not getattr(args, "creates_data_dir", False) and not os.path.isdir(args.data_dir):
        raise StorageMissing(
            f"no data directory {args.data_dir}: give the registry's --data-dir (`soute serve`"
            " and `soute user add` create it)"
        )
    from ..storage.embedded.sqlite_audit import SqliteAuditLog
    from ..storage.embedded.sqlite_identities import FILE, SqliteIdentityStore

    path = os.path.join(args.data_dir, FILE)
    return SqliteIdentityStore(path), SqliteAuditLog(path)


def open_throttle(args: argparse.Namespace) -> LoginThrottle:
    """The failed-login counts the registry's workers or Lambda instances share."""
    from ..auth.throttle import dynamodb_throttle, sqlite_throttle
    from ..storage.embedded.sqlite_identities import FILE

    if getattr(args, "backend", "embedded") == "aws":
        return dynamodb_throttle(_dynamodb(args), args.dynamodb_table)
    return sqlite_throttle(os.path.join(args.data_dir, FILE))


def open_metadata(args: argparse.Namespace) -> MetadataStore | None:
    """The registry's manifests and catalog; None when the data directory has none yet."""
    if getattr(args, "backend", "embedded") == "aws":
        from ..storage.aws.dynamodb import DynamoMetadataStore

        return DynamoMetadataStore(_dynamodb(args), args.dynamodb_table)
    from ..storage.embedded.sqlite import SqliteMetadataStore

    path = os.path.join(args.data_dir, METADATA_FILE)
    return SqliteMetadataStore(path) if os.path.exists(path) else None


def _dynamodb(args: argparse.Namespace) -> Any:
    from ..storage.aws.clients import aws_clients

    if not args.dynamodb_table:
        raise StorageMissing("the aws backend needs --dynamodb-table")
    return aws_clients(args.region, args.endpoint_url).dynamodb


def _aws(args: argparse.Namespace) -> tuple[IdentityStore, AuditLog]:
    from ..storage.aws.dynamodb_audit import DynamoAuditLog
    from ..storage.aws.dynamodb_identities import DynamoIdentityStore

    dynamodb = _dynamodb(args)
    return (
        DynamoIdentityStore(dynamodb, args.dynamodb_table),
        DynamoAuditLog(dynamodb, args.dynamodb_table),
    )
