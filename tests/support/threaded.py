"""Serve HTTP from a thread of the test process, on a free loopback port."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.server import HTTPServer

from werkzeug.serving import make_server


@contextmanager
def serving(server: HTTPServer) -> Iterator[str]:
    """Run `server` (bound to a loopback port) in a daemon thread; yield its address,
    `127.0.0.1:PORT`; shut it down and close it afterwards."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def serving_wsgi(app: Callable[..., Iterable[bytes]]) -> Iterator[str]:
    """Serve the WSGI `app` (a thread per request) on a free loopback port; yield its
    address, `127.0.0.1:PORT`."""
    with serving(make_server("127.0.0.1", 0, app, threaded=True)) as address:
        yield address
