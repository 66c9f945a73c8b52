"""Builds the registry service on the storage backend a front end asks for.

Front ends pass explicit options; the Lambda function (app.py) reads the same options from its
environment, which the Chalice config and `soute serve --lambda` set.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..auth.tokens import DEFAULT_SERVICE
from ..registry.service import Registry
from ..registry.settings import Settings

if TYPE_CHECKING:
    from ..api.router import Router
    from ..auth.audit import AuditLog
    from ..auth.aws_login import AwsLoginVerifier
    from ..auth.context import AuthContext
    from ..auth.identity_ports import IdentityStore
    from ..auth.keys import KeyRing, SigningKey
    from ..auth.throttle_ports import FailureCounter
    from ..lifecycle.gc import GarbageCollector
    from ..registry.verification import Verifier
    from ..storage.lifecycle_ports import LifecycleStore
    from ..storage.policy_ports import PolicyStore
    from ..storage.ports import BlobStore, MetadataStore

log = logging.getLogger("soute.server")
_warned_wide: set[str] = set()  # data directories warned about, once per process (and fork)


class Storage(Protocol):
    """What a backend (storage/embedded/backend.py, storage/aws/backend.py) provides: each
    port's adapter, opened on that backend's files or AWS resources."""

    def metadata(self) -> MetadataStore: ...
    def existing_metadata(self) -> MetadataStore | None: ...
    def blobs(self) -> BlobStore: ...
    def lifecycle(self) -> LifecycleStore: ...
    def policies(self) -> PolicyStore: ...
    def identities(self) -> IdentityStore: ...
    def audit(self) -> AuditLog: ...
    def failure_counter(self) -> FailureCounter: ...
    def signing_keys(self) -> KeyRing | tuple[SigningKey, ...]: ...


@dataclass(frozen=True)
class BackendOptions:
    backend: str = "embedded"  # "embedded" or "aws"
    data_dir: str = "./.soute-data"
    s3_bucket: str | None = None
    dynamodb_table: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    presign_expires: int = 300  # seconds; why so short: storage/aws/s3.py PRESIGN_EXPIRES
    chunk_min_length: int = 1 << 20
    inline_verify_limit: int = 512 << 20  # direct uploads verified within `complete`
    part_url_expires: int = 3600
    # Direct uploads one namespace may hold open, and the bytes they may declare together.
    max_open_uploads: int = 100
    max_upload_bytes: int = 1 << 40
    # The Lambda function that verifies large direct uploads; none: a thread of this process.
    verifier_function: str | None = None
    # Token auth (chalicelib/auth): off until enabled, so an existing set-up keeps working.
    auth: bool = False
    auth_service: str = DEFAULT_SERVICE  # the tokens' audience, named in the challenge
    # aws backend: the Secrets Manager secret the token signing key is derived from.
    signing_secret: str | None = None
    # AWS-native login (chalicelib/auth/aws_login.py), with auth on; extra STS endpoints are
    # for emulators only (scheme://host:port), real STS hosts are always allowed.
    aws_login: bool = False
    sts_endpoints: tuple[str, ...] = ()
    # Several regions (storage/aws/regions/): the region whose table takes every write (None:
    # one region, as before), and every region's bucket, the local one (`s3_bucket`, in
    # `region`) included.
    primary_region: str | None = None
    region_buckets: tuple[tuple[str, str], ...] = ()

    @property
    def signing_secret_id(self) -> str:
        """The named secret, or the one `soute aws init` creates beside the table."""
        return self.signing_secret or default_signing_secret(self.dynamodb_table or "soute")

    def environment(self) -> dict[str, str]:
        """These options as the environment variables `options_from_environment` reads."""
        return {key: value for key, value in self._variables().items() if value}

    @staticmethod
    def variable_names() -> frozenset[str]:
        """Every variable `environment` may set."""
        return frozenset(BackendOptions()._variables())

    def _variables(self) -> dict[str, str | None]:
        return {
            "SOUTE_BACKEND": self.backend,
            "SOUTE_DATA_DIR": self.data_dir,
            "SOUTE_S3_BUCKET": self.s3_bucket,
            "SOUTE_DYNAMODB_TABLE": self.dynamodb_table,
            "SOUTE_AWS_ENDPOINT_URL": self.endpoint_url,
            "SOUTE_AWS_REGION": self.region,
            "SOUTE_PRESIGN_EXPIRES": str(self.presign_expires),
            "SOUTE_CHUNK_MIN_LENGTH": str(self.chunk_min_length),
            "SOUTE_INLINE_VERIFY_LIMIT": str(self.inline_verify_limit),
            "SOUTE_PART_URL_EXPIRES": str(self.part_url_expires),
            "SOUTE_MAX_OPEN_UPLOADS": str(self.max_open_uploads),
            "SOUTE_MAX_UPLOAD_BYTES": str(self.max_upload_bytes),
            "SOUTE_VERIFIER_FUNCTION": self.verifier_function,
            "SOUTE_AUTH": "on" if self.auth else None,
            "SOUTE_AUTH_SERVICE": self.auth_service if self.auth else None,
            "SOUTE_SIGNING_SECRET": self.signing_secret,
            "SOUTE_AWS_LOGIN": "on" if self.aws_login else None,
            "SOUTE_STS_ENDPOINTS": ",".join(self.sts_endpoints),
            "SOUTE_PRIMARY_REGION": self.primary_region,
            "SOUTE_S3_BUCKETS": format_region_buckets(self.region_buckets),
        }


def options_from_environment(env: Mapping[str, str] | None = None) -> BackendOptions:
    env = os.environ if env is None else env
    defaults = BackendOptions()
    return BackendOptions(
        backend=env.get("SOUTE_BACKEND", defaults.backend),
        data_dir=env.get("SOUTE_DATA_DIR", defaults.data_dir),
        s3_bucket=env.get("SOUTE_S3_BUCKET"),
        dynamodb_table=env.get("SOUTE_DYNAMODB_TABLE"),
        endpoint_url=env.get("SOUTE_AWS_ENDPOINT_URL") or None,
        region=env.get("SOUTE_AWS_REGION") or env.get("AWS_REGION") or None,
        presign_expires=int(env.get("SOUTE_PRESIGN_EXPIRES", defaults.presign_expires)),
        chunk_min_length=int(env.get("SOUTE_CHUNK_MIN_LENGTH", defaults.chunk_min_length)),
        inline_verify_limit=int(env.get("SOUTE_INLINE_VERIFY_LIMIT", defaults.inline_verify_limit)),
        part_url_expires=int(env.get("SOUTE_PART_URL_EXPIRES", defaults.part_url_expires)),
        max_open_uploads=int(env.get("SOUTE_MAX_OPEN_UPLOADS", defaults.max_open_uploads)),
        max_upload_bytes=int(env.get("SOUTE_MAX_UPLOAD_BYTES", defaults.max_upload_bytes)),
        verifier_function=env.get("SOUTE_VERIFIER_FUNCTION") or None,
        auth=_on(env.get("SOUTE_AUTH", "off")),
        auth_service=env.get("SOUTE_AUTH_SERVICE") or defaults.auth_service,
        signing_secret=env.get("SOUTE_SIGNING_SECRET") or None,
        aws_login=_on(env.get("SOUTE_AWS_LOGIN", "off")),
        sts_endpoints=tuple(filter(None, env.get("SOUTE_STS_ENDPOINTS", "").split(","))),
        primary_region=env.get("SOUTE_PRIMARY_REGION") or None,
        region_buckets=parse_region_buckets(env.get("SOUTE_S3_BUCKETS", "")),
    )


# us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ap-southeast-4...
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
# S3's rules for a bucket name, without the rarer ones (no IP address form, no "xn--").
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def parse_region_bucket(text: str) -> tuple[str, str]:
    """`REGION=BUCKET`, checked; ValueError saying what is wrong."""
    region, equals, bucket = text.strip().partition("=")
    region, bucket = region.strip(), bucket.strip()
    if not equals or not region or not bucket:
        raise ValueError(f"{text!r} is not REGION=BUCKET (e.g. eu-west-1=my-registry-eu)")
    if not _REGION.fullmatch(region):
        raise ValueError(f"{region!r} in {text!r} is not an AWS region name (e.g. eu-west-1)")
    if not _BUCKET.fullmatch(bucket):
        raise ValueError(
            f"{bucket!r} in {text!r} is not an S3 bucket name (3-63 characters: lower-case"
            " letters, digits, dots and hyphens)"
        )
    return region, bucket


def parse_region_buckets(text: str) -> tuple[tuple[str, str], ...]:
    """`us-east-1=bucket-a,eu-west-1=bucket-b` (SOUTE_S3_BUCKETS); empty: none."""
    return tuple(parse_region_bucket(part) for part in text.split(",") if part.strip())


def format_region_buckets(buckets: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f"{region}={bucket}" for region, bucket in buckets)


def regions_problem(options: BackendOptions) -> str | None:
    """Why these options cannot run several regions, or None (also None for one region)."""
    buckets = dict(options.region_buckets)
    if options.primary_region is None:
        if buckets:
            return (
                "--region-bucket (SOUTE_S3_BUCKETS) needs --primary-region (SOUTE_PRIMARY_REGION)"
            )
        return None
    if options.backend != "aws":
        return "several regions (--primary-region) need the aws backend"
    if len(buckets) != len(options.region_buckets):
        regions = [region for region, _ in options.region_buckets]
        twice = sorted({region for region in regions if regions.count(region) > 1})
        return f"--region-bucket names a bucket twice for {', '.join(twice)}"
    if not _REGION.fullmatch(options.primary_region):
        return f"--primary-region {options.primary_region!r} is not an AWS region name"
    if not options.region:
        return "--primary-region needs the local region too: --region (SOUTE_AWS_REGION)"
    for role, region in (("primary", options.primary_region), ("local", options.region)):
        if region not in buckets:
            return (
                f"the {role} region {region} has no bucket: add --region-bucket"
                f" {region}=BUCKET (SOUTE_S3_BUCKETS lists every region's bucket)"
            )
    if options.s3_bucket and options.s3_bucket != buckets[options.region]:
        return (
            f"--s3-bucket {options.s3_bucket} is not the bucket --region-bucket gives the local"
            f" region {options.region} ({buckets[options.region]}): give one of them"
        )
    return None


def _on(value: str) -> bool:
    return value.strip().lower() in ("on", "true", "1")


def default_signing_secret(table: str) -> str:
    return f"{table}-token-signing"


def open_storage(options: BackendOptions) -> Storage:
    """The composition root: the one place a backend's name becomes its adapters. A new
    backend is a folder under storage/ with a class like these two, and a line here."""
    if options.backend == "embedded":
        from ..storage.embedded.backend import EmbeddedStorage

        prepare_data_dir(options.data_dir)
        return EmbeddedStorage(options.data_dir)
    if options.backend == "aws":
        from ..storage.aws.backend import AwsStorage

        if options.primary_region is None:
            return AwsStorage(
                options.dynamodb_table,
                options.s3_bucket,
                region=options.region,
                endpoint_url=options.endpoint_url,
                signing_secret_id=options.signing_secret_id,
                presign_expires=options.presign_expires,
            )
        if problem := regions_problem(options):
            raise ValueError(problem)
        return AwsStorage(
            options.dynamodb_table,
            options.s3_bucket or dict(options.region_buckets)[str(options.region)],
            region=options.region,
            endpoint_url=options.endpoint_url,
            signing_secret_id=options.signing_secret_id,
            presign_expires=options.presign_expires,
            primary_region=options.primary_region,
            region_buckets=options.region_buckets,
        )
    raise ValueError(f"unknown backend {options.backend!r}; use 'embedded' or 'aws'")


def build_registry(options: BackendOptions) -> Registry:
    settings = Settings(
        chunk_min_length=options.chunk_min_length,
        inline_verify_limit=options.inline_verify_limit,
        part_url_expires=options.part_url_expires,
        max_open_uploads=options.max_open_uploads,
        max_upload_bytes=options.max_upload_bytes,
    )
    storage = open_storage(options)
    verifier = None
    if options.backend == "aws" and options.verifier_function:
        from .verifiers import LambdaVerifier

        verifier = LambdaVerifier(options.verifier_function, options.region)
    return _registry(storage, settings, verifier)


def _registry(storage: Storage, settings: Settings | None, verifier: Verifier | None) -> Registry:
    from ..lifecycle.usage import UsageReader

    meta, policies = storage.metadata(), storage.policies()
    usage = UsageReader(meta, storage.lifecycle(), policies)
    return Registry(meta, storage.blobs(), settings, verifier, policies=policies, usage=usage)


def build_collector(options: BackendOptions) -> GarbageCollector:
    """The lifecycle GC over the backend's stores (`soute gc`, `soute serve --gc-every`), with
    the retention policies as its first phase."""
    from ..lifecycle.gc import GarbageCollector

    storage = open_storage(options)
    return GarbageCollector(
        storage.lifecycle(), storage.metadata(), storage.blobs(), policies=storage.policies()
    )


def build_auth(options: BackendOptions) -> AuthContext | None:
    """The auth context when auth is on, else None (every request allowed): identities, audit
    log, failed-login counts and signing keys all from the registry's storage, so that every
    worker or Lambda instance sees the same counts."""
    if not options.auth:
        return None
    if problem := aws_login_problem(options):
        raise ValueError(problem)
    from ..auth.context import auth_context
    from ..auth.throttle import LoginThrottle

    storage = open_storage(options)
    return auth_context(
        storage.identities(),
        storage.signing_keys(),
        storage.audit(),
        options.auth_service,
        throttle=LoginThrottle(counter=storage.failure_counter()),
        aws_login=aws_login(options),
    )


def build_audit(options: BackendOptions) -> AuditLog:
    """The audit log of this storage (auth's own when auth is on; with auth off the router
    records deletes in it): the identities file, or the registry's table."""
    return open_storage(options).audit()


