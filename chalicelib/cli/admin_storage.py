"""Where the admin verbs find identities, the audit log, the failed-login counts, the
per-scope policies and the registry's catalog: the embedded data directory (default), or the
registry's DynamoDB table (`--backend aws --dynamodb-table ...`). The stores themselves come
from the composition root (`server/backends.open_storage`), as for `soute serve`."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from ..auth.audit import AuditLog
from ..auth.identity_ports import IdentityStore
from ..auth.throttle import LoginThrottle
from ..storage.lifecycle_ports import LifecycleStore
from ..storage.policy_ports import PolicyStore
from ..storage.ports import MetadataStore

if TYPE_CHECKING:
    from ..lifecycle.retention_run import Retention
    from ..server.backends import Storage

DATA_DIR_HELP = "the embedded registry's data directory (default ./.soute-data)"


def add_storage_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default="./.soute-data", help=DATA_DIR_HELP)
    parser.add_argument(
        "--backend", choices=("embedded", "aws"), default="embedded", help="where identities live"
    )
    parser.add_argument("--dynamodb-table", help="the registry's DynamoDB table (aws backend)")
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint (an emulator); default AWS")
    parser.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    parser.add_argument(
        "--primary-region",
        metavar="REGION",
        help="several regions: the primary region, whose table takes every write (the verb"
        " acts there, whatever --region says)",
    )


class StorageMissing(Exception):
    """The aws backend was asked for without its table, or a data directory that is not there."""


def open_identities(args: argparse.Namespace) -> tuple[IdentityStore, AuditLog]:
    """The identities and the audit log. Only the verbs that start a registry's identities
    (`user add`, `org add`) create a missing data directory: any other verb on a directory
    that is not there names a mistyped path, and must not leave an empty registry behind."""
    storage = _storage(args, creates=getattr(args, "creates_data_dir", False))
    return storage.identities(), storage.audit()


def open_throttle(args: argparse.Namespace) -> LoginThrottle:
    """The failed-login counts the registry's workers or Lambda instances share."""
    creates = getattr(args, "creates_data_dir", False)
    return LoginThrottle(counter=_storage(args, creates=creates).failure_counter())


def open_policies(args: argparse.Namespace) -> PolicyStore:
    """The settings a registry reads on requests (tag immutability...), in its own storage."""
    return _storage(args, creates=False).policies()


def open_lifecycle(args: argparse.Namespace) -> LifecycleStore:
    """The lifecycle listings over the registry's own storage (a namespace's quota use)."""
    return _storage(args, creates=False).lifecycle()


def open_retention(args: argparse.Namespace) -> Retention:
    """Retention over the registry's policies, manifests and lifecycle listings (preview)."""
    from ..lifecycle.retention_run import Retention

    storage = _storage(args, creates=False)
    return Retention(storage.lifecycle(), storage.metadata(), storage.policies())


def open_metadata(args: argparse.Namespace) -> MetadataStore | None:
    """The registry's manifests and catalog; None when the data directory has none yet."""
    if getattr(args, "backend", "embedded") != "aws" and not os.path.isdir(args.data_dir):
        return None
    return _storage(args, creates=True).existing_metadata()


def _storage(args: argparse.Namespace, creates: bool) -> Storage:
    from ..server.backends import BackendOptions, open_storage

    backend = getattr(args, "backend", "embedded")
    if backend == "aws" and not args.dynamodb_table:
        raise StorageMissing("the aws backend needs --dynamodb-table")
    if backend != "aws" and not creates and not os.path.isdir(args.data_dir):
        raise StorageMissing(
            f"no data directory {args.data_dir}: give the registry's --data-dir (`soute serve`"
            " and `soute user add` create it)"
        )
    options = BackendOptions(
        backend=backend,
        data_dir=args.data_dir,
        dynamodb_table=getattr(args, "dynamodb_table", None),
        endpoint_url=getattr(args, "endpoint_url", None),
        # With several regions every write goes to the primary's table (storage/aws/regions).
        region=getattr(args, "primary_region", None) or getattr(args, "region", None),
    )
    return open_storage(options)
