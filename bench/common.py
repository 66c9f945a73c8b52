"""What every benchmark module shares."""

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
LOOPBACK = "127.0.0.1"


class BenchError(Exception):
    """A failure the benchmark reports in one line and stops on (or records for one metric)."""
