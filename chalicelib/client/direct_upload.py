"""Blob uploads through Soute's direct upload extension (docs/upload-extension.md): the parts
go in parallel straight to the signed part URLs (S3 on AWS), without Authorization; finished
parts are never sent again when an interrupted push is resumed. Every call names its
repository in `?repository=` (the one the registry authorises and acts on)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .errors import PushError
from .model import Blob, Upload
from .part_sender import API, PartSender, extension_path
from .progress import Tracker
from .resume_state import ResumeState
from .session import RegistrySession, oci_error, post_json


class NoExtension(Exception):
    """The registry does not have the extension (404 on /v2/_soute/uploads)."""


class DirectUploader:
    """Pushes blobs of one repository through the extension."""

    def __init__(
        self,
        session: RegistrySession,
        sender: PartSender,
        repository: str,
        state: ResumeState,
        parallel: int,
    ) -> None:
        self.session = session
        self.sender = sender
        self.repository = repository
        self.state = state
        self.parallel = parallel

    def upload(self, blob: Blob, tracker: Tracker) -> str:
        """Send `blob`; returns what happened, for the progress bar. Raises NoExtension."""
        key = ResumeState.key(self.session.host, self.repository, blob.digest)
        upload, how = self._resume(key, blob), "resumed"
        if upload is None:
            upload, how = self._initiate(blob), "uploaded"
            if upload is None:
                return "already in the registry"
            self.state.put(key, upload.upload_id)
        done = sum(upload.part_length(n, blob.size) for n in upload.received)
        tracker.advance(blob.digest, done)
        self._send_parts(blob, upload, tracker)
        self._complete(blob, upload)
        self.state.drop(key)
        return how

    def _initiate(self, blob: Blob) -> Upload | None:
        request = {"repository": self.repository, "digest": blob.digest, "size": blob.size}
        response = post_json(self.session, extension_path(API, self.repository), request)
        if response.status_code in (404, 405):
            raise NoExtension()
        if response.status_code == 200:
            return None
        if response.status_code != 201:
            raise PushError(f"starting a direct upload of {blob.digest}: {oci_error(response)}")
        doc = response.json()
        self.sender.remember(doc["upload_id"], doc.get("parts") or [])
        return Upload(doc["upload_id"], int(doc["part_size"]), int(doc["part_count"]), {})

    def _status(self, upload_id: str) -> dict[str, Any] | None:
        path = extension_path(f"{API}/{upload_id}", self.repository)
        response = self.session.request("GET", path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PushError(f"status of upload {upload_id}: {oci_error(response)}")
        doc: dict[str, Any] = response.json()
        return doc

    def _resume(self, key: str, blob: Blob) -> Upload | None:
        upload_id = self.state.get(key)
        if not upload_id:
            return None
        doc = self._status(upload_id)
        if (
            doc is None
            or doc.get("status") in ("failed", "available")
            or doc.get("size") != blob.size
        ):
            self.state.drop(key)
            return None
        received = {int(p["number"]): str(p["etag"]) for p in doc.get("received") or []}
        upload = Upload(upload_id, int(doc["part_size"]), int(doc["part_count"]), received)
        if doc.get("status") == "verifying":
            upload.received = {n: "" for n in range(1, upload.part_count + 1)}
        return upload

    def _send_parts(self, blob: Blob, upload: Upload, tracker: Tracker) -> None:
        missing = [n for n in range(1, upload.part_count + 1) if n not in upload.received]
        if not missing:
            return
        data = blob.bytes_on_disk()
        self.sender.prefetch(upload.upload_id, missing)
        pool = ThreadPoolExecutor(max_workers=self.parallel)
        try:
            futures = {
                n: pool.submit(self.sender.send, upload, n, data, blob, tracker) for n in missing
            }
            for number, future in futures.items():
                upload.received[number] = future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _complete(self, blob: Blob, upload: Upload) -> None:
        if all(upload.received.values()):
            parts = [{"number": n, "etag": e} for n, e in sorted(upload.received.items())]
            path = extension_path(f"{API}/{upload.upload_id}/complete", self.repository)
            document = {"repository": self.repository, "parts": parts}
            response = post_json(self.session, path, document)
            if response.status_code == 201:
                return
            if response.status_code != 202:
                self._fail(blob, upload, oci_error(response))
        self._wait_verified(blob, upload)

    def _wait_verified(self, blob: Blob, upload: Upload) -> None:
        delay = 0.5
        while True:
            doc = self._status(upload.upload_id)
            status = doc.get("status") if doc else "gone"
            if status == "available":
                return
            if status != "verifying":
                self._fail(blob, upload, str((doc or {}).get("message") or status))
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)

    def _fail(self, blob: Blob, upload: Upload, why: str) -> None:
        key = ResumeState.key(self.session.host, self.repository, blob.digest)
        self.state.drop(key)
        raise PushError(
            f"the registry refused blob {blob.digest} (upload {upload.upload_id}): {why}"
        )
