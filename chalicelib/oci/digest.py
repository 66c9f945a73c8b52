"""Content digests: parsing, validation and hashing (sha256 and sha512)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .errors import OCIError

# Grammar from the OCI image-spec: algorithm ":" encoded. Always fullmatch: `$` with `match`
# would accept a final newline.
_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
HEX_LENGTH = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[a-f0-9]+")


@dataclass(frozen=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)


def parse_digest(value: str) -> Digest:
    """Parse `value` or raise DIGEST_INVALID saying what is wrong with it."""
    if not value or not _GRAMMAR.fullmatch(value):
        raise OCIError("DIGEST_INVALID", f"{value!r} is not a digest of the form algorithm:hex")
    algorithm, encoded = value.split(":", 1)
    if algorithm not in HEX_LENGTH:
        raise OCIError(
            "DIGEST_INVALID",
            f"digest algorithm {algorithm!r} is not supported; use sha256 or sha512",
        )
    if len(encoded) != HEX_LENGTH[algorithm] or not _HEX.fullmatch(encoded):
        raise OCIError(
            "DIGEST_INVALID",
            f"{algorithm} digest must be {HEX_LENGTH[algorithm]} lowercase hex characters",
        )
    return Digest(algorithm, encoded)


def is_digest(value: str) -> bool:
    return ":" in value


def digest_of(data: bytes, algorithm: str = "sha256") -> Digest:
    return Digest(algorithm, hashlib.new(algorithm, data).hexdigest())
