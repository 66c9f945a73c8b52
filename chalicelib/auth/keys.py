"""Token signing keys: EC P-256 (ES256), each named by a `kid` derived from its public key so
verifiers can pick the right one while keys rotate.

`cryptography` is imported inside the functions: `import app` stays fast on Lambda.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

# Names what a derived key is for: a secret reused elsewhere yields an unrelated key here.
DERIVATION_INFO = b"soute token signing key, ES256, v1"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: bytes

    # Parsed once per key, not on every token issued or checked (a PEM parse costs ~0.2 ms).
    @functools.cached_property
    def _private(self) -> Any:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        return load_pem_private_key(self.private_pem, password=None)

    @functools.cached_property
    def _public(self) -> Any:
        return self._private.public_key()

    def private_key(self) -> Any:
        return self._private

    def public_key(self) -> Any:
        return self._public


class KeyRing(Protocol):
    """Where a token service finds its keys: one signs, every one it holds verifies."""

    def signing_key(self) -> SigningKey: ...

    def key(self, kid: str) -> SigningKey | None: ...


@dataclass(frozen=True)
class StaticKeys:
    """Keys fixed for the life of the process; the first one signs."""

    keys: tuple[SigningKey, ...]

    def signing_key(self) -> SigningKey:
        return self.keys[0]

    def key(self, kid: str) -> SigningKey | None:
        return next((key for key in self.keys if key.kid == kid), None)


def key_id(public_key: Any) -> str:
    """A stable name for a public key: base32 of the SHA-256 of its DER form, 32 characters."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    der = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b32encode(hashlib.sha256(der).digest()).decode()[:32]


def from_pem(private_pem: bytes) -> SigningKey:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(private_pem, password=None)
    return SigningKey(key_id(key.public_key()), private_pem)


def generate_key() -> SigningKey:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return SigningKey(key_id(key.public_key()), pem)


def derive_key(secret: bytes) -> SigningKey:
    """The P-256 key a secret stands for, the same in every process that reads the secret.
    The AWS backend keeps only a random secret in Secrets Manager (which CloudFormation can
    generate); every Lambda instance derives the one key from it with HKDF-SHA256."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    if len(secret) < 32:
        raise ValueError("the token signing secret must hold at least 32 bytes")
    # 48 bytes reduced modulo the group order: the bias is below 2**-128.
    material = HKDF(hashes.SHA256(), 48, salt=None, info=DERIVATION_INFO).derive(secret)
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # of P-256
    scalar = int.from_bytes(material, "big") % (order - 1) + 1
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return SigningKey(key_id(key.public_key()), pem)
