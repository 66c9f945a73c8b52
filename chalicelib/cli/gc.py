"""`soute gc`: the lifecycle garbage collector, run once, online (chalicelib/lifecycle/gc.py).

It prints one line per removal (or, with --dry-run, per removal it would make: the same ones),
then the totals. Safe while the registry serves pushes and pulls: no read-only window.
"""

from __future__ import annotations

import argparse
import sys

from ..lifecycle.gc import DEFAULT_GRACE, Removal, Totals
from ..oci.sizes import human_size
from ..server.backends import build_collector
from .admin_retention import describe
from .durations import duration_argument, format_duration
from .storage_options import add_storage_options, checked_storage_options

# Below this, a push whose manifest comes long after its blobs may be refused (and pushed
# again); an acknowledged image is never lost, whatever the grace (lifecycle/gc.py).
SAFE_GRACE = 3600

VERBS = {"upload": "cancelled upload", "link": "dropped link", "blob": "removed blob"}
DRY_VERBS = {
    "upload": "would cancel upload",
    "link": "would drop link",
    "blob": "would remove blob",
}


def add_gc_parser(commands: argparse._SubParsersAction) -> None:
    gc = commands.add_parser(
        "gc",
        help="apply the retention policies (`soute policy`), then delete what nothing uses:"
        " idle blobs, their repository links, abandoned uploads",
    )
    gc.add_argument(
        "--dry-run",
        action="store_true",
        help="print what a run would delete (the images policies expire too); delete nothing",
    )
    gc.add_argument(
        "--grace",
        type=duration_argument,
        default=DEFAULT_GRACE,
        metavar="DURATION",
        help="keep what was used more recently than this (e.g. 24h, 90m, 0; default"
        f" {format_duration(DEFAULT_GRACE)}): pushes in progress finish within it",
    )
    add_storage_options(gc)
    gc.set_defaults(run=run_gc)


def run_gc(args: argparse.Namespace) -> int:
    options = checked_storage_options(args)
    if isinstance(options, int):
        return options
    if args.grace < SAFE_GRACE:
        print(f"soute gc: {grace_warning(args.grace)}", file=sys.stderr)
    verbs = DRY_VERBS if args.dry_run else VERBS

    def say(removal: Removal) -> None:
        if removal.decision is not None:
            print(describe(removal.decision, args.dry_run), flush=True)
            return
        size = f" ({removal.size} bytes)" if removal.kind == "blob" else ""
        print(f"{verbs[removal.kind]} {removal.subject}{size}", flush=True)

    totals = build_collector(options).run(args.grace, dry_run=args.dry_run, report=say)
    print(summary(totals))
    return 0


def grace_warning(grace: float) -> str:
    """What a grace under SAFE_GRACE risks (`soute gc --grace`, `soute serve --gc-grace`)."""
    return (
        f"a grace of {format_duration(grace)} may refuse the manifest of a push still in"
        " progress (it is pushed again); nothing pushed whole is at risk"
    )


def summary(totals: Totals) -> str:
    verb = "would free" if totals.dry_run else "freed"
    expired = "would expire" if totals.dry_run else "expired"
    line = (
        f"{expired} {totals.images} images ({totals.kept} kept);"
        f" {verb} {human_size(totals.bytes)} ({totals.bytes} bytes): {totals.blobs} blobs,"
        f" {totals.links} repository links, {totals.uploads} abandoned uploads"
    )
    return f"{line} (dry run: nothing was deleted)" if totals.dry_run else line
