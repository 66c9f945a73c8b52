"""The gunicorn thread worker of `soute serve`, with two registry-specific behaviours.

1. Non-HTTP bytes are refused at once. skopeo, podman and containerd try HTTPS first; a
   plain-HTTP server that waits for a request line that never comes makes them wait 10 s on
   every command before they fall back to HTTP. A connection whose first byte cannot start an
   HTTP method gets a 400 and is closed right away.
2. Requests gunicorn itself cannot parse (a request line over the limit, bad headers, a broken
   chunked body) are answered with an OCI error body, as registry clients expect, rather than
   gunicorn's HTML page.
"""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker


def oci_error_bytes(status: int, reason: str, message: str, code: str = "UNSUPPORTED") -> bytes:
    body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Docker-Distribution-API-Version: registry/2.0\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


_REFUSAL = oci_error_bytes(
    400, "Bad Request", "this port speaks plain HTTP; TLS and other protocols are refused"
)


def _write_oci_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    _answer_and_close(sock, oci_error_bytes(status_int, reason, f"{reason}: {mesg}"))


# gunicorn's workers report parse errors through this function (see Worker.handle_error).
util.write_error = _write_oci_error


def _starts_like_http(sock: socket.socket) -> bool:
    try:
        first = sock.recv(1, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return True
    except OSError:
        return True  # let the worker see and log the socket error itself
    return not first or first.isalpha()


def _answer_and_close(sock: socket.socket, answer: bytes) -> None:
    """Send `answer`, then read what the peer still sends before closing: closing with unread
    bytes would reset the connection and could destroy the answer before it is read."""
    with contextlib.suppress(OSError):
        sock.setblocking(True)
        sock.sendall(answer)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(1.0)
        for _ in range(64):
            if not sock.recv(65536):
                break


class ProbeRefusingWorker(ThreadWorker):
    def handle(self, conn: Any) -> tuple[bool, Any]:
        # Only a connection's first bytes are checked: on a kept-alive connection the next
        # bytes may be the unread rest of an earlier request body, which gunicorn discards.
        first_request = not getattr(conn, "soute_seen", False)
        conn.soute_seen = True
        if first_request and not self.cfg.is_ssl and not _starts_like_http(conn.sock):
            _answer_and_close(conn.sock, _REFUSAL)
            return (False, conn)
        return super().handle(conn)
