"""The cost of a namespace quota on a manifest PUT (issue 14), measured, never asserted:

    .venv/bin/python bench/quota.py [--manifests 100000] [--samples 400]

The embedded store counts a namespace's use by query inside the manifest's write transaction
(storage/embedded/sqlite_quota.py), so its cost grows with the namespace. This fills a SQLite
store straight with `--manifests` manifests of 9 distinct 1000-byte blobs each, all in one
namespace (bench/gc.py's synthetic layout: repositories bench/r0, bench/r1, ... of 100), then
stores new images (a config and a layer uploaded through the service, then the manifest PUT,
timed alone) into that namespace, in-process through the registry service as `soute serve`
builds it, alternating quota off and on (a quota large enough never to refuse) sample by
sample. Prints p50 and p99 of the PUT per mode and the on/off ratio. No reference registry has
quotas, so the comparison is Soute with and without.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.lifecycle import quotas  # noqa: E402
from chalicelib.server.backends import BackendOptions, build_registry, open_storage  # noqa: E402
from tests.support.manifests import OCI_MANIFEST, manifest_body, sha256  # noqa: E402


def _gc_bench():  # type: ignore[no-untyped-def]
    """bench/gc.py, for its synthetic store (its name is the standard library's `gc`)."""
    spec = importlib.util.spec_from_file_location("bench_gc", Path(__file__).with_name("gc.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _timed_put(registry, number: int) -> float:  # type: ignore[no-untyped-def]
    """Upload a new config and layer, then time the manifest PUT alone."""
    config, layer = json.dumps({"n": number}).encode(), os.urandom(1000)
    for blob in (config, layer):
        registry.uploads.upload_whole("bench/new", sha256(blob), io.BytesIO(blob), len(blob))
    body = manifest_body(config, [layer])
    start = time.perf_counter()
    registry.manifests.put("bench/new", f"t{number}", body, OCI_MANIFEST)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifests", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=400, help="PUTs per mode")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soute-quota-bench-") as workdir:
        options = BackendOptions(data_dir=os.path.join(workdir, "data"))
        fill = argparse.Namespace(manifests=args.manifests, blobs=args.manifests * 9)
        started = time.perf_counter()
        _gc_bench()._fill_sqlite(fill, options)
        print(f"filled {args.manifests} manifests in {time.perf_counter() - started:.1f}s")
        registry, policies = build_registry(options), open_storage(options).policies()
        samples: dict[str, list[float]] = {"off": [], "on": []}
        for number in range(2 * args.samples):
            mode = "on" if number % 2 else "off"
            if mode == "on":
                policies.put("bench", quotas.KIND, quotas.document(10**15))
            else:
                policies.remove("bench", quotas.KIND)
            samples[mode].append(_timed_put(registry, number))
        use = open_storage(options).lifecycle().namespace_use("bench")
    print(f"namespace bench: {args.manifests} manifests, {use} bytes counted")
    print(f"{'quota':<6} {'p50 ms':>8} {'p99 ms':>8}")
    for mode, values in samples.items():
        p50 = statistics.median(values) * 1000
        p99 = statistics.quantiles(values, n=100)[98] * 1000
        print(f"{mode:<6} {p50:>8.2f} {p99:>8.2f}")
    ratio = statistics.median(samples["on"]) / statistics.median(samples["off"])
    print(f"on/off p50: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
