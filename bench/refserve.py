"""Run the reference registry the way the benchmark does, as a stand-in for `soute serve`.

    SOUTE_BENCH_CMD='.venv/bin/python bench/refserve.py --port {port} --data-dir {data_dir}'

lets bench/run.py compare the reference registry with itself (ratios should come out ~1.0),
which checks the benchmark's own fairness.
"""

import argparse
import os
from pathlib import Path

from servers import write_reference_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="ignored: always loopback")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    config = write_reference_config(args.port, args.data_dir)
    os.execvp("docker-registry", ["docker-registry", "serve", str(config)])


if __name__ == "__main__":
    main()
