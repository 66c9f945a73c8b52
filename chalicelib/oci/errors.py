"""OCI distribution-spec error codes and the exception that carries one to the HTTP layer."""

from __future__ import annotations

from typing import Any

# code -> default HTTP status (distribution-spec "Error Codes" table)
STATUS = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "SIZE_INVALID": 400,
    "TAG_INVALID": 400,  # distribution's code for a malformed tag
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 400,
    "TOOMANYREQUESTS": 429,
    "UNAVAILABLE": 503,  # distribution's code for a service that cannot answer for a moment
}


class OCIError(Exception):
    """An error a client caused; rendered as an OCI error body with `status`."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS[code]
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        return {"errors": [error]}
