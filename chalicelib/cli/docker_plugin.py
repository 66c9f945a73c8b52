"""`docker-soute`, the Docker CLI plugin: `docker soute push IMAGE DEST` runs the client's
`soute push` (client/cli.py) with the errors every verb of `soute` reports (cli/errors.py)."""

from __future__ import annotations

import argparse
import json
import sys

from ..client.cli import add_push_parser
from .errors import run_verb

METADATA = {
    "SchemaVersion": "0.1.0",
    "Vendor": "Soute",
    "Version": "0.1.0",
    "ShortDescription": "Push images to a Soute registry (resumable, direct to storage)",
}


def plugin_main(argv: list[str] | None = None) -> int:
    """`docker-soute`: the Docker CLI plugin; `docker soute push IMAGE DEST`."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["docker-cli-plugin-metadata"]:
        print(json.dumps(METADATA))
        return 0
    if argv[:1] == ["soute"]:  # docker passes the plugin's name first
        argv = argv[1:]
    args = plugin_parser().parse_args(argv)
    return run_verb(args, prog="docker soute")


def plugin_parser() -> argparse.ArgumentParser:
    """The verbs of `docker soute`."""
    parser = argparse.ArgumentParser(prog="docker soute", description="Soute's registry client.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_push_parser(commands)
    return parser


def main() -> None:
    sys.exit(plugin_main())
