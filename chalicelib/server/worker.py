"""A gunicorn thread worker that refuses non-HTTP bytes at once.

skopeo, podman and containerd try HTTPS first. A plain-HTTP server that waits for a request
line that never comes makes them wait 10 s on every command before they fall back to HTTP, so
a connection whose first byte cannot start an HTTP method gets a 400 and is closed right away.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

_REFUSAL = (
    b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 45\r\n\r\nthis port speaks plain HTTP, not TLS or other"
)


def _starts_like_http(sock: socket.socket) -> bool:
    try:
        first = sock.recv(1, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return True
    except OSError:
        return True  # let the worker see and log the socket error itself
    return not first or first.isalpha()


def _refuse(sock: socket.socket) -> None:
    """Answer 400, then read what the peer still sends before closing: closing with unread
    bytes would reset the connection and could destroy the answer before it is read."""
    with contextlib.suppress(OSError):
        sock.sendall(_REFUSAL)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(1.0)
        for _ in range(64):
            if not sock.recv(65536):
                break


class ProbeRefusingWorker(ThreadWorker):
    def handle(self, conn: Any) -> tuple[bool, Any]:
        if not self.cfg.is_ssl and not _starts_like_http(conn.sock):
            _refuse(conn.sock)
            return (False, conn)
        return super().handle(conn)
