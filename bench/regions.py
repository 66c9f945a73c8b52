"""Pulls during replication across two regions: how many fail (the target is none) and how
often the second region reads from the primary (the cross-region fallback rate).

    .venv/bin/python bench/regions.py [--images 20] [--lags 0,0.5,1,2,5] [--layer-kb 1024]

One moto server holds us-east-1 (the primary) and eu-west-1; a `soute serve --backend aws`
runs per region, as the README's "Several regions" commands start them; the test replicator
(tests/support/replicator.py, standing in for DynamoDB global tables and S3 replication, which
moto lacks) copies each table item and object `lag` seconds after it was written. For each lag,
skopeo pushes --images images through A and pulls each through B at once. No reference
registry has regions, so there is nothing to compare side by side: the figures are counts.
Needs skopeo.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.clients import Skopeo  # noqa: E402
from tests.support.moto import moto_server  # noqa: E402
from tests.support.regions import OTHER, PRIMARY, two_regions  # noqa: E402
from tests.support.regions_measure import Measured, measure  # noqa: E402
from tests.support.server import running_registry  # noqa: E402


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=20, help="images per lag (default 20)")
    parser.add_argument(
        "--lags", default="0,0.5,1,2,5", help="replication lags in seconds (default 0,0.5,1,2,5)"
    )
    parser.add_argument("--layer-kb", type=int, default=1024, help="the larger layer, in KiB")
    return parser.parse_args()


def _table(rows: list[tuple[float, Measured]]) -> str:
    lines = [
        "lag s  pulls  failed  pulls reading the primary  fallback reads/pull  seconds",
        "-----  -----  ------  -------------------------  -------------------  -------",
    ]
    for lag, m in rows:
        rate = f"{m.pulls_with_fallback} ({m.fallback_rate:.0%})"
        per_pull = m.fallback_reads / max(m.pulls, 1)
        lines.append(
            f"{lag:5.1f}  {m.pulls:5d}  {m.failures:6d}  {rate:>25}  {per_pull:19.1f}"
            f"  {m.seconds:7.1f}"
        )
    return "\n".join(lines)


def main() -> int:
    args = _arguments()
    if not shutil.which("skopeo"):
        print("bench/regions.py needs skopeo: apt-get install skopeo", file=sys.stderr)
        return 2
    lags = [float(lag) for lag in args.lags.split(",")]
    rows: list[tuple[float, Measured]] = []
    with tempfile.TemporaryDirectory(prefix="soute-bench-regions-") as scratch:
        work = Path(scratch)
        with moto_server() as endpoint:
            world = two_regions(endpoint)
            replicator = world.replicator()
            a_template = world.serve_template(PRIMARY, "--backend", "aws", "--workers", "1")
            b_template = world.serve_template(OTHER, "--backend", "aws", "--workers", "1")
            with (
                running_registry(work / "a", a_template) as a,
                running_registry(work / "b", b_template) as b,
            ):
                skopeo = Skopeo(work / "skopeo")
                sizes = (args.layer_kb * 1024, 2000)
                for lag in lags:
                    print(f"lag {lag} s: {args.images} images", file=sys.stderr)
                    run = work / f"lag-{lag}"
                    run.mkdir()
                    rows.append(
                        (lag, measure(skopeo, replicator, a, b, run, args.images, lag, sizes))
                    )
    print(_table(rows))
    failed = [line for _, m in rows for line in m.failed or []]
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
