"""The BlobStore contract (chalicelib/storage/ports.py), held on every adapter: files on disk
and S3 (moto). Uploads by appends, finished against a digest; direct uploads by parts sent to
the URLs the store hands out, completed and verified; bodies read where the store says."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from chalicelib.oci.digest import Digest
from chalicelib.storage.ports import (
    BlobRecord,
    DigestMismatch,
    IncompleteBody,
    PartDenied,
    PartsInvalid,
)

from .conftest import Blobs

MiB = 1 << 20
S3_MIN_PART = 5 * MiB  # every part but the last, on S3


def _sha256(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


def _upload_id() -> str:
    return uuid.uuid4().hex


def _append_all(blobs: Blobs, upload_id: str, pieces: list[bytes]) -> dict:
    """Append `pieces` one request each, the last one marked last; return the state."""
    state: dict = {}
    offset = 0
    for n, piece in enumerate(pieces):
        last = n == len(pieces) - 1
        written, state = blobs.store.append(
            upload_id, state, offset, io.BytesIO(piece), len(piece), last
        )
        assert written == len(piece)
        offset += written
    return state


def _finished(blobs: Blobs, pieces: list[bytes]) -> BlobRecord:
    upload_id, data = _upload_id(), b"".join(pieces)
    state = _append_all(blobs, upload_id, pieces)
    key = blobs.store.finish(upload_id, state, len(data), _sha256(data))
    blobs.store.discard(upload_id, state)  # what the registry does after finishing
    return BlobRecord(str(_sha256(data)), len(data), key)


# -- uploads by appends --------------------------------------------------------------------


def test_a_whole_upload_becomes_the_blob(blobs: Blobs) -> None:
    data = os.urandom(3000)
    blob = _finished(blobs, [data])
    assert blob.key
    assert blobs.read(blobs.store.body(blob, 0, len(data))) == data


def test_appends_in_several_requests_are_one_blob(blobs: Blobs) -> None:
    pieces = [os.urandom(1000), os.urandom(1), os.urandom(2048)]
    blob = _finished(blobs, pieces)
    assert blobs.read(blobs.store.body(blob, 0, blob.size)) == b"".join(pieces)


def test_a_body_is_read_by_ranges(blobs: Blobs) -> None:
    data = bytes(range(256)) * 8
    blob = _finished(blobs, [data[:700], data[700:]])
    assert blobs.read(blobs.store.body(blob, 100, 50)) == data[100:150]
    assert blobs.read(blobs.store.body(blob, 2000, 48)) == data[2000:]


def test_a_removed_blob_has_no_bytes_left(blobs: Blobs) -> None:
    blob = _finished(blobs, [b"gone soon"])
    assert blobs.read(blobs.store.body(blob, 0, 9)) == b"gone soon"
    blobs.store.remove(blob)
    with pytest.raises((FileNotFoundError, requests.HTTPError)):
        blobs.read(blobs.store.body(blob, 0, 9))
    blobs.store.remove(blob)  # already gone: no error


def test_an_empty_upload_is_the_empty_blob(blobs: Blobs) -> None:
    upload_id = _upload_id()
    written, state = blobs.store.append(upload_id, {}, 0, io.BytesIO(b""), 0, last=True)
    assert written == 0
    key = blobs.store.finish(upload_id, state, 0, _sha256(b""))
    assert blobs.read(blobs.store.body(BlobRecord(str(_sha256(b"")), 0, key), 0, 0)) == b""


def test_a_wrong_digest_is_refused_with_the_actual_one(blobs: Blobs) -> None:
    data, upload_id = os.urandom(500), _upload_id()
    state = _append_all(blobs, upload_id, [data[:200], data[200:]])
    claimed = _sha256(b"something else")
    with pytest.raises(DigestMismatch) as refused:
        blobs.store.finish(upload_id, state, len(data), claimed)
    assert refused.value.actual == _sha256(data)


def test_a_body_shorter_than_its_length_is_incomplete(blobs: Blobs) -> None:
    with pytest.raises(IncompleteBody):
        blobs.store.append(_upload_id(), {}, 0, io.BytesIO(b"short"), 10)


def test_a_body_of_unknown_length_is_read_to_its_end(blobs: Blobs) -> None:
    data, upload_id = os.urandom(1500), _upload_id()
    written, state = blobs.store.append(upload_id, {}, 0, io.BytesIO(data), None, last=True)
    assert written == len(data)
    key = blobs.store.finish(upload_id, state, len(data), _sha256(data))
    blob = BlobRecord(str(_sha256(data)), len(data), key)
    assert blobs.read(blobs.store.body(blob, 0, len(data))) == data


def test_a_discarded_upload_leaves_no_bytes_to_sweep(blobs: Blobs) -> None:
    upload_id = _upload_id()
    state = _append_all(blobs, upload_id, [os.urandom(100), os.urandom(100)])
    blobs.store.discard(upload_id, state)
    assert upload_id not in blobs.store.upload_ids()
    blobs.store.discard(upload_id, state)  # twice is no error


# -- direct uploads: parts -------------------------------------------------------------------


def _parts(blobs: Blobs, upload_id: str, state: dict, datas: list[bytes]) -> list[tuple[int, str]]:
    """Send the parts, the last first (a client may send them in any order)."""
    sent = {}
    for number in reversed(range(1, len(datas) + 1)):
        data = datas[number - 1]
        url = blobs.part_url(upload_id, state, number, len(data))
        sent[number] = blobs.send_part(upload_id, number, url, data)
    return sorted(sent.items())


def test_parts_are_listed_joined_and_verified(blobs: Blobs) -> None:
    upload_id = _upload_id()
    state = blobs.store.start_parts(upload_id)
    datas = [os.urandom(S3_MIN_PART), b"the last part"]
    etags = _parts(blobs, upload_id, state, datas)
    listed = blobs.store.received_parts(upload_id, state)
    assert [(p.number, p.etag, p.size) for p in listed] == [
        (n, etag, len(datas[n - 1])) for n, etag in etags
    ]
    state = blobs.store.complete_parts(upload_id, state, etags)
    data = b"".join(datas)
    key = blobs.store.verify_parts(upload_id, state, _sha256(data))
    blob = BlobRecord(str(_sha256(data)), len(data), key)
    across = S3_MIN_PART - 3  # the end of the first part and the start of the last
    assert blobs.read(blobs.store.body(blob, across, 8)) == data[across : across + 8]


def test_no_part_is_listed_before_any_is_sent(blobs: Blobs) -> None:
    upload_id = _upload_id()
    state = blobs.store.start_parts(upload_id)
    assert blobs.store.received_parts(upload_id, state) == []


def test_a_part_sent_again_replaces_the_first(blobs: Blobs) -> None:
    upload_id = _upload_id()
    state = blobs.store.start_parts(upload_id)
    first = blobs.send_part(upload_id, 1, blobs.part_url(upload_id, state, 1, 5), b"first")
    again = blobs.send_part(upload_id, 1, blobs.part_url(upload_id, state, 1, 5), b"again")
    assert first != again
    listed = blobs.store.received_parts(upload_id, state)
    assert [(p.number, p.etag, p.size) for p in listed] == [(1, again, 5)]
    state = blobs.store.complete_parts(upload_id, state, [(1, again)])
    key = blobs.store.verify_parts(upload_id, state, _sha256(b"again"))
    blob = BlobRecord(str(_sha256(b"again")), 5, key)
    assert blobs.read(blobs.store.body(blob, 0, 5)) == b"again"


def test_parts_missing_or_with_another_etag_are_invalid(blobs: Blobs) -> None:
    upload_id = _upload_id()
    state = blobs.store.start_parts(upload_id)
    etag = blobs.send_part(upload_id, 1, blobs.part_url(upload_id, state, 1, 4), b"only")
    with pytest.raises(PartsInvalid):
        blobs.store.complete_parts(upload_id, state, [(1, '"' + "0" * 32 + '"')])
    with pytest.raises(PartsInvalid):
        blobs.store.complete_parts(upload_id, state, [(1, etag), (2, etag)])
    state = blobs.store.complete_parts(upload_id, state, [(1, etag)])  # still completes
    blobs.store.verify_parts(upload_id, state, _sha256(b"only"))


def test_joined_parts_of_another_digest_are_refused(blobs: Blobs) -> None:
    upload_id = _upload_id()
    state = blobs.store.start_parts(upload_id)
    etag = blobs.send_part(upload_id, 1, blobs.part_url(upload_id, state, 1, 5), b"bytes")
    state = blobs.store.complete_parts(upload_id, state, [(1, etag)])
    with pytest.raises(DigestMismatch) as refused:
        blobs.store.verify_parts(upload_id, state, _sha256(b"other"))
    assert refused.value.actual == _sha256(b"bytes")


def test_a_tampered_part_url_is_denied_by_the_store(blobs: Blobs) -> None:
    """A store whose URLs point elsewhere (S3) denies every part sent to the registry."""
    upload_id = _upload_id()
    state = blobs.store.start_parts(upload_id)
    url = blobs.part_url(upload_id, state, 1, 5)
    query = dict(pair.split("=", 1) for pair in urlsplit(url).query.split("&"))
    for tampered in ({**query, "length": "6"}, {}):
        with pytest.raises(PartDenied):
            blobs.store.receive_part(upload_id, 1, tampered, io.BytesIO(b"bytes!"), 6)
