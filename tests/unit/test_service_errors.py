"""The HTTP answer of each error type the service raises (api/service_errors.py): the
statuses and headers that the service itself used to set, unchanged for clients."""

from __future__ import annotations

from chalicelib.api.router import error_response
from chalicelib.api.service_errors import status_and_headers
from chalicelib.oci.errors import OCIError
from chalicelib.registry.errors import Busy, Conflict, ReferenceMissing, UploadOutOfOrder


def test_a_chunk_out_of_order_is_416_with_where_the_upload_ends() -> None:
    error = UploadOutOfOrder("team/app", "abc123", offset=10)
    assert status_and_headers(error) == (
        416,
        {
            "Range": "0-9",
            "Location": "/v2/team/app/blobs/uploads/abc123",
            "Docker-Upload-UUID": "abc123",
        },
    )
    assert error.code == "BLOB_UPLOAD_INVALID"
    assert "from offset 10" in error.message


def test_an_empty_upload_reports_the_range_0_0() -> None:
    assert status_and_headers(UploadOutOfOrder("r", "u", offset=0))[1]["Range"] == "0-0"


def test_a_conflict_is_409_and_says_when_to_retry_only_if_it_may_help() -> None:
    assert status_and_headers(Conflict("DENIED", "still used")) == (409, {})
    settling = Conflict("MANIFEST_BLOB_UNKNOWN", "verifying", retry_after=5)
    assert status_and_headers(settling) == (409, {"Retry-After": "5"})


def test_busy_is_429_with_retry_after() -> None:
    assert status_and_headers(Busy("many at once", retry_after=1)) == (
        429,
        {"Retry-After": "1"},
    )


def test_a_missing_reference_is_400_whatever_its_code() -> None:
    child = ReferenceMissing("MANIFEST_UNKNOWN", "push the child first", digest="sha256:ab")
    assert status_and_headers(child) == (400, {})
    assert child.body()["errors"][0]["detail"] == {"digest": "sha256:ab"}


def test_other_errors_keep_the_status_and_headers_they_carry() -> None:
    plain = OCIError("UNSUPPORTED", "no", status=405, headers={"Allow": "GET"})
    assert status_and_headers(plain) == (405, {"Allow": "GET"})
    assert status_and_headers(OCIError("BLOB_UNKNOWN", "gone")) == (404, {})


def test_the_router_answers_with_the_mapping() -> None:
    response = error_response(Conflict("MANIFEST_BLOB_UNKNOWN", "verifying", retry_after=5))
    assert response.status == 409
    assert response.headers == {"Content-Type": "application/json", "Retry-After": "5"}
