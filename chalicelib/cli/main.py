"""The `soute` command."""

from __future__ import annotations

import argparse
import logging
import sys

from ..api.local_hosts import is_loopback
from ..auth.tokens import DEFAULT_SERVICE
from ..client.cli import add_push_parser
from ..client.images.cli import add_image_parsers
from ..lifecycle.gc import DEFAULT_GRACE
from ..oci.lambda_limits import LAMBDA_CHUNK_BYTES
from ..server.backends import (
    BackendOptions,
    aws_login_problem,
    regions_problem,
)
from .admin_parser import add_admin_parsers, add_aws_login_parsers
from .aws_deploy import add_deploy_parsers
from .aws_regions import add_regions_parsers
from .du import add_du_parser
from .durations import duration_argument, format_duration
from .errors import run_verb
from .gc import SAFE_GRACE, add_gc_parser, grace_warning
from .login import add_login_parser
from .storage_options import region_bucket
from .verify import add_verify_parser


def _backend(args: argparse.Namespace) -> BackendOptions:
    backend = "aws" if args.lambda_emulation else args.backend
    buckets = tuple(args.region_bucket)
    return BackendOptions(
        backend=backend,
        data_dir=args.data_dir,
        # With several regions the local bucket may be given by --region-bucket alone.
        s3_bucket=args.s3_bucket or dict(buckets).get(args.region or ""),
        dynamodb_table=args.dynamodb_table,
        endpoint_url=args.endpoint_url,
        region=args.region,
        presign_expires=args.presign_expires,
        inline_verify_limit=args.inline_verify_limit,
        part_url_expires=args.part_url_expires,
        max_open_uploads=args.max_open_uploads,
        max_upload_bytes=args.max_upload_bytes,
        # Through Lambda every request stays under ~4.5 MB of raw body: ask chunking clients
        # for 4 MiB chunks. The embedded server takes chunks of any size.
        chunk_min_length=LAMBDA_CHUNK_BYTES if args.lambda_emulation else 1 << 20,
        auth=args.auth,
        auth_service=args.auth_service,
        signing_secret=args.signing_secret,
        aws_login=args.aws_login,
        sts_endpoints=tuple(args.sts_endpoint),
        primary_region=args.primary_region,
        region_buckets=buckets,
    )


def _check_backend(options: BackendOptions) -> str | None:
    if problem := regions_problem(options):
        return problem
    if options.backend == "aws" and not (options.s3_bucket and options.dynamodb_table):
        return "the aws backend (and --lambda) need --s3-bucket and --dynamodb-table"
    return aws_login_problem(options)


