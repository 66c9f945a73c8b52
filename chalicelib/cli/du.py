"""`soute du [NAMESPACE|REPOSITORY]`: what repositories and namespaces use, logical and stored
bytes (chalicelib/lifecycle/usage.py says which is which)."""

from __future__ import annotations

import argparse
import json
import sys

from ..client.images.render import Output
from ..lifecycle.usage import Usage, UsageReader
from ..oci.names import is_name
from ..oci.sizes import human_size
from ..server.backends import open_storage
from .storage_options import add_storage_options, checked_storage_options

HEADERS = ("NAME", "MANIFESTS", "BLOBS", "LOGICAL", "STORED")


def add_du_parser(commands: argparse._SubParsersAction) -> None:
    du = commands.add_parser(
        "du", help="space used per repository and namespace: logical and stored bytes"
    )
    du.add_argument(
        "name",
        nargs="?",
        help="a namespace (its repositories and total) or a repository; default: every namespace",
    )
    du.add_argument("--json", action="store_true", help="one JSON document, exact bytes")
    add_storage_options(du)
    du.set_defaults(run=run_du)


def run_du(args: argparse.Namespace) -> int:
    options = checked_storage_options(args)
    if isinstance(options, int):
        return options
    if args.name is not None and not is_name(args.name):
        print(f"soute du: {args.name!r} is not a namespace or repository name", file=sys.stderr)
        return 2
    storage = open_storage(options)
    reader = UsageReader(storage.metadata(), storage.lifecycle(), storage.policies())
    rows, total = _usage(reader, args.name)
    quota = reader.quota(args.name) if args.name is not None else None
    if args.json:
        document: dict[str, object] = {"usage": [row.document() for row in rows]}
        if total is not None:
            document["total"] = total.document()
        if quota is not None:
            document["namespace_quota"] = quota.document()
        print(json.dumps(document, indent=2))
        return 0
    table = [_row(row.name, row) for row in rows]
    if total is not None:
        table.append(_row(f"{total.name or 'registry'} (total)", total))
    Output().table(HEADERS, table)
    if quota is not None:
        print(
            f"namespace {quota.namespace}: quota {human_size(quota.limit)}, its images' distinct"
            f" blobs use {human_size(quota.used)} ({100 * quota.used / quota.limit:.0f}%)"
        )
    return 0


def _usage(reader: UsageReader, name: str | None) -> tuple[list[Usage], Usage | None]:
    """The rows, and the total under them (each blob once) when there are several."""
    if name is None:
        *namespaces, total = reader.registry()
        return namespaces, total
    if "/" in name:
        return [reader.repository(name)], None
    *repositories, total = reader.namespace(name)
    return repositories, total


def _row(label: str, usage: Usage) -> list[str]:
    return [
        label,
        str(usage.manifests),
        str(usage.blobs),
        human_size(usage.logical),
        human_size(usage.stored),
    ]
