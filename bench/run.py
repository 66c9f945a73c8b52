"""Soute side by side with the reference registry (CNCF distribution 2.8), in one run.

    .venv/bin/python bench/run.py [--repeat N] [--sizes 50,500] [--only push,pull,manifest,rss]

Each repetition starts each registry in turn (never both at once, alternating which goes first)
on a free loopback port with a fresh, empty data dir, warms it up with a tiny untimed push and
pull, then times skopeo pushes and pulls of each test image, samples the server's process-tree
memory during each push, and measures the manifest GET rate with wrk. Prints medians, the
soute/reference ratio and the target verdict; writes every number to bench/results/*.json.
Set SOUTE_BENCH_CMD to a command template with {port} and {data_dir} to benchmark another
command in Soute's place. See bench/README.md.
"""

import argparse
import datetime
import os
import secrets
import signal
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import clients
import images
import quiet
import report
import servers
import tools
from common import BENCH_DIR, BenchError
from rss import MemoryPeak, PeakSampler

GROUPS = ("push", "pull", "manifest", "rss")
DEFAULT_REPEAT = 5
DEFAULT_SIZES = (50, 500)
DEFAULT_QUIET_WAIT = 30.0
DEFAULT_RETRIES = 2


@dataclass
class Options:
    repeat: int
    sizes: list[int]
    only: set[str]
    quiet_wait: float
    retries: int


@dataclass
class Context:
    """Everything one benchmark run shares."""

    opts: Options
    images: dict[int, images.Image]
    warmup: images.Image
    run_dir: Path
    lua: Path
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    started: str = field(default_factory=lambda: datetime.datetime.now().astimezone().isoformat())
    results: report.Results = field(default_factory=report.Results)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of MB: {text}") from e
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError("sizes must be positive MB counts")
    return values


def _groups(text: str) -> set[str]:
    chosen = {g.strip() for g in text.split(",") if g.strip()}
    if not chosen or chosen - set(GROUPS):
        raise argparse.ArgumentTypeError(f"choose among {','.join(GROUPS)}")
    return chosen


def _options_table() -> list[tuple[str, Callable[[str], object], object, str]]:
    pct = f"{quiet.QUIET_PCT:.0f}%%"
    return [
        ("--repeat", int, DEFAULT_REPEAT,
         f"repetitions per registry; medians are reported (default {DEFAULT_REPEAT})"),
        ("--sizes", _int_list, list(DEFAULT_SIZES),
         "image sizes in MB, comma-separated (default 50,500)"),
        ("--only", _groups, set(GROUPS),
         "metrics to measure among push,pull,manifest,rss (default all)"),
        ("--quiet-wait", float, DEFAULT_QUIET_WAIT,
         f"before each measured step, wait up to this many seconds for the machine to be "
         f"under {pct} busy (default {DEFAULT_QUIET_WAIT:.0f}, 0: never wait)"),
        ("--retries", int, DEFAULT_RETRIES,
         f"run a registry's repetition again, up to this many times, when other processes "
         f"took over {pct} of the CPU during one of its steps (default {DEFAULT_RETRIES})"),
    ]  # fmt: skip


def parse_args(argv: list[str] | None = None) -> Options:
    """The command line, validated."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag, kind, default, text in _options_table():
        parser.add_argument(flag, type=kind, default=default, help=text)
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.retries < 0:
        parser.error("--repeat must be at least 1 and --retries at least 0")
    return Options(args.repeat, args.sizes, args.only, args.quiet_wait, args.retries)


def metrics_for(opts: Options) -> list[report.Metric]:
    """The table's rows, in order."""
    only, rows = opts.only, []
    for size in opts.sizes:
        if "push" in only:
            rows.append(report.time_metric(f"push_{size}", f"push {size} MB (skopeo)"))
        if "pull" in only:
            rows.append(report.time_metric(f"pull_{size}", f"pull {size} MB (skopeo)"))
    if "manifest" in only:
        rows.append(report.rate_metric("manifest_get", "manifest GET by tag (wrk)"))
    if "rss" in only:
        rows += [report.rss_metric(f"rss_{s}", f"peak RSS, push {s} MB") for s in opts.sizes]
        big = max(opts.sizes)
        rows.append(report.info_metric(f"pss_{big}", f"peak PSS, push {big} MB", "MB"))
    return rows


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


Step = Callable[[], tuple[float, dict[str, object]]]


