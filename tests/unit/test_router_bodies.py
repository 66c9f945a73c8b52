"""A request body the front end cannot read whole is the client's fault: 400, never a 500."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.api.messages import Request
from chalicelib.api.router import Router
from chalicelib.auth.model import User
from chalicelib.auth.passwords import hash_password
from chalicelib.server.backends import embedded_auth, embedded_registry
from chalicelib.storage.ports import IncompleteBody
from tests.contract.client import RouterClient
from tests.support.token_client import TokenClient


class CutOff:
    """What the WSGI front end hands over when a chunked body breaks off."""

    def read(self, size: int = -1) -> bytes:
        raise IncompleteBody("request body is malformed: chunk size missing")


@pytest.mark.parametrize(
    ("auth", "path"),
    [
        (False, "/v2/_soute/uploads"),  # a JSON body of the upload extension
        (True, "/token"),  # the OAuth2 form
    ],
)
def test_a_cut_off_body_is_400(tmp_path: Path, auth: bool, path: str) -> None:
    context = embedded_auth(str(tmp_path)) if auth else None
    router = Router(embedded_registry(str(tmp_path)), context)
    request = Request(
        "POST",
        path,
        query={"repository": ["a/b"]},
        headers={"content-type": "application/json"},
        body=CutOff(),
    )
    reply = router.handle(request)
    assert reply.status == 400
    assert b"chunk size missing" in reply.body


def test_with_auth_a_complete_naming_thousands_of_parts_reaches_its_handler(
    tmp_path: Path,
) -> None:
    """A `complete` of ~1,300 parts (an ~10 GiB blob) is over 64 KiB: it was refused
    NAME_INVALID when the gate read the repository from the body."""
    context = embedded_auth(str(tmp_path))
    context.store.add_user(User("root", hash_password("pw"), admin=True))
    client = TokenClient(
        RouterClient(Router(embedded_registry(str(tmp_path)), context)), "root", "pw"
    )
    parts = [{"number": n, "etag": f'"{n:032x}"'} for n in range(1, 1300)]
    body = json.dumps({"repository": "root/big", "parts": parts}).encode()
    assert len(body) > 64 * 1024
    reply = client.request(
        "POST",
        "/v2/_soute/uploads/no-such-upload/complete",
        params={"repository": "root/big"},
        headers={"Content-Type": "application/json"},
        data=body,
    )
    assert reply.error_code() == "BLOB_UPLOAD_UNKNOWN", reply.body  # the handler's answer