def _interval(text: str) -> float:
    seconds = duration_argument(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the interval is more than 0 (e.g. 1h)")
    return seconds


def _check_open(host: str, options: BackendOptions) -> str | None:
    """With auth off anyone who can connect may push and delete: only on a loopback address."""
    if options.auth or is_loopback(host):
        return None
    return f"auth is off: listening on {host} would let anyone push and delete; add --auth"


def _serve(args: argparse.Namespace) -> int:
    from ..server.gunicorn_app import ServeOptions, serve

    if bool(args.tls_cert) != bool(args.tls_key):
        return _fail("serve", "--tls-cert and --tls-key go together")
    backend = _backend(args)
    if problem := _check_backend(backend) or _check_open(args.host, backend):
        return _fail("serve", problem)
    if args.gc_grace is not None and args.gc_every is None:
        return _fail("serve", "--gc-grace goes with --gc-every (how often to collect)")
    grace = DEFAULT_GRACE if args.gc_grace is None else args.gc_grace
    if args.gc_every is not None and grace < SAFE_GRACE:
        print(f"soute serve: {grace_warning(grace)}", file=sys.stderr)
    serve(
        ServeOptions(
            host=args.host,
            port=args.port,
            backend=backend,
            lambda_emulation=args.lambda_emulation,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            workers=args.workers,
            threads=args.threads,
            gc_every=args.gc_every,
            gc_grace=grace,
        )
    )
    return 0


def _aws_init(args: argparse.Namespace) -> int:
    from ..server.backends import default_signing_secret
    from ..storage.aws.clients import aws_clients, secrets_manager_client
    from ..storage.aws.provision import ensure_bucket, ensure_table
    from ..storage.aws.secrets_manager_keys import ensure_signing_secret

    clients = aws_clients(args.region, args.endpoint_url)
    secrets = secrets_manager_client(args.region, args.endpoint_url)
    secret = args.signing_secret or default_signing_secret(args.dynamodb_table)
    # AWS errors (no region, no credentials, a refusal) are one line: run_verb, cli/errors.py.
    for kind, name, created in (
        ("bucket", args.s3_bucket, ensure_bucket(clients.s3, args.s3_bucket, args.region)),
        ("table", args.dynamodb_table, ensure_table(clients.dynamodb, args.dynamodb_table)),
        ("token signing secret", secret, ensure_signing_secret(secrets, secret)),
    ):
        print(f"{kind} {name}: {'created' if created else 'already there; settings applied'}")
    return 0


def _fail(command: str, message: str, status: int = 2) -> int:
    """Say what went wrong; 2 for a usage error, 1 for a failure."""
    print(f"soute {command}: {message}", file=sys.stderr)
    return status


def _storage_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--s3-bucket", required=required, help="S3 bucket for blobs")
    parser.add_argument("--dynamodb-table", required=required, help="DynamoDB table for metadata")
    parser.add_argument("--endpoint-url", help="S3/DynamoDB endpoint (an emulator); default AWS")
    parser.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    parser.add_argument(
        "--signing-secret",
        help="Secrets Manager secret the token signing key is derived from (aws backend with"
        " --auth; default <table>-token-signing, which `soute aws init` creates)",
    )


def _serve_parser(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="run the registry on this machine")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument(
        "--backend",
        choices=("embedded", "aws"),
        default="embedded",
        help="embedded (files + SQLite, the default) or aws (S3 + DynamoDB)",
    )
    serve.add_argument(
        "--data-dir",
        default="./.soute-data",
        help="where the embedded backend keeps blobs and metadata",
    )
    _storage_options(serve, required=False)
    serve.add_argument(
        "--primary-region",
        metavar="REGION",
        help="several regions (aws backend): the region whose table takes every write; this"
        " server's own is --region (default: one region)",
    )
    serve.add_argument(
        "--region-bucket",
        action="append",
        default=[],
        type=region_bucket,
        metavar="REGION=BUCKET",
        help="with --primary-region: a region's bucket, once per region, this one's included",
    )
    serve.add_argument(
        "--presign-expires",
        type=int,
        default=BackendOptions.presign_expires,
        help="seconds a presigned S3 download URL stays valid (aws backend; default 300)",
    )
    serve.add_argument(
        "--part-url-expires",
        type=int,
        default=3600,
        help="seconds a direct-upload part URL stays valid (default 3600)",
    )
    serve.add_argument(
        "--max-open-uploads",
        type=int,
        default=BackendOptions.max_open_uploads,
        help="direct uploads one namespace may hold open at once (default 100)",
    )
    serve.add_argument(
        "--max-upload-bytes",
        type=int,
        default=BackendOptions.max_upload_bytes,
        help="bytes the open direct uploads of one namespace may declare together (default 1 TiB)",
    )
    serve.add_argument(
        "--inline-verify-limit",
        type=int,
        default=512 << 20,
        help="direct uploads up to this many bytes are verified within `complete`; larger ones"
        " in the background (default 512 MiB)",
    )
    serve.add_argument(
        "--lambda",
        dest="lambda_emulation",
        action="store_true",
        help="serve the Chalice app as API Gateway and Lambda do (aws backend)",
    )
    serve.add_argument(
        "--auth",
        action="store_true",
        help="require logins (token auth; users with `soute user add`); without it the"
        " registry is open and only listens on a loopback address",
    )
    serve.add_argument(
        "--auth-service",
        default=DEFAULT_SERVICE,
        help=f"the service name tokens are issued for (default {DEFAULT_SERVICE}); give each"
        " registry its own, e.g. its domain name, to use --aws-login",
    )
    serve.add_argument(
        "--aws-login",
        action="store_true",
        help="with --auth: accept `soute login --aws` (a signed STS GetCallerIdentity request"
        " as the password; map IAM ARNs to teams with `soute aws map`)",
    )
    serve.add_argument(
        "--sts-endpoint",
        action="append",
        default=[],
        metavar="URL",
        help="an extra STS endpoint (scheme://host:port) AWS logins may name: for emulators"
        " only, real STS hosts are always allowed",
    )
    serve.add_argument("--tls-cert", help="PEM certificate: serve HTTPS")
    serve.add_argument("--tls-key", help="PEM private key of --tls-cert")
    serve.add_argument(
        "--gc-every",
        type=_interval,
        metavar="DURATION",
        help="collect garbage at this interval (e.g. 1h, 30m), as `soute gc` does, in the"
        " server's main process; the first run one interval after start (default: never)",
    )
    serve.add_argument(
        "--gc-grace",
        type=duration_argument,
        metavar="DURATION",
        help="with --gc-every: keep what was used more recently than this (default"
        f" {format_duration(DEFAULT_GRACE)})",
    )
    serve.add_argument("--workers", type=int, default=2, help="server processes (default 2)")
    serve.add_argument(
        "--threads", type=int, default=32, help="concurrent requests per process (default 32)"
    )
    serve.set_defaults(run=_serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soute", description="A serverless OCI registry.")
    commands = parser.add_subparsers(dest="command", required=True)
    _serve_parser(commands)
    add_push_parser(commands)
    add_image_parsers(commands)
    add_admin_parsers(commands)
    add_login_parser(commands)
    add_verify_parser(commands)
    add_gc_parser(commands)
    add_du_parser(commands)
    aws = commands.add_parser("aws", help="AWS resources").add_subparsers(dest="aws", required=True)
    init = aws.add_parser(
        "init",
        help="create the S3 bucket, the DynamoDB table and the token signing secret (idempotent)",
    )
    _storage_options(init, required=True)
    init.set_defaults(run=_aws_init)
    add_aws_login_parsers(aws)
    add_deploy_parsers(aws)
    add_regions_parsers(aws)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..server.logs import install_log_escaping

    install_log_escaping()  # client-chosen values (account names, paths) cannot forge lines
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return run_verb(args)  # an error the user caused is one line, never a traceback


if __name__ == "__main__":
    sys.exit(main())
