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

from ..auth.keys import SigningKey, derive_key

log = logging.getLogger("soute.auth")

CURRENT, PREVIOUS = "AWSCURRENT", "AWSPREVIOUS"


class SigningSecretMissing(Exception):
    """The secret cannot be read; the message says which and why (never its value)."""


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
        with self._lock:
            if not self._keys or self.clock() - self._loaded_at >= self.refresh:
                self._reload()
            return self._keys[0]

    def key(self, kid: str) -> SigningKey | None:
        with self._lock:
            if not self._keys or self.clock() - self._loaded_at >= self.refresh:
                self._reload()
            found = self._find(kid)
            if found is None and self.clock() - self._loaded_at >= self.recheck:
                self._reload()
                found = self._find(kid)
            return found

    def _find(self, kid: str) -> SigningKey | None:
        return next((key for key in self._keys if key.kid == kid), None)

    def _reload(self) -> None:
        try:
            current = self._version(CURRENT)
        except SigningSecretMissing:
            if not self._keys:
                raise
            # Keep signing with what we have rather than refuse every login.
            log.error("cannot reload the token signing secret; keeping the keys loaded before")
            self._loaded_at = self.clock()
            return
        keys = [current]
        previous = self._previous()
        if previous is not None and previous.kid != current.kid:
            keys.append(previous)
        self._keys = tuple(keys)
        self._loaded_at = self.clock()

    def _previous(self) -> SigningKey | None:
        try:
            return self._version(PREVIOUS)
        except SigningSecretMissing:
            return None  # never rotated

    def _version(self, stage: str) -> SigningKey:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self.client.get_secret_value(SecretId=self.secret_id, VersionStage=stage)
        except (BotoCoreError, ClientError) as error:
            raise SigningSecretMissing(
                f"cannot read {stage} of the token signing secret {self.secret_id}: {error}"
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
