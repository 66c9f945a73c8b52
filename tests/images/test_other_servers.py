"""Servers that are not full registries: one without a catalog (many hosted registries keep it
to admins, or have none), and a web server that is no registry at all."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from tests.images.runner import Soute
from tests.support.threaded import serving_wsgi


def _registry_without_catalog(environ: dict[str, Any], start: Any) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/v2/":
        start("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]
    error = {"errors": [{"code": "UNSUPPORTED", "message": "no catalog here"}]}
    start("404 Not Found", [("Content-Type", "application/json")])
    return [json.dumps(error).encode()]


def _web_server(environ: dict[str, Any], start: Any) -> Iterable[bytes]:
    start("404 Not Found", [("Content-Type", "text/html")])
    return [b"<html>nothing here</html>"]


def test_ls_of_a_registry_without_a_catalog_says_what_works(soute: Soute) -> None:
    with serving_wsgi(_registry_without_catalog) as address:
        message = soute.fails(1, "ls", address)
    assert "does not list its repositories" in message and f"soute tags {address}/" in message


def test_a_server_that_is_no_registry(soute: Soute) -> None:
    with serving_wsgi(_web_server) as address:
        message = soute.fails(1, "inspect", f"{address}/app:v1")
    assert "is it a registry?" in message
