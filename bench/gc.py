"""The cost of the online GC (issue 14), measured, never asserted:

    .venv/bin/python bench/gc.py latency [--backend embedded|aws] [--rounds 4] [--pushers 4]
                                         [--images 25]
    .venv/bin/python bench/gc.py memory  [--backend embedded|aws] [--manifests 100000]
                                         [--blobs 1000000]

latency: push latency with and without a GC running, side by side in one run. One `soute
serve` (fresh data directory, or a fresh bucket and table on a moto server); rounds alternate
GC off / GC on (a GC run with a 1 s grace every second), each round the
soak's pushers (tests/support/gc_soak.py: HEAD, mount, upload, manifest; indexes, referrers,
deletes) pushing `--images` images each; the GC runs in a process of its own, as a
scheduled function or `soute gc` would. Prints p50 and p99 of whole-image pushes per mode
and the on/off ratio (the target: p99 at most 1.2x). No reference registry can run its GC
online, so the comparison is Soute with and without.

memory: peak RSS and duration of `soute gc --grace 0` (a separate process, its rusage) over a
synthetic store written straight into the metadata: `--manifests` manifests of 9 layers each in
repositories of 100, every blob used but 5% linked and idle and 5% unlinked (so the GC drops
and removes 10% of `--blobs`). The embedded store is the SQLite file (the bytes are absent:
removing a missing file is no error, so the GC does all its metadata work); the aws store is
the table on a moto server (moto pages a Scan in time proportional to the table, so keep it to
~100k items there). The target: under 256 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.server.backends import BackendOptions, build_collector  # noqa: E402
from tests.support.gc_soak import Soak, run_soak  # noqa: E402
from tests.support.lambda_server import serve_template, storage_arguments  # noqa: E402
from tests.support.moto import aws_backend, moto_server  # noqa: E402
from tests.support.server import default_soute, running_registry  # noqa: E402


def main() -> int:
    args = _arguments()
    if args.verb == "loop":
        return loop(args)
    if args.backend == "aws":
        with moto_server() as endpoint:
            return args.run(args, aws_backend(endpoint))
    with tempfile.TemporaryDirectory(prefix="soute-gc-bench-") as data_dir:
        return args.run(args, BackendOptions(data_dir=os.path.join(data_dir, "data")))


# -- latency ---------------------------------------------------------------------------------


def latency(args: argparse.Namespace, options: BackendOptions) -> int:
    with tempfile.TemporaryDirectory(prefix="soute-gc-bench-") as workdir:
        template = None
        if options.backend == "aws":
            template = serve_template(options, "--backend", "aws")
        with running_registry(Path(workdir), template) as server:
            if options.backend == "embedded":
                options = BackendOptions(data_dir=str(server.data_dir))
            samples: dict[str, list[float]] = {"off": [], "on": []}
            collected = {"runs": 0, "blobs": 0}
            for round_number in range(args.rounds * 2):
                mode = ("off", "on")[round_number % 2]
                soak = Soak(server.url, args.pushers, args.images, seed=round_number)
                samples[mode] += _round(soak, options if mode == "on" else None, collected)
                print(f"round {round_number + 1}: GC {mode}", file=sys.stderr)
    _latency_table(samples, collected)
    return 0


def _round(soak: Soak, gc_options: BackendOptions | None, collected: dict[str, int]) -> list:
    """One round of pushes; with `gc_options`, a GC looping in a process of its own (as the
    scheduled function or `soute gc` runs: not in the pushers' process, whose threads it
    would slow through the GIL, which no client of a real registry shares)."""
    loop = _start_loop(gc_options) if gc_options else None
    try:
        result = run_soak(soak)
    finally:
        if loop:
            loop.send_signal(signal.SIGTERM)
            runs, blobs = (int(n) for n in loop.communicate(timeout=120)[0].split())
            collected["runs"] += runs
            collected["blobs"] += blobs
    if result.errors:
        raise SystemExit(f"pushes failed: {result.errors[:3]}")
    return result.push_latencies


def _start_loop(options: BackendOptions) -> subprocess.Popen[str]:
    fields = {name: getattr(options, name) for name in _OPTION_FIELDS}
    command = [sys.executable, __file__, "loop", "--options", json.dumps(fields)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


_OPTION_FIELDS = ("backend", "data_dir", "s3_bucket", "dynamodb_table", "endpoint_url", "region")


def loop(args: argparse.Namespace) -> int:
    """A run with a 1 s grace every second (an hourly schedule, 3600 times faster) until
    SIGTERM; print "runs blobs"."""
    collector = build_collector(BackendOptions(**json.loads(args.options)))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    runs = blobs = 0
    while not stop.is_set():
        blobs += collector.run(1.0).blobs
        runs += 1
        stop.wait(1.0)
    print(runs, blobs)
    return 0


def _latency_table(samples: dict[str, list[float]], collected: dict[str, int]) -> None:
    def p(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]

    print("GC    pushes  p50 ms  p99 ms")
    for mode in ("off", "on"):
        values = samples[mode]
        p50, p99 = p(values, 50) * 1000, p(values, 99) * 1000
        print(f"{mode:<4}  {len(values):>6}  {p50:>6.1f}  {p99:>6.1f}")
    ratio50 = p(samples["on"], 50) / p(samples["off"], 50)
    ratio99 = p(samples["on"], 99) / p(samples["off"], 99)
    print(f"on/off: p50 {ratio50:.2f}x, p99 {ratio99:.2f}x (target p99 <= 1.20x)")
    print(
        f"GC runs during the 'on' rounds: {collected['runs']}, blobs removed: {collected['blobs']}"
    )


# -- memory ----------------------------------------------------------------------------------


def memory(args: argparse.Namespace, options: BackendOptions) -> int:
    started = time.monotonic()
    (_fill_sqlite if options.backend == "embedded" else _fill_dynamodb)(args, options)
    print(f"store written in {time.monotonic() - started:.0f} s", file=sys.stderr)
    command = [default_soute(), "gc", "--grace", "0", *storage_arguments(options)]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    summary = b""
    for line in process.stdout:
        summary = line
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    print(f"backend {options.backend}: {args.manifests} manifests, {args.blobs} blobs")
    cpu = usage.ru_utime + usage.ru_stime
    print(
        f"soute gc: {seconds:.1f} s ({cpu:.1f} s of CPU), peak RSS {peak:.1f} MB"
        f" (target < 256 MB), exit {status}"
    )
    print(summary.decode().strip())
    return 0 if status == 0 else 1


def _layout(args: argparse.Namespace) -> tuple[int, int, int]:
    """(used blobs, idle-linked blobs, unlinked blobs) out of --blobs."""
    used = args.manifests * 9
    rest = max(args.blobs - used, 0)
    return used, rest // 2, rest - rest // 2


def _digest(number: int) -> str:
    return f"sha256:{number:064x}"


def _fill_sqlite(args: argparse.Namespace, options: BackendOptions) -> None:
    from chalicelib.storage.embedded.sqlite import SqliteMetadataStore

    os.makedirs(options.data_dir, exist_ok=True)
    store = SqliteMetadataStore(os.path.join(options.data_dir, "metadata.sqlite"))
    db = store.database.connection()
    used, idle, unlinked = _layout(args)
    old = time.time() - 86400
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO blobs (digest, size, key, created) VALUES (?, 1000, ?, ?)",
        ((_digest(n), f"blobs/sha256/00/{n:064x}", old) for n in range(used + idle + unlinked)),
    )
    db.executemany(
        "INSERT INTO repo_blobs (repo, digest, touched) VALUES (?, ?, ?)",
        ((f"bench/r{n // 900}", _digest(n), old) for n in range(used + idle)),
    )
    body = b'{"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
    db.executemany(
        "INSERT INTO manifests (repo, digest, media_type, body, created) VALUES (?, ?, ?, ?, ?)",
        (
            (f"bench/r{m // 100}", _digest(10**12 + m), "application/json", body, old)
            for m in range(args.manifests)
        ),
    )
    db.executemany(
        "INSERT INTO manifest_refs (repo, manifest, target, kind) VALUES (?, ?, ?, 'blob')",
        (
            (
                f"bench/r{n // 900}",
                _digest(10**12 + n // 9),
                _digest(n),
            )
            for n in range(used)
        ),
    )
    db.execute("COMMIT")


def _fill_dynamodb(args: argparse.Namespace, options: BackendOptions) -> None:
    from chalicelib.storage.aws.clients import aws_clients

    db = aws_clients(options.region, options.endpoint_url).dynamodb
    used, idle, unlinked = _layout(args)
    old = str(time.time() - 86400)

    def items():  # type: ignore[no-untyped-def]
        for n in range(used + idle + unlinked):
            linked = "1" if n < used + idle else "0"
            yield _blob_item(n, linked)
            if n < used + idle:
                refs = "1" if n < used else "0"
                yield {
                    "pk": {"S": f"R#bench/r{n // 900}"}, "sk": {"S": f"BLOB#{_digest(n)}"},
                    "size": {"N": "1000"}, "key": {"S": f"blobs/{n}"}, "refs": {"N": refs},
                    "touched": {"N": old}, "counted": {"BOOL": True},
                }  # fmt: skip
        for m in range(args.manifests):
            uses = [f"BLOB#{_digest(m * 9 + k)}" for k in range(9)]
            yield {
                "pk": {"S": f"R#bench/r{m // 100}"}, "sk": {"S": f"MAN#{_digest(10**12 + m)}"},
                "media_type": {"S": "application/json"}, "size": {"N": "60"},
                "body": {"B": b"{}"}, "uses": {"L": [{"S": u} for u in uses]},
            }  # fmt: skip
        yield {"pk": {"S": "GC"}, "sk": {"S": "PREPARED"}}

    batch: list[dict] = []
    for item in items():
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == 25:
            _write(db, options.dynamodb_table, batch)
            batch = []
    if batch:
        _write(db, options.dynamodb_table, batch)


def _blob_item(number: int, linked: str) -> dict:
    return {
        "pk": {"S": f"B#{_digest(number)}"}, "sk": {"S": "BLOB"}, "size": {"N": "1000"},
        "key": {"S": f"blobs/{number}"}, "linked": {"N": linked}, "created": {"N": "1"},
    }  # fmt: skip


def _write(db, table: str | None, batch: list[dict]) -> None:  # type: ignore[no-untyped-def]
    pending = {str(table): batch}
    while pending:
        pending = db.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    timed = verbs.add_parser("latency", help="push latency with and without a GC running")
    timed.add_argument("--rounds", type=int, default=4, help="rounds of each mode (default 4)")
    timed.add_argument("--pushers", type=int, default=4, help="pushing threads (default 4)")
    timed.add_argument("--images", type=int, default=25, help="images per pusher per round")
    timed.set_defaults(run=latency)
    sized = verbs.add_parser("memory", help="peak RSS and duration of a GC over a large store")
    sized.add_argument("--manifests", type=int, default=100_000)
    sized.add_argument("--blobs", type=int, default=1_000_000)
    sized.set_defaults(run=memory)
    for verb in (timed, sized):
        verb.add_argument("--backend", choices=("embedded", "aws"), default="embedded")
    looping = verbs.add_parser("loop", help="(used by latency) collect until SIGTERM")
    looping.add_argument("--options", required=True, help="the BackendOptions fields, as JSON")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main())
