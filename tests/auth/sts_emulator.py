"""An STS emulator for AWS-login tests: moto's STS app on its own loopback port, recording every
request it answers.

The suite's shared moto server cannot serve a presigned GetCallerIdentity: it picks the service
from the Authorization header, which a presigned GET lacks, and hands the request to S3. moto's
STS app also reads the caller's access key only from that header, so a small shim copies the
presigned URL's X-Amz-Credential into one. moto checks no signature: that a URL minted for one
registry fails at another is STS's signature check; here the binding is tested only as "the
header is signed and sent".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import create_backend_app

from tests.support.moto import use_fake_credentials
from tests.support.threaded import serving_wsgi


@dataclass
class StsEmulator:
    endpoint: str
    hits: list[dict[str, Any]] = field(default_factory=list)  # query and headers of each GET

    def presigned_hits(self) -> list[dict[str, Any]]:
        return [hit for hit in self.hits if "X-Amz-Signature" in hit["query"]]


def _shim(app: Callable[..., Any], hits: list[dict[str, Any]]) -> Callable[..., Any]:
    def call(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k[:5] == "HTTP_"
        }
        hits.append({"query": query, "headers": headers})
        if "HTTP_AUTHORIZATION" not in environ and "X-Amz-Credential" in query:
            credential = query["X-Amz-Credential"]
            environ["HTTP_AUTHORIZATION"] = (
                f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=0"
            )
        return app(environ, start_response)

    return call


@contextmanager
def sts_emulator() -> Iterator[StsEmulator]:
    use_fake_credentials()
    hits: list[dict[str, Any]] = []
    with serving_wsgi(_shim(create_backend_app("sts"), hits)) as address:
        yield StsEmulator(f"http://{address}", hits)
