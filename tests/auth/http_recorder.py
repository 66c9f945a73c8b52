"""A loopback HTTP server that answers every request with one status (and Location) and
records the paths it was asked for: proof of which requests were made, and which were not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.threaded import serving


@dataclass
class Recorder:
    url: str = ""
    hits: list[str] = field(default_factory=list)


@contextmanager
def recording_server(status: int, location: str = "") -> Iterator[Recorder]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            recorder.hits.append(self.path)
            self.send_response(status)
            if location:
                self.send_header("Location", location + "/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as address:
        recorder.url = f"http://{address}"
        yield recorder
