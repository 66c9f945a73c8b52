"""Run the reference registry (CNCF distribution 2.8, Debian package ``docker-registry``) with
a config of our own: filesystem storage under ``--data-dir``, listening on loopback only,
deletes enabled, no auth. Debian's default config (htpasswd auth, all interfaces) is never used.

    python -m tests.support.refregistry --port 5000 --data-dir /tmp/ref

This is the command to put in ``SOUTE_TEST_REGISTRY_CMD`` to run the real-client tests against
the reference registry instead of soute.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path


def write_config(data_dir: Path, host: str, port: int) -> Path:
    """Write the registry's config.yml into ``data_dir`` and return its path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    storage = data_dir / "storage"
    # YAML is a superset of JSON: json.dumps quotes paths safely.
    config = "\n".join(
        [
            "version: 0.1",
            "log:",
            "  level: warn",
            "  accesslog:",
            "    disabled: false",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {json.dumps(str(storage))}",
            "  delete:",
            "    enabled: true",
            "  cache:",
            "    blobdescriptor: inmemory",
            "http:",
            f"  addr: {json.dumps(f'{host}:{port}')}",
            f"  secret: {json.dumps(os.urandom(16).hex())}",
            "",
        ]
    )
    path = data_dir / "config.yml"
    path.write_text(config)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    binary = shutil.which("docker-registry")
    if binary is None:
        sys.exit("docker-registry is not installed: apt-get install docker-registry")
    config = write_config(args.data_dir, args.host, args.port)
    os.execv(binary, [binary, "serve", str(config)])


if __name__ == "__main__":
    main()
