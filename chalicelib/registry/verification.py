"""Where the background verification of a direct upload runs: the port the service hands a
finished upload to, and the in-process implementation (a thread) of the local front ends. The
Lambda front end invokes a second function instead (chalicelib/server/verifiers.py)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("soute.verifier")

VerifyFunction = Callable[[str, str], None]  # (repository, upload id)


class Verifier(Protocol):
    def submit(self, repository: str, upload_id: str) -> None:
        """Arrange for `DirectUploads.verify(repository, upload_id)` to run soon, elsewhere."""


class ThreadVerifier:
    """Verifies in a daemon thread of this process (soute serve, the Lambda emulator)."""

    def __init__(self, verify: VerifyFunction) -> None:
        self._verify = verify

    def submit(self, repository: str, upload_id: str) -> None:
        threading.Thread(
            target=self._run, args=(repository, upload_id), name=f"verify-{upload_id[:8]}",
            daemon=True,
        ).start()  # fmt: skip

    def _run(self, repository: str, upload_id: str) -> None:
        try:
            self._verify(repository, upload_id)
        except Exception:
            log.exception("verifying upload %s of %s failed", upload_id, repository)
