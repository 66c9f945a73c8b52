"""Sending the parts of direct uploads: part URLs fetched in batches of 100 and renewed before
they expire, PUTs without Authorization on a pooled session, at most `parallel` at a time over
all blobs, each retried (with a fresh URL: embedded URLs work once) after a transient failure.

`SOUTE_PUSH_FAIL_AFTER_PARTS=N` makes every part after the first N fail as a lost connection
would: the tests use it to interrupt a push at a known point.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any
from urllib.parse import quote

import requests

from .errors import PushError, UnreachableError
from .model import Blob, FileRange, Upload
from .progress import Tracker
from .session import (
    TIMEOUT,
    RegistrySession,
    oci_error,
    pooled_session,
    post_json,
    transport_reason,
)
from .streams import RangeReader

API = "/v2/_soute/uploads"
BATCH = 100
RENEW_MARGIN = 120  # seconds before expires_at at which a URL is renewed
ATTEMPTS = 4
FAULT_VARIABLE = "SOUTE_PUSH_FAIL_AFTER_PARTS"


def extension_path(path: str, repository: str) -> str:
    """`path` of the extension with the repository in the query, where the registry reads it.
    The bodies name it too, for registries from before the query was read."""
    return f"{path}?repository={quote(repository, safe='/')}"


class PartSender:
    """Part URLs and part PUTs for the direct uploads of one repository."""

    def __init__(self, session: RegistrySession, repository: str, parallel: int) -> None:
        self.session = session
        self.repository = repository
        self.http = pooled_session(parallel + 2)  # no Authorization ever goes on it
        self.gate = threading.BoundedSemaphore(parallel)
        self.lock = threading.Lock()
        self.urls: dict[tuple[str, int], dict[str, Any]] = {}
        self.sent = 0
        fault = os.environ.get(FAULT_VARIABLE)
        self.fail_after = int(fault) if fault else None

    def remember(self, upload_id: str, parts: list[dict[str, Any]]) -> None:
        now = time.time()
        with self.lock:
            for part in parts:
                self.urls[(upload_id, int(part["number"]))] = {**part, "fetched_at": now}

    def prefetch(self, upload_id: str, numbers: list[int]) -> None:
        """Fetch URLs for the parts that have none (or an expiring one), 100 at a time."""
        stale = [n for n in numbers if not self._fresh(upload_id, n)]
        for start in range(0, len(stale), BATCH):
            self._fetch(upload_id, stale[start : start + BATCH])

    def _fresh(self, upload_id: str, number: int) -> bool:
        """A URL is renewed once less than RENEW_MARGIN (or half its lifetime) is left."""
        with self.lock:
            part = self.urls.get((upload_id, number))
        if not part:
            return False
        expires = float(part["expires_at"])
        margin = min(RENEW_MARGIN, (expires - part["fetched_at"]) / 2)
        return expires - time.time() > margin

    def _fetch(self, upload_id: str, numbers: list[int]) -> None:
        response = post_json(
            self.session,
            extension_path(f"{API}/{upload_id}/parts", self.repository),
            {"repository": self.repository, "numbers": numbers},
        )
        if response.status_code != 200:
            raise PushError(f"part URLs for upload {upload_id}: {oci_error(response)}")
        self.remember(upload_id, response.json().get("parts") or [])

    def _url(self, upload_id: str, number: int, renew: bool) -> dict[str, Any]:
        if renew or not self._fresh(upload_id, number):
            self._fetch(upload_id, [number])
        with self.lock:
            return self.urls.pop((upload_id, number))

    def send(
        self, upload: Upload, number: int, data: FileRange, blob: Blob, tracker: Tracker
    ) -> str:
        """PUT part `number`, retrying transient failures; returns its ETag."""
        start = (number - 1) * upload.part_size
        length = upload.part_length(number, blob.size)
        body = _PartBody(data, start, length, blob.digest, tracker)
        problem, refused = "", False
        for attempt in range(ATTEMPTS):
            part = self._url(upload.upload_id, number, renew=attempt > 0)
            response, problem = self._attempt(part, body)
            if response is not None and not problem:
                tracker.advance(blob.digest, length)
                self._count_sent()
                return str(response.headers["ETag"])
            refused = response is not None
            if response is not None and not _transient(response.status_code):
                break
            time.sleep(min(2**attempt, 8))
        error = PushError if refused else UnreachableError
        raise error(f"part {number} of blob {blob.digest} could not be sent: {problem}")

    def _attempt(
        self, part: dict[str, Any], body: _PartBody
    ) -> tuple[requests.Response | None, str]:
        """One PUT: (the response if there was one, what went wrong if anything)."""
        with self.gate:
            self._inject_fault()
            reader = body.reader()
            try:
                response = self._put(part, reader, body.length)
            except (requests.ConnectionError, requests.Timeout) as exc:
                return None, transport_reason(exc)
            finally:
                body.tracker.advance(body.digest, -body.sent)  # counted again when it is done
        if response.status_code == 200 and not response.headers.get("ETag"):
            return response, "the part URL answered 200 without an ETag"
        return response, "" if response.status_code == 200 else oci_error(response)

    def _put(self, part: dict[str, Any], body: RangeReader, length: int) -> requests.Response:
        headers = {str(k): str(v) for k, v in (part.get("headers") or {}).items()}
        headers["Content-Length"] = str(length)
        url = self.session.url(str(part["url"]))
        try:
            return self.http.request(
                part.get("method") or "PUT", url, data=body, headers=headers, timeout=TIMEOUT
            )
        finally:
            body.close()

    def _inject_fault(self) -> None:
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise UnreachableError(f"{FAULT_VARIABLE}={self.fail_after}: simulated lost connection")

    def _count_sent(self) -> None:
        with self.lock:
            self.sent += 1


def _transient(status: int) -> bool:
    """Worth another try with a fresh URL: expired or used URL, timeouts, throttling, 5xx."""
    return status in (403, 408, 429) or status >= 500


class _PartBody:
    """The bytes of one part, readable again for each attempt; progress counted as they go."""

    def __init__(
        self, data: FileRange, start: int, length: int, digest: str, tracker: Tracker
    ) -> None:
        self.data, self.start, self.length = data, start, length
        self.digest, self.tracker = digest, tracker
        self.sent = 0

    def reader(self) -> RangeReader:
        self.sent = 0
        return RangeReader(self.data, self.start, self.length, self._count)

    def _count(self, n: int) -> None:
        self.sent += n
        self.tracker.advance(self.digest, n)
