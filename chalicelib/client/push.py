"""`soute push`: every blob the destination lacks (HEAD, then a cross-repository mount, then an
upload through the extension or the v2 API), then the manifests, children before the index."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..oci.lambda_limits import LAMBDA_CHUNK_BYTES
from .direct_upload import DirectUploader, NoExtension
from .errors import PushError
from .model import Blob, Image, Manifest
from .part_sender import PartSender
from .progress import Tracker
from .references import Destination
from .resume_state import ResumeState
from .session import RegistrySession, oci_error
from .standard_upload import TooLarge, blob_exists, mount, standard_upload

# Up to this size one v2 request is cheaper, and it fits through Lambda.
SMALL_BLOB = LAMBDA_CHUNK_BYTES
MANIFEST_WAIT = 900  # seconds to keep retrying a manifest while its blobs are verified


@dataclass(frozen=True)
class PushOptions:
    parallel: int = 4
    mount_from: tuple[str, ...] = ()
    direct: bool = True  # use the extension when the registry has it


def mount_sources(options: PushOptions, image: Image) -> list[str]:
    """The repositories blobs are mounted from: --mount-from's, then the source's own."""
    return [*options.mount_from, *([image.mount_from] if image.mount_from else [])]


class Pusher:
    """Pushes one image to one destination."""

    def __init__(
        self,
        session: RegistrySession,
        dest: Destination,
        options: PushOptions,
        state: ResumeState,
        tracker: Tracker,
    ) -> None:
        self.session = session
        self.dest = dest
        self.options = options
        self.tracker = tracker
        sender = PartSender(session, dest.repository, options.parallel)
        self.direct = DirectUploader(session, sender, dest.repository, state, options.parallel)
        self.has_extension = options.direct
        self.lock = threading.Lock()

    def push(self, image: Image) -> str:
        """Push everything; returns the digest of the tagged manifest."""
        sources = mount_sources(self.options, image)
        blobs = list({b.digest: b for m in image.manifests for b in m.blobs}.values())
        pool = ThreadPoolExecutor(max_workers=self.options.parallel)
        try:
            for future in [pool.submit(self._blob, blob, sources) for blob in blobs]:
                future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        for manifest in image.manifests[:-1]:
            self._manifest(manifest, manifest.digest)
        self._manifest(image.top, self.dest.tag)
        return image.top.digest

    def _blob(self, blob: Blob, sources: list[str]) -> None:
        repository = self.dest.repository
        self.tracker.start(blob.digest, blob.size)
        if blob_exists(self.session, repository, blob.digest):
            return self.tracker.finish(blob.digest, "already there")
        for source in sources:
            if source != repository and mount(self.session, repository, blob.digest, source):
                return self.tracker.finish(blob.digest, f"mounted from {source}")
        self.tracker.finish(blob.digest, self._upload(blob))

    def _upload(self, blob: Blob) -> str:
        if self.has_extension and blob.size > SMALL_BLOB:
            try:
                return self.direct.upload(blob, self.tracker)
            except NoExtension:
                with self.lock:
                    self.has_extension = False
        try:
            standard_upload(self.session, self.dest.repository, blob, self.tracker)
        except TooLarge:
            if self.options.direct:
                raise  # the registry has no extension: its own answer is all there is
            raise PushError(
                f"blob {blob.digest} ({blob.size:,} bytes) is too large for one request to "
                f"{self.dest.host}: drop --no-direct, and soute push sends it in parts through "
                "the registry's upload extension"
            ) from None
        return "uploaded"

    def _manifest(self, manifest: Manifest, reference: str) -> None:
        path = f"/v2/{self.dest.repository}/manifests/{reference}"
        headers = {"Content-Type": manifest.media_type}
        deadline = time.monotonic() + MANIFEST_WAIT
        while True:
            response = self.session.request("PUT", path, lambda: manifest.data, headers)
            if response.status_code == 201:
                return
            retry = response.headers.get("Retry-After")
            if response.status_code != 409 or not retry or time.monotonic() > deadline:
                raise PushError(f"the manifest {reference} was refused: {oci_error(response)}")
            time.sleep(_seconds(retry))


def _seconds(retry_after: str) -> float:
    """A Retry-After value in seconds (between 0.5 and 30); HTTP dates count as 5."""
    try:
        return min(max(float(retry_after), 0.5), 30.0)
    except ValueError:
        return 5.0
