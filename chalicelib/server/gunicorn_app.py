"""`soute serve`: the registry behind gunicorn, a production WSGI server.

gunicorn decodes chunked request bodies, streams them to the app, sends blob files with
sendfile(2), serves many clients at once from a thread pool, writes one access-log line per
request and shuts down cleanly on SIGTERM and SIGINT. With --gc-every, the arbiter (gunicorn's
master process) also runs the garbage collector at that interval (gc_loop.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gunicorn.app.base import BaseApplication

from ..lifecycle.gc import DEFAULT_GRACE
from .backends import BackendOptions, build_auth, build_registry, build_router
from .gc_loop import GcLoop
from .wsgi import WsgiApp

log = logging.getLogger("soute.server")

# gunicorn's common-log-format atoms: %(t)s is the time, [03/Dec/2026:12:34:56 +0000].
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(r)s" %(s)s %({content-length}o)s %(M)sms "%(a)s"'


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 5000
    backend: BackendOptions = field(default_factory=BackendOptions)
    lambda_emulation: bool = False  # serve the Chalice app as API Gateway + Lambda would
    tls_cert: str | None = None
    tls_key: str | None = None
    workers: int = 2
    threads: int = 32
    access_log: bool = True
    gc_every: float | None = None  # seconds between garbage collections; None: none
    gc_grace: float = DEFAULT_GRACE


class SouteServer(BaseApplication):
    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.gc: GcLoop | None = None
        if options.gc_every is not None:
            self.gc = GcLoop(options.backend, options.gc_every, options.gc_grace)
        super().__init__()

    def load_config(self) -> None:
        options = self.options
        settings: dict[str, Any] = {
            "bind": [
                f"[{options.host}]:{options.port}"
                if ":" in options.host
                else f"{options.host}:{options.port}"
            ],
            "workers": options.workers,
            "threads": options.threads,
            "worker_class": "chalicelib.server.worker.ProbeRefusingWorker",
            "accesslog": "-" if options.access_log else None,
            "access_log_format": ACCESS_LOG_FORMAT,
            # Leaves the signatures of part URLs out of the access log.
            "logger_class": "chalicelib.server.access_log.RedactingLogger",
            "errorlog": "-",
            "loglevel": "info",
            "timeout": 120,
            "graceful_timeout": 20,
            "keepalive": 75,
            "proc_name": "soute",
            "certfile": options.tls_cert,
            "keyfile": options.tls_key,
        }
        if self.gc is not None:
            # Hooks of the arbiter: the thread starts once, in the master, never in a worker.
            settings["when_ready"] = self._start_gc
            settings["on_exit"] = self._stop_gc
        for key, value in settings.items():
            if value is not None:
                self.cfg.set(key, value)

    def _start_gc(self, arbiter: Any) -> None:
        if self.gc is not None:
            self.gc.start()

    def _stop_gc(self, arbiter: Any) -> None:
        if self.gc is not None:
            self.gc.stop()

    def load(self) -> Callable[..., Any]:
        if self.options.lambda_emulation:
            return lambda_gateway(self.options.backend, self.options.host)
        return WsgiApp(build_router(self.options.backend, bound_address=self.options.host))


def lambda_gateway(backend: BackendOptions, host: str) -> Callable[..., Any]:
    """The Chalice app Lambda runs (chalice_app.create_app, as app.py builds it) behind the API
    Gateway emulator, configured as Lambda is: through its environment."""
    # Exactly the options' settings, as a function has exactly its configuration: a variable
    # left in the shell (SOUTE_AUTH=on, say) must not change what the flags say. Others, such
    # as SOUTE_LOG_LEVEL, pass through.
    for name in BackendOptions.variable_names():
        os.environ.pop(name, None)
    os.environ.update(backend.environment())
    from .chalice_app import create_app
    from .chalice_routes import BOUND_ADDRESS_VARIABLE
    from .gateway_emulator import make_gateway_app

    # The address it listens on, for the router's open-mode Host check (ignored with auth).
    os.environ[BOUND_ADDRESS_VARIABLE] = host

    return make_gateway_app(create_app())


def prepare(options: ServeOptions) -> None:
    """Work done once before serving: check the storage answers, sweep uploads abandoned by
    an earlier run."""
    if options.backend.backend == "aws":
        _check_aws_storage(options.backend)
    _check_auth(options.backend)
    registry = build_registry(options.backend)
    swept = registry.uploads.sweep(registry.settings.upload_ttl_seconds)
    if swept:
        log.info("swept %d abandoned uploads", swept)


def serve(options: ServeOptions) -> None:
    preflight(options)
    # The first line: say at once whether it is open, and what it serves.
    log.info("%s; %s", auth_notice(options), storage_notice(options))
    prepare(options)
    SouteServer(options).run()


def preflight(options: ServeOptions) -> None:
    """What would otherwise fail in gunicorn's workers, as a retry loop or a traceback per
    worker: the TLS files, the port and the storage. Each problem is one line."""
    if options.tls_cert and options.tls_key:
        _check_tls(options.tls_cert, options.tls_key)
    _check_port(options.host, options.port)
    backend = options.backend
    if backend.backend == "aws" and not (backend.region or _default_region()):
        from botocore.exceptions import NoRegionError

        raise NoRegionError()  # worded by the command line (cli/errors.py)
    if backend.backend == "embedded":
        from ..storage.embedded.private_files import make_private_dirs

        # An OSError is one line (cli/errors.py); a wide existing directory is warned about
        # after the first line, by prepare().
        make_private_dirs(os.path.abspath(backend.data_dir))


def _check_tls(cert: str, key: str) -> None:
    import ssl

    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not os.path.isfile(path):
            raise SystemExit(f"soute serve: {flag} {path}: no such file")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as error:
        raise SystemExit(
            f"soute serve: --tls-cert {cert} and --tls-key {key} are not a PEM certificate and"
            f" its private key ({error})"
        ) from None


def _check_port(host: str, port: int) -> None:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind((host, port))
        except OSError as error:
            raise SystemExit(
                f"soute serve: cannot listen on {host}:{port}: {error.strerror} (another server"
                " there? choose another --port or --host)"
            ) from None


def auth_notice(options: ServeOptions) -> str:
    if options.backend.auth:
        return f"auth on: clients log in at /token (service {options.backend.auth_service!r})"
    return (
        f"auth OFF: anyone who can reach {options.host}:{options.port} may pull, push and "
        "delete; use --auth to require logins"
    )


def storage_notice(options: ServeOptions) -> str:
    """Which data this server serves: the directory, or the bucket, table, region, endpoint."""
    backend = options.backend
    if backend.backend != "aws":
        return f"data in {os.path.abspath(backend.data_dir)}"
    via = "the Chalice app as Lambda runs it" if options.lambda_emulation else "the aws backend"
    region = backend.region or _default_region() or "(no region)"
    endpoint = backend.endpoint_url or "AWS"
    return (
        f"serving {via}: bucket {backend.s3_bucket}, table {backend.dynamodb_table}, region"
        f" {region}, endpoint {endpoint}"
    )


def _default_region() -> str | None:
    import boto3

    return boto3.session.Session().region_name


def _check_auth(backend: BackendOptions) -> None:
    """Creates the embedded signing key once, before workers start; on AWS, reads the secret."""
    from ..storage.aws.secrets_manager_keys import SigningSecretMissing

    try:
        build_auth(backend)
    except SigningSecretMissing as error:
        raise SystemExit(f"soute serve: {error}: create it with `soute aws init`") from None


def _check_aws_storage(backend: BackendOptions) -> None:
    from ..storage.aws.clients import aws_clients
    from ..storage.aws.provision import missing_storage

    clients = aws_clients(backend.region, backend.endpoint_url)
    problem = missing_storage(
        clients.s3, clients.dynamodb, backend.s3_bucket or "", backend.dynamodb_table or ""
    )
    if problem:
        raise SystemExit(f"soute serve: cannot use {problem}: create them with `soute aws init`")