def build_router(options: BackendOptions, bound_address: str | None = None) -> Router:
    """The one router every front end serves on these options: with auth when it is on; in
    open mode answering only requests for `bound_address`'s machine (DNS rebinding) and
    recording deletes in the storage's audit log."""
    from ..api.router import Router

    registry, auth = build_registry(options), build_auth(options)
    audit = build_audit(options) if auth is None else None
    return Router(registry, auth, bound_address=bound_address, audit=audit)


def embedded_registry(data_dir: str, settings: Settings | None = None) -> Registry:
    """Files for blobs and SQLite for metadata, all under `data_dir` (tests and tools)."""
    return _registry(open_storage(BackendOptions(data_dir=data_dir)), settings, None)


def embedded_auth(
    data_dir: str, service: str = DEFAULT_SERVICE, *, aws_login: AwsLoginVerifier | None = None
) -> AuthContext:
    """Auth on the embedded storage under `data_dir` (tests and tools; `soute serve` builds
    it from its options with build_auth)."""
    from ..auth.context import auth_context
    from ..auth.throttle import LoginThrottle

    storage = open_storage(BackendOptions(data_dir=data_dir))
    throttle = LoginThrottle(counter=storage.failure_counter())
    return auth_context(
        storage.identities(),
        storage.signing_keys(),
        storage.audit(),
        service,
        throttle=throttle,
        aws_login=aws_login,
    )


