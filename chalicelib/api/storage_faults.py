"""What a client is told when the storage fails, not the request: 503 with Retry-After while
the storage is throttling or unreachable (docker, skopeo, containerd and regclient retry those),
507 when it is full. Each failure is one log line: the fault is the storage's, the request
has nothing to debug, and a traceback per request under load would drown the log."""

from __future__ import annotations

import logging

from ..oci.errors import OCIError
from ..storage.ports import StorageFull, StorageUnavailable
from .messages import Request

log = logging.getLogger("soute.api")


def storage_fault(request: Request, error: StorageUnavailable | StorageFull) -> OCIError:
    """The OCI error for `error`, logged in one line."""
    if isinstance(error, StorageFull):
        log.error("storage full on %s %s: %s", request.method, request.path, error)
        return OCIError(
            "UNAVAILABLE",
            "registry storage is full; the request was not carried out (an operator must free "
            "space)",
            status=507,
        )
    log.warning("storage unavailable on %s %s: %s", request.method, request.path, error)
    return OCIError(
        "UNAVAILABLE",
        "the registry's storage is busy or unreachable for a moment; the request was not "
        "carried out, try again shortly",
        headers={"Retry-After": str(error.retry_after)},
    )
