"""Blob uploads through the v2 API: cross-repository mount, and the monolithic POST + PUT with
the whole blob streamed from disk."""

from __future__ import annotations

from urllib.parse import urlencode

from .errors import PushError
from .model import Blob
from .progress import Tracker
from .session import RegistrySession, oci_error
from .streams import RangeReader


class TooLarge(PushError):
    """The registry refused the blob's one request as too large (413)."""


def blob_exists(session: RegistrySession, repository: str, digest: str) -> bool:
    """HEAD: does the repository have the blob already?"""
    response = session.request("HEAD", f"/v2/{repository}/blobs/{digest}")
    if response.status_code == 200:
        return True
    if response.status_code == 404:
        return False
    raise PushError(f"HEAD of blob {digest} in {repository} answered {oci_error(response)}")


def mount(session: RegistrySession, repository: str, digest: str, source: str) -> bool:
    """Ask for a cross-repository mount from `source`; True if the registry mounted it."""
    query = urlencode({"mount": digest, "from": source})
    response = session.request("POST", f"/v2/{repository}/blobs/uploads/?{query}")
    if response.status_code == 201:
        return True
    if response.status_code == 202 and response.headers.get("Location"):
        session.request("DELETE", response.headers["Location"])  # the fallback upload, unused
    return False


def _with_digest(location: str, digest: str) -> str:
    separator = "&" if "?" in location else "?"
    return f"{location}{separator}{urlencode({'digest': digest})}"


def standard_upload(
    session: RegistrySession, repository: str, blob: Blob, tracker: Tracker
) -> None:
    """POST an upload, then PUT the whole blob (streamed) with `?digest=`."""
    started = session.request("POST", f"/v2/{repository}/blobs/uploads/")
    location = started.headers.get("Location")
    if started.status_code != 202 or not location:
        raise PushError(f"starting an upload to {repository} failed: {oci_error(started)}")
    data = blob.bytes_on_disk()

    def body() -> RangeReader:
        return RangeReader(data, 0, blob.size, lambda n: tracker.advance(blob.digest, n))

    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)}
    done = session.request("PUT", _with_digest(location, blob.digest), body, headers)
    if done.status_code == 413:
        raise TooLarge(f"blob {blob.digest} ({blob.size:,} bytes) was refused: {oci_error(done)}")
    if done.status_code != 201:
        raise PushError(f"uploading blob {blob.digest} to {repository} failed: {oci_error(done)}")