def _measure(
    ctx: Context, key: str, server: servers.Server, rep: int, step: Step, unit: str
) -> bool:
    """Run one measured step on a synced, quiet machine, recording its value or its failure."""
    os.sync()  # no write-back of the previous step competes with this one
    before = quiet.wait_for_quiet(ctx.opts.quiet_wait)
    try:
        with quiet.OtherCpu(server.proc.pid) as other:
            value, details = step()
    except BenchError as e:
        ctx.results.fail(key, server.name, rep, str(e))
        say(f"  {server.name} {key}: FAILED: {e}")
        return False
    noise = {"busy_before_pct": round(before, 1), "others_during_pct": round(other.pct, 1)}
    ctx.results.add(key, server.name, rep, value, **noise, **details)
    say(
        f"  {server.name} {key}: {value:.3f} {unit} (machine {before:.0f}% busy before, "
        f"others {other.pct:.0f}% during)"
    )
    return True


def _repo(ctx: Context, server: servers.Server, rep: int, size: int) -> str:
    return f"bench-{ctx.run_id}/{server.name}/r{rep}-{size}mb"


def _record_peak(
    ctx: Context, server: servers.Server, rep: int, size: int, peak: MemoryPeak
) -> None:
    more = {"main_hwm_mb": peak.main_hwm_mb, "samples": peak.samples,
            "processes": peak.max_processes}  # fmt: skip
    ctx.results.add(f"rss_{size}", server.name, rep, peak.rss_mb, **more)
    ctx.results.add(f"pss_{size}", server.name, rep, peak.pss_mb)
    say(
        f"  {server.name} peak RSS {peak.rss_mb:.1f} MB, PSS {peak.pss_mb:.1f} MB "
        f"({peak.max_processes} process(es))"
    )


def push_and_pull(ctx: Context, server: servers.Server, rep: int, size: int) -> bool:
    """Push (sampling the server's memory) then pull one image; False if the push failed."""
    image, repo = ctx.images[size], _repo(ctx, server, rep, size)
    peaks: list[MemoryPeak] = []

    def push() -> tuple[float, dict[str, object]]:
        with PeakSampler(server.proc.pid) as sampler:
            seconds = clients.push(image, server, repo)
        peaks.append(sampler.peak)
        return seconds, {}

    pushed = _measure(ctx, f"push_{size}", server, rep, push, "s")
    if pushed:
        _record_peak(ctx, server, rep, size, peaks[0])
    if pushed and "pull" in ctx.opts.only:

        def pull() -> tuple[float, dict[str, object]]:
            return clients.pull(image, server, repo, ctx.run_dir / "pulled"), {}

        _measure(ctx, f"pull_{size}", server, rep, pull, "s")
    return pushed


def manifest_get(ctx: Context, server: servers.Server, rep: int, size: int) -> None:
    """The manifest GET rate on the image pushed in this repetition."""
    image, repo = ctx.images[size], _repo(ctx, server, rep, size)

    def rate() -> tuple[float, dict[str, object]]:
        result = clients.manifest_rate(image, server, repo, ctx.lua)
        details = {"requests": result.requests, "socket_errors": result.socket_errors}
        return result.requests_per_s, details

    _measure(ctx, "manifest_get", server, rep, rate, "req/s")


def warm_up(ctx: Context, server: servers.Server) -> None:
    """An untimed tiny push and pull, so each fresh server has run its code paths once."""
    repo = f"bench-{ctx.run_id}/warmup/{server.name}-{server.port}"
    clients.push(ctx.warmup, server, repo)
    clients.pull(ctx.warmup, server, repo, ctx.run_dir / "pulled")


def run_registry(ctx: Context, spec: servers.ServerSpec, rep: int) -> None:
    """One repetition on one registry, run again (up to --retries times) if other processes
    took more than QUIET_PCT of the CPU during one of its steps."""
    for attempt in range(ctx.opts.retries + 1):
        _attempt(ctx, spec, rep)
        disturbed = ctx.results.pending_max("others_during_pct")
        if disturbed <= quiet.QUIET_PCT or attempt == ctx.opts.retries:
            ctx.results.commit()
            return
        say(f"  disturbed: other processes took {disturbed:.0f}% of the CPU; running it again")
        ctx.results.commit(discarded=True)


def _attempt(ctx: Context, spec: servers.ServerSpec, rep: int) -> None:
    """Fresh server and data dir, warm-up, then all the measurements."""
    with servers.running(spec, ctx.run_dir) as server:
        pid = server.proc.pid
        say(f"rep {rep + 1}/{ctx.opts.repeat}: {spec.name} on {server.host} (pid {pid})")
        warm_up(ctx, server)
        pushed = [s for s in ctx.opts.sizes if push_and_pull(ctx, server, rep, s)]
        if "manifest" in ctx.opts.only and pushed:
            manifest_get(ctx, server, rep, min(pushed))


