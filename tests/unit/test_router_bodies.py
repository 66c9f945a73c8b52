"""A request body the front end cannot read whole is the client's fault: 400, never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.api.messages import Request
from chalicelib.api.router import Router
from chalicelib.auth.context import embedded_auth
from chalicelib.server.backends import embedded_registry
from chalicelib.storage.ports import IncompleteBody


class CutOff:
    """What the WSGI front end hands over when a chunked body breaks off."""

    def read(self, size: int = -1) -> bytes:
        raise IncompleteBody("request body is malformed: chunk size missing")


@pytest.mark.parametrize(
    ("auth", "path"),
    [
        (False, "/v2/_soute/uploads"),  # a JSON body of the upload extension
        (True, "/token"),  # the OAuth2 form
        (True, "/v2/_soute/uploads"),  # read by the gate for the repository name
    ],
)
def test_a_cut_off_body_is_400(tmp_path: Path, auth: bool, path: str) -> None:
    context = embedded_auth(str(tmp_path)) if auth else None
    router = Router(embedded_registry(str(tmp_path)), context)
    request = Request("POST", path, headers={"content-type": "application/json"}, body=CutOff())
    reply = router.handle(request)
    assert reply.status == 400
    assert b"chunk size missing" in reply.body
