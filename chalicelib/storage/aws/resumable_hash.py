"""sha256 and sha512 whose running state can be saved between requests.

An upload through Lambda arrives over many requests, each in a fresh invocation; to verify
the digest at the end without reading the whole object back from S3, the hash state must
travel in the upload session. `hashlib` objects cannot be serialised, so this calls the
OpenSSL library that Python's own hashlib uses (libcrypto), whose SHA256_CTX and SHA512_CTX are
plain structs: their bytes are the state.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import functools
import hashlib

# sizeof(SHA256_CTX) and sizeof(SHA512_CTX) in OpenSSL 1.1 and 3.x.
_CONTEXT_SIZE = {"sha256": 112, "sha512": 216}
_DIGEST_SIZE = {"sha256": 32, "sha512": 64}
_PREFIX = {"sha256": "SHA256", "sha512": "SHA512"}


@functools.cache
def _libcrypto() -> ctypes.CDLL | None:
    for name in ("libcrypto.so.3", "libcrypto.so.1.1", ctypes.util.find_library("crypto")):
        if not name:
            continue
        try:
            library = ctypes.CDLL(name)
            library.SHA256_Init, library.SHA512_Update  # noqa: B018 - present in this build
        except (OSError, AttributeError):
            continue
        return library
    return None


def available() -> bool:
    """Whether states can be saved here; without it, callers hash the stored bytes instead."""
    library = _libcrypto()
    if library is None:
        return False
    probe = ResumableHash("sha256")
    probe.update(b"abc")
    return probe.hexdigest() == hashlib.sha256(b"abc").hexdigest()


class ResumableHash:
    def __init__(self, algorithm: str, state: str | None = None) -> None:
        library = _libcrypto()
        if library is None or algorithm not in _CONTEXT_SIZE:
            raise RuntimeError(f"no resumable {algorithm} on this machine")
        self.algorithm = algorithm
        self._functions = {
            step: getattr(library, f"{_PREFIX[algorithm]}_{step}")
            for step in ("Init", "Update", "Final")
        }
        size = _CONTEXT_SIZE[algorithm]
        if state is None:
            self._context = ctypes.create_string_buffer(size)
            self._functions["Init"](self._context)
        else:
            raw = base64.b64decode(state)
            if len(raw) != size:
                raise ValueError("saved hash state has the wrong size")
            self._context = ctypes.create_string_buffer(raw, size)

    def update(self, data: bytes | bytearray) -> None:
        # bytes go to C as they are; a bytearray is shared, not copied.
        buffer = (
            (ctypes.c_char * len(data)).from_buffer(data) if isinstance(data, bytearray) else data
        )
        self._functions["Update"](self._context, buffer, ctypes.c_size_t(len(data)))

    def state(self) -> str:
        return base64.b64encode(self._context.raw).decode()

    def hexdigest(self) -> str:
        copy = ctypes.create_string_buffer(self._context.raw, len(self._context))
        out = ctypes.create_string_buffer(_DIGEST_SIZE[self.algorithm])
        self._functions["Final"](out, copy)
        return out.raw.hex()
