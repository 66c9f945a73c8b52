"""The `soute` command."""

from __future__ import annotations

import argparse
import logging
import sys


def _serve(args: argparse.Namespace) -> int:
    from ..server.gunicorn_app import ServeOptions, serve

    if bool(args.tls_cert) != bool(args.tls_key):
        print("soute serve: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    serve(
        ServeOptions(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            workers=args.workers,
            threads=args.threads,
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soute", description="A serverless OCI registry.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the registry on this machine")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--data-dir", default="./.soute-data", help="where blobs and metadata live")
    serve.add_argument("--tls-cert", help="PEM certificate: serve HTTPS")
    serve.add_argument("--tls-key", help="PEM private key of --tls-cert")
    serve.add_argument("--workers", type=int, default=2, help="server processes (default 2)")
    serve.add_argument(
        "--threads", type=int, default=32, help="concurrent requests per process (default 32)"
    )
    serve.set_defaults(run=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
