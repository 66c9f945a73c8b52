"""boto3 clients, created once per process (a Lambda container reuses them across requests).

The S3 and DynamoDB clients translate, after botocore's own retries, the faults that mean "the
storage cannot answer for a moment" (throttling, 5xx, timeouts, unreachable endpoint) into the
ports' StorageUnavailable: one botocore event hook per client, so no adapter call needs its own
try/except. The error raised is still of botocore's type too (faults.retyped): the adapters'
handlers of ClientError, ConditionalCheckFailed and TransactionCanceled keep working, and any
other error (a missing table, access denied) is left as botocore raised it."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

from ..faults import both, retyped
from ..ports import StorageUnavailable

# Error codes of a storage that is throttling or failing inside (besides every 5xx answer).
UNAVAILABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalServerError",
        "InternalFailure",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# Why a DynamoDB transaction was cancelled that a retry can cure (not a failed condition).
_RETRYABLE_CANCELLATIONS = frozenset(
    {"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"}
)


@dataclass(frozen=True)
class AwsClients:
    s3: Any
    dynamodb: Any


def aws_clients(region: str | None, endpoint_url: str | None) -> AwsClients:
    """One pair of clients per region and endpoint, and per process. A region left to the AWS
    configuration is resolved before the cache, so the clients never outlive a change of that
    configuration. A process forked from another (gunicorn's workers, from the master that
    checked the storage and may run the GC) makes its own: a client's pooled connections and
    locks are not to be shared with the process, and the threads, it was copied from."""
    return _clients(region or _configured_region(), endpoint_url, os.getpid())


def _configured_region() -> str | None:
    import boto3

    return boto3.session.Session().region_name


@functools.cache
def _clients(region: str | None, endpoint_url: str | None, pid: int) -> AwsClients:
    import boto3  # imported here: it is most of a cold start, and only the aws backend needs it
    from botocore.config import Config

    session = boto3.session.Session(region_name=region)
    retries = {"mode": "standard", "max_attempts": 5}
    s3_config = Config(
        retries=retries,
        signature_version="s3v4",
        # Path-style for emulators; virtual-hosted on AWS, so presigned URLs name the bucket's
        # own host, never a subdomain of the registry's.
        s3={"addressing_style": "path" if endpoint_url else "virtual"},
    )
    clients = AwsClients(
        s3=session.client("s3", endpoint_url=endpoint_url, config=s3_config),
        dynamodb=session.client(
            "dynamodb", endpoint_url=endpoint_url, config=Config(retries=retries)
        ),
    )
    translate_faults(clients.s3)
    translate_faults(clients.dynamodb)
    return clients


def translate_faults(client: Any) -> None:
    """Make `client` raise StorageUnavailable (also of botocore's type) for a storage fault
    that its retries did not cure."""
    client.meta.events.register("after-call.*.*", functools.partial(_after_call, client))
    client.meta.events.register("after-call-error.*.*", _after_call_error)


def _after_call(
    client: Any, http_response: Any, parsed: dict[str, Any], model: Any, context: Any, **_: Any
) -> None:
    """Runs just before botocore raises an error answer: raise its StorageUnavailable form."""
    status = getattr(http_response, "status_code", 200)
    if status < 300:
        return
    code = (context or {}).get("error_code_override") or parsed.get("Error", {}).get("Code")
    if status >= 500 or code in UNAVAILABLE_CODES or _retryable_cancellation(code, parsed):
        error_class = client.exceptions.from_code(code)
        raise both(error_class, StorageUnavailable)(parsed, model.name)


def _retryable_cancellation(code: str | None, parsed: dict[str, Any]) -> bool:
    if code != "TransactionCanceledException":
        return False
    reasons = {reason.get("Code") for reason in parsed.get("CancellationReasons", [])}
    return "ConditionalCheckFailed" not in reasons and bool(reasons & _RETRYABLE_CANCELLATIONS)


def _after_call_error(exception: BaseException, **_: Any) -> None:
    """Runs when no answer came (after the retries): an unreachable or silent endpoint."""
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    unreachable = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)
    if isinstance(exception, (*unreachable, ConnectionClosedError)) and not isinstance(
        exception, StorageUnavailable
    ):
        raise retyped(exception, StorageUnavailable) from exception


def secrets_manager_client(region: str | None, endpoint_url: str | None) -> Any:
    return _secrets_manager_client(region or _configured_region(), endpoint_url)


@functools.cache
def _secrets_manager_client(region: str | None, endpoint_url: str | None) -> Any:
    """Only auth on the aws backend reads a secret (its token signing key)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=region)
    config = Config(retries={"mode": "standard", "max_attempts": 5})
    return session.client("secretsmanager", endpoint_url=endpoint_url, config=config)
