"""`soute verify`: check that the content every stored manifest's record points at is there.

A table restored to a point in time without its bucket (or an S3 object deleted by hand)
leaves manifest records whose body is gone: pulls of those answer 404 "content is missing".
This walks every repository's manifests, reads each once (never on a request path), prints
one line per missing body, and exits 1 if any is missing, so a script or a cron job can tell.
"""

from __future__ import annotations

import argparse

from ..server.backends import build_registry
from .storage_options import add_storage_options, checked_storage_options


def add_verify_parser(commands: argparse._SubParsersAction) -> None:
    verify = commands.add_parser(
        "verify", help="check that every stored manifest's content is readable"
    )
    add_storage_options(verify)
    verify.set_defaults(run=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    options = checked_storage_options(args)
    if isinstance(options, int):
        return options
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