def run_all(ctx: Context, specs: list[servers.ServerSpec]) -> None:
    """Alternate which registry goes first each repetition; only one runs at a time."""
    for rep in range(ctx.opts.repeat):
        for spec in specs if rep % 2 == 0 else specs[::-1]:
            run_registry(ctx, spec, rep)


def prepare_images(sizes: list[int]) -> tuple[dict[int, images.Image], images.Image]:
    say(f"test images: cached in {images.CACHE_DIR} (built once, may take a minute)")
    built = {size: images.ensure_image(size) for size in sizes}
    warm = images.ensure_warmup_image()
    for image in [*built.values(), warm]:
        images.prewarm_page_cache(image)
        say(f"  {image.label}: {len(image.layer_sizes)} layers, {image.total_bytes / 1e6:.1f} MB")
    return built, warm


def _meta(opts: Options, specs: list[servers.ServerSpec], ctx: Context) -> dict[str, object]:
    return {
        "started": ctx.started,
        "run_id": ctx.run_id,
        "options": {
            "repeat": opts.repeat,
            "sizes": opts.sizes,
            "only": sorted(opts.only),
            "quiet_wait": opts.quiet_wait,
            "retries": opts.retries,
        },
        "machine": tools.machine_facts(),
        "commands": {s.name: s.template for s in specs},
        "method": {
            "push": "fresh server process and empty data dir per repetition and registry; "
            "same image content every repetition; fresh repository name per push",
            "pull": "skopeo docker:// -> fresh oci: dir right after the push, os.sync() first",
            "manifest_get": f"wrk -t{clients.WRK_THREADS} -c{clients.WRK_CONNECTIONS} "
            f"-d{clients.WRK_SECONDS}s after a {clients.WRK_WARMUP_SECONDS}s "
            "warm-up, GET by tag with OCI+Docker Accept",
            "rss": "VmRSS summed over the server's process tree every 50 ms during the push, "
            "or the main process's VmHWM (reset before the push) if higher",
        },
        "images": {
            str(s): {"layers": list(i.layer_sizes), "manifest": i.manifest_digest}
            for s, i in ctx.images.items()
        },
    }


def _print_noise(results: report.Results) -> None:
    before, during = results.counted("busy_before_pct"), results.counted("others_during_pct")
    if not before:
        return
    print(
        f"other work on the machine: {statistics.median(before):.0f}% busy before measured steps "
        f"(median; max {max(before):.0f}%), other processes {statistics.median(during):.0f}% "
        f"of all CPUs during them (median; max {max(during):.0f}%)"
    )
    if max(during) > quiet.QUIET_PCT:
        print("! other processes used the CPU during some measured steps: expect noisy numbers")


def finish(opts: Options, specs: list[servers.ServerSpec], ctx: Context) -> int:
    """Print the table and errors, write the JSON; 1 if some metric has no numbers."""
    rows = [report.summarize(m, ctx.results) for m in metrics_for(opts)]
    facts = tools.machine_facts()
    print(
        f"\nSoute vs reference registry: medians of {opts.repeat} repetition(s); "
        f"machine: {facts['nproc']} CPUs ({facts['cpu_model']}), {facts['mem_total_mb']} MB RAM"
    )
    print(report.format_table(rows))
    _print_noise(ctx.results)
    for key, per_registry in ctx.results.errors.items():
        for registry, messages in per_registry.items():
            print(f"! {key} {registry}: {len(messages)} failure(s), first: {messages[0][:300]}")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = BENCH_DIR / "results" / f"{stamp}.json"
    report.write_json(path, _meta(opts, specs, ctx), rows, ctx.results)
    print(f"raw numbers: {path}")
    return 1 if any(row.result == "ERROR" for row in rows) else 0


def run(opts: Options) -> int:
    needed = ["skopeo", "docker-registry"] + (["wrk"] if "manifest" in opts.only else [])
    tools.check_tools(needed)
    specs = [servers.reference_spec(), servers.soute_spec()]
    built, warm = prepare_images(opts.sizes)
    with tempfile.TemporaryDirectory(prefix="soute-bench-run-") as tmp:
        run_dir = Path(tmp)
        ctx = Context(opts, built, warm, run_dir, clients.write_wrk_script(run_dir))
        try:
            run_all(ctx, specs)
        except BenchError as e:
            say(f"bench: error: {e}")
            if not ctx.results.records:
                return 2
            say("bench: stopping; the table below holds what was measured until then")
            ctx.results.commit()
            finish(opts, specs, ctx)
            return 2
    return finish(opts, specs, ctx)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        return run(opts)
    except BenchError as e:
        say(f"bench: error: {e}")
        return 2
    except KeyboardInterrupt:
        say("bench: interrupted; servers stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