def aws_login_problem(options: BackendOptions) -> str | None:
    """Why AWS login cannot be on with these options, or None."""
    if not options.aws_login:
        return None
    if not options.auth:
        return "AWS login needs auth on (--auth)"
    if options.auth_service == DEFAULT_SERVICE:
        # The login binds each signed STS request to the service name: with the name every
        # Soute registry shares, a registry that receives one could replay it at another.
        return (
            "AWS login binds each login to this registry's service name: set it to the host "
            "name clients use, which `soute login --aws` checks (--auth-service "
            "registry.example.com, SOUTE_AUTH_SERVICE)"
        )
    return None


def aws_login(options: BackendOptions) -> AwsLoginVerifier | None:
    if not options.aws_login:
        return None
    from ..auth.aws_login import AwsLoginVerifier

    return AwsLoginVerifier(options.sts_endpoints)


def prepare_data_dir(data_dir: str) -> None:
    """Create the embedded data directory 0700 (it holds password and token hashes, the audit
    log and private blobs), or say once, in one line, that an existing one is wider. An
    existing directory's mode is the admin's to change: it may be shared on purpose."""
    from ..storage.embedded.private_files import make_private_dirs, wider_than_private

    path = os.path.abspath(data_dir)
    existed = os.path.isdir(path)
    make_private_dirs(path)
    if existed and path not in _warned_wide and wider_than_private(path):
        _warned_wide.add(path)
        mode = os.stat(path).st_mode & 0o777
        log.warning(
            "data directory %s is mode %03o: other users may read password hashes, the audit "
            "log and private blobs; run chmod 700 %s",
            path,
            mode,
            path,
        )
