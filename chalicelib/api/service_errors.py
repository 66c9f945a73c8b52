"""The status and headers of an error's answer: the one place that turns what the service says
happened (registry/errors.py) into HTTP. Any other OCIError answers with the status and
headers it carries (the code's default, or what the API layer set when raising it)."""

from __future__ import annotations

from ..oci.errors import OCIError
from ..registry.errors import Busy, Conflict, ReferenceMissing, UploadOutOfOrder
from .uploads import upload_location, upload_range


def status_and_headers(error: OCIError) -> tuple[int, dict[str, str]]:
    """What `error`'s answer says besides its OCI error body."""
    if isinstance(error, UploadOutOfOrder):
        # 416 with the upload's position, as a chunk's answer has it, so the client resumes.
        return 416, {
            "Range": upload_range(error.offset),
            "Location": upload_location(error.repository, error.upload_id),
            "Docker-Upload-UUID": error.upload_id,
        }
    if isinstance(error, Conflict):
        return 409, _retry_after(error.retry_after)
    if isinstance(error, Busy):
        return error.status, _retry_after(error.retry_after)
    if isinstance(error, ReferenceMissing):
        return 400, {}
    return error.status, error.headers


def _retry_after(seconds: int | None) -> dict[str, str]:
    return {} if seconds is None else {"Retry-After": str(seconds)}
