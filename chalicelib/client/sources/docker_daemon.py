"""`docker-daemon:IMAGE` (or a bare image name): an image in the local Docker engine.

The Engine API's `GET /images/{name}/get` streams what `docker save` writes; it goes to a spool
file on disk in 1 MiB pieces, and is then read as a docker-archive.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from pathlib import Path
from urllib.parse import quote, urlsplit

from ..errors import UsageError
from ..model import Image
from .docker_archive import open_docker_archive

DEFAULT_SOCKET = "/var/run/docker.sock"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def _engine() -> tuple[http.client.HTTPConnection, str]:
    host = os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
    parts = urlsplit(host)
    if parts.scheme == "unix":
        return _UnixConnection(parts.path, timeout=600), host
    if parts.scheme in ("tcp", "http"):
        return http.client.HTTPConnection(parts.netloc, timeout=600), host
    raise UsageError(f"DOCKER_HOST={host}: only unix:// and tcp:// (no TLS) engines are supported")


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message"))
    except (ValueError, AttributeError):
        return body[:300].decode(errors="replace")


def save_image(name: str, target: Path) -> None:
    """Write `docker save NAME` to `target`, streaming."""
    connection, host = _engine()
    try:
        connection.request("GET", f"/images/{quote(name, safe='/:@')}/get")
        response = connection.getresponse()
        if response.status != 200:
            raise UsageError(
                f"the Docker engine at {host} cannot export {name!r}: {_message(response.read())}"
            )
        with open(target, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except OSError as exc:
        raise UsageError(
            f"cannot talk to the Docker engine at {host} ({exc}); is dockerd running, and may "
            "this user use its socket? Set DOCKER_HOST to choose another engine"
        ) from exc
    finally:
        connection.close()


def open_docker_daemon(name: str, compression: str, spool: Path) -> Image:
    """The engine's image `name`, pushed as `docker push` would push it."""
    archive = spool / "docker-save.tar"
    save_image(name, archive)
    image = open_docker_archive(str(archive), compression, spool)
    image.cleanups.append(lambda: archive.unlink(missing_ok=True))
    return image
