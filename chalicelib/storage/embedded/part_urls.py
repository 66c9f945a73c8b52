"""Signed part URLs of the embedded backend: the registry itself receives the parts of a direct
upload, at `PUT /v2/_soute/parts/<upload id>/<number>?expires=&nonce=&signature=`.

The signature is HMAC-SHA256, under a key generated once into the data directory (mode 0600),
over the method, upload id, part number, length, expiry and nonce: a URL cannot be moved to
another upload, part or method, nor have its expiry or its length changed, and a request whose
Content-Length is not the signed length is refused before its body is read (as S3 refuses a
presigned UploadPart whose signed content-length differs). Each nonce works once (recorded in SQLite
until the URL expires), so a URL seen in a log or a proxy cannot be replayed.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from urllib.parse import urlencode

from ..ports import PartDenied
from .secret_files import read_or_create
from .sqlite_database import SqliteDatabase

KEY_FILE = "part-url.key"
NONCE_DB = "part-nonces.sqlite"
PARTS_PATH = "/v2/_soute/parts"


class PartUrlSigner:
    def __init__(self, data_dir: str) -> None:
        path = os.path.join(data_dir, KEY_FILE)
        self._key = read_or_create(path, lambda: secrets.token_bytes(32))
        self._nonces = SqliteDatabase(
            os.path.join(data_dir, NONCE_DB),
            "CREATE TABLE IF NOT EXISTS used_nonces (nonce TEXT PRIMARY KEY, expires INTEGER)",
        )
        self._db = self._nonces.connection

    def _signature(self, upload_id: str, number: int, size: int, expires: int, nonce: str) -> str:
        message = f"PUT\n{upload_id}\n{number}\n{size}\n{expires}\n{nonce}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, base_url: str, upload_id: str, number: int, expires_at: int, size: int) -> str:
        nonce = secrets.token_hex(16)
        query = urlencode(
            {
                "length": size,
                "expires": expires_at,
                "nonce": nonce,
                "signature": self._signature(upload_id, number, size, expires_at, nonce),
            }
        )
        return f"{base_url.rstrip('/')}{PARTS_PATH}/{upload_id}/{number}?{query}"

    def check(
        self, method: str, upload_id: str, number: int, query: dict[str, str], length: int | None
    ) -> None:
        """Raise PartDenied unless the URL is genuine, unexpired, used for the first time and
        sent `length` (the request's Content-Length) bytes as signed; then the nonce counts as
        used."""
        fields = ("length", "expires", "nonce", "signature")
        size, expires, nonce, signature = (query.get(k, "") for k in fields)
        if method != "PUT" or not (size.isdigit() and expires.isdigit() and nonce and signature):
            raise PartDenied("the part URL is incomplete; ask the registry for a new one")
        expected = self._signature(upload_id, number, int(size), int(expires), nonce)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise PartDenied("the part URL's signature is not valid")
        if length != int(size):
            raise PartDenied(
                f"the part URL is for exactly {size} bytes (Content-Length: {size}); this"
                f" request sends {'an unknown length' if length is None else length}"
            )
        if int(expires) < time.time():
            raise PartDenied("the part URL has expired; ask the registry for a new one")
        self._use_nonce(nonce, int(expires))

    def _use_nonce(self, nonce: str, expires: int) -> None:
        db = self._db()
        try:
            db.execute("INSERT INTO used_nonces (nonce, expires) VALUES (?, ?)", (nonce, expires))
        except sqlite3.IntegrityError:
            raise PartDenied(
                "the part URL was used already; ask the registry for a new one"
            ) from None
        # Expired nonces need no memory: their URLs fail on the expiry check.
        with contextlib.suppress(sqlite3.OperationalError):
            db.execute("DELETE FROM used_nonces WHERE expires < ?", (int(time.time()) - 60,))
