"""Token signing keys on the AWS backend: derived from a Secrets Manager secret (see
`derive_key`). The AWSCURRENT version signs; AWSCURRENT and AWSPREVIOUS verify, so tokens signed
just before a rotation stay valid for their few minutes.

Each process reads the secret when first asked, again every `refresh` seconds, and again (at
most once per `recheck` seconds) when a token names a key it does not hold: an instance started
before a rotation learns the new key from the first token signed with it, and a stream of
made-up key ids costs at most one GetSecretValue per `recheck`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ...auth.keys import SigningKey, derive_key

log = logging.getLogger("soute.auth")

CURRENT, PREVIOUS = "AWSCURRENT", "AWSPREVIOUS"


class SigningSecretMissing(Exception):
    """The secret cannot be read; the message says which and why (never its value)."""

    def __init__(self, message: str, absent: bool = False) -> None:
        super().__init__(message)
        self.absent = absent  # no such secret or version, as opposed to denied or unreachable


class SecretsManagerKeys:
    def __init__(
        self,
        client: Any,
        secret_id: str,
        refresh: float = 900.0,
        recheck: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.secret_id = secret_id
        self.refresh = refresh
        self.recheck = recheck
        self.clock = clock
        self._keys: tuple[SigningKey, ...] = ()
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def signing_key(self) -> SigningKey:
        if self._stale(self.refresh):
            self._reload()
        return self._keys[0]

    def key(self, kid: str) -> SigningKey | None:
        if self._stale(self.refresh):
            self._reload()
        found = self._find(kid)
        if found is None and self._stale(self.recheck):
            self._reload()
            found = self._find(kid)
        return found

    def _stale(self, age: float) -> bool:
        return not self._keys or self.clock() - self._loaded_at >= age

    def _find(self, kid: str) -> SigningKey | None:
        return next((key for key in self._keys if key.kid == kid), None)

    def _reload(self) -> None:
        # Secrets Manager is asked outside the lock: a slow answer must not stall every other
        # thread's tokens. At worst two threads read it at once; the lock keeps the swap whole.
        try:
            keys = self._read()
        except SigningSecretMissing:
            with self._lock:
                if not self._keys:
                    raise
                # Keep signing with what we have rather than refuse every login.
                log.error("cannot reload the token signing secret; keeping the keys loaded")
                self._loaded_at = self.clock()
            return
        with self._lock:
            self._keys = keys
            self._loaded_at = self.clock()

    def _read(self) -> tuple[SigningKey, ...]:
        current = self._version(CURRENT)
        try:
            previous = self._version(PREVIOUS)
        except SigningSecretMissing as error:
            if not error.absent:
                raise  # denied or unreachable: keep the keys loaded rather than drop one
            return (current,)  # never rotated: there is no previous version
        return (current,) if previous.kid == current.kid else (current, previous)

    def _version(self, stage: str) -> SigningKey:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self.client.get_secret_value(SecretId=self.secret_id, VersionStage=stage)
        except (BotoCoreError, ClientError) as error:
            code = error.response["Error"]["Code"] if isinstance(error, ClientError) else ""
            raise SigningSecretMissing(
                f"cannot read {stage} of the token signing secret {self.secret_id}: {error}",
                absent=code == "ResourceNotFoundException",
            ) from None
        value = reply.get("SecretString")
        secret = value.encode() if value is not None else reply.get("SecretBinary", b"")
        try:
            return derive_key(secret)
        except ValueError as error:
            raise SigningSecretMissing(f"{self.secret_id} ({stage}): {error}") from None


def ensure_signing_secret(client: Any, secret_id: str) -> bool:
    """Create the secret with 64 random characters unless it exists (`soute aws init`, for
    emulators and `chalice deploy`; the packaged template generates its own); True if new."""
    import secrets

    try:
        client.describe_secret(SecretId=secret_id)
        return False
    except client.exceptions.ResourceNotFoundException:
        client.create_secret(
            Name=secret_id,
            Description="Soute: the secret its token signing key is derived from",
            SecretString=secrets.token_urlsafe(48),
        )
        return True
