"""gunicorn's logger for `soute serve`, minus the secrets of signed part URLs.

The access log line holds the request line, query string included. The query of a part URL
(`/v2/_soute/parts/...?expires=&nonce=&signature=`) is a credential for as long as it is
valid, so for those requests every atom that carries it shows the path only.

Every record gunicorn logs (access and error log alike) has its control characters escaped
(logs.py): the class installs that itself, so it holds however gunicorn was started.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from .logs import install_log_escaping

SIGNED_PREFIX = "/v2/_soute/parts/"
_QUERY_ATOMS = ("q", "{query_string}e", "{raw_uri}e")


class RedactingLogger(Logger):
    def __init__(self, cfg: Any) -> None:
        install_log_escaping()
        super().__init__(cfg)

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        path = environ.get("PATH_INFO") or ""
        if path.startswith(SIGNED_PREFIX):
            method, protocol = environ.get("REQUEST_METHOD"), environ.get("SERVER_PROTOCOL")
            atoms["r"] = f"{method} {path} {protocol}"
            for name in _QUERY_ATOMS:
                if name in atoms:
                    atoms[name] = path if name == "{raw_uri}e" else ""
        return atoms
