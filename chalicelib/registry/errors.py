"""What went wrong in the service, said as what happened rather than as an HTTP answer.

The service raises OCIError with the spec's code and a message. Where the answer a client gets
depends on more than the code (a conflict, a retry later, a chunk out of order), it raises one
of these types, and chalicelib/api/service_errors.py decides the HTTP answer: the service
speaks no HTTP. The `status` an instance inherits from OCIError is its code's default, not
the answer's; ask the API layer (service_errors.status_and_headers) for that.
"""

from __future__ import annotations

from typing import Any

from ..oci.errors import OCIError


class Conflict(OCIError):
    """The target's current state refuses the request: something still refers to it, another
    request changed it meanwhile, or it is still settling (then `retry_after` seconds say when
    asking again may succeed)."""

    def __init__(
        self, code: str, message: str, *, detail: Any = None, retry_after: int | None = None
    ) -> None:
        super().__init__(code, message, detail=detail)
        self.retry_after = retry_after


class TagLocked(Conflict):
    """A push or delete would move or remove an immutable tag (chalicelib/lifecycle/
    immutability.py): the tag's state refuses it (409, no Retry-After: retrying cannot help
    until an admin lifts the rule). DENIED, because clients print its code as "denied: " and
    then the message (skopeo, docker; a 403 prints the same, but reads as a permission
    problem, which this is not)."""

    def __init__(self, message: str, *, repository: str, tag: str, digest: str) -> None:
        super().__init__("DENIED", message, detail={"tag": tag, "digest": digest})
        self.repository = repository
        self.tag = tag
        self.digest = digest


class QuotaFull(Conflict):
    """Storing a manifest would take its namespace past its quota (chalicelib/lifecycle/
    quotas.py): 409 DENIED, as for an immutable tag, with no Retry-After: retrying cannot help
    until images are deleted or the quota raised."""

    def __init__(self, message: str, *, namespace: str, limit: int, used: int, adding: int):
        detail = {"namespace": namespace, "quota": limit, "used": used, "adding": adding}
        super().__init__("DENIED", message, detail=detail)


class Busy(OCIError):
    """Too many requests change the same records at once; retry after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__("TOOMANYREQUESTS", message)
        self.retry_after = retry_after


class ReferenceMissing(OCIError):
    """A pushed document names content the repository lacks: the request is wrong as sent,
    even when the code is the one for "unknown" (MANIFEST_UNKNOWN for an index's child)."""

    def __init__(self, code: str, message: str, *, digest: str) -> None:
        super().__init__(code, message, detail={"digest": digest})
        self.digest = digest


class UploadOutOfOrder(OCIError):
    """A chunk of upload `upload_id` in `repository` does not start at `offset`, where the
    upload ends (its size so far)."""

    def __init__(self, repository: str, upload_id: str, offset: int) -> None:
        super().__init__(
            "BLOB_UPLOAD_INVALID",
            f"chunk does not start where the upload ends; send the bytes from offset {offset}",
        )
        self.repository = repository
        self.upload_id = upload_id
        self.offset = offset
