"""AWS calls per registry operation on the aws backend, counted with botocore event hooks,
and what a million pulls cost at public AWS prices.

    .venv/bin/python bench/aws_calls.py

Runs the one router (what every front end calls) on S3 + DynamoDB served by a local moto
server, performs each operation as a client would, and prints the S3 and DynamoDB calls it
made. Targets (issue 3): manifest GET or HEAD by tag = 1 DynamoDB read; blob HEAD = 1 read;
blob GET = 1 read and 0 S3 calls; re-pushing an image the registry has = 0 writes.
With auth on (issue 5): what a login at /token costs, and what a bearer token adds to a pull.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import socket
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from moto.server import ThreadedMotoServer

from chalicelib.api.messages import Request, Response
from chalicelib.api.router import Router
from chalicelib.auth.model import User
from chalicelib.auth.passwords import hash_password
from chalicelib.lifecycle import quotas
from chalicelib.server.backends import BackendOptions, build_auth, build_registry, open_storage
from chalicelib.storage.aws.clients import aws_clients, secrets_manager_client
from chalicelib.storage.aws.provision import ensure_bucket, ensure_table
from chalicelib.storage.aws.secrets_manager_keys import ensure_signing_secret

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

# us-east-1 list prices (USD), November 2026 public price pages.
PRICE = {
    "api_gateway_rest_request": 3.50e-6,
    "lambda_request": 0.20e-6,
    "lambda_gb_second": 0.0000166667,
    "dynamodb_read_request_unit": 0.125e-6,  # on demand; a strongly consistent read <= 4 KB
    "s3_get": 0.0004e-3,
}
LAMBDA_MEMORY_GB = 0.25
LAMBDA_MS_PER_REQUEST = 25  # measured order of a warm invocation; see docs/benchmarks.md


class Counting:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: object, **_: object) -> None:
        service = model.service_model.service_name  # type: ignore[attr-defined]
        self.calls[f"{service}.{model.name}"] += 1  # type: ignore[attr-defined]

    def summary(self) -> dict[str, int]:
        dynamo = {k: n for k, n in self.calls.items() if k.startswith("dynamodb.")}
        return {
            "dynamodb_reads": sum(n for k, n in dynamo.items() if k.split(".")[1] not in WRITES),
            "dynamodb_writes": sum(n for k, n in dynamo.items() if k.split(".")[1] in WRITES),
            "s3_calls": sum(n for k, n in self.calls.items() if k.startswith("s3.")),
            "other_calls": sum(
                n for k, n in self.calls.items() if not k.startswith(("s3.", "dynamodb."))
            ),
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Client:
    def __init__(self, router: Router) -> None:
        self.router = router

    def __call__(self, method: str, path: str, body: bytes = b"", **headers: str) -> Response:
        path, _, query = path.partition("?")
        args: dict[str, list[str]] = {}
        for pair in filter(None, query.split("&")):
            key, _, value = pair.partition("=")
            args.setdefault(key, []).append(value)
        request = Request(
            method,
            path,
            args,
            {k.lower().replace("_", "-"): v for k, v in headers.items()},
            io.BytesIO(body),
            len(body),
        )
        return self.router.handle(request)


def _push_image(client: Client, repo: str, layers: list[bytes], config: bytes) -> bytes:
    for blob in (config, *layers):
        if client("HEAD", f"/v2/{repo}/blobs/{_sha(blob)}").status == 200:
            continue
        assert client("POST", f"/v2/{repo}/blobs/uploads/?digest={_sha(blob)}", blob).status == 201
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _sha(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _sha(layer),
                    "size": len(layer),
                }
                for layer in layers
            ],
        }
    ).encode()
    reply = client("PUT", f"/v2/{repo}/manifests/latest", manifest, content_type=OCI_MANIFEST)
    assert reply.status == 201
    return manifest


def _measure(counter: Counting, action: Callable[[], object]) -> dict[str, int]:
    counter.calls.clear()
    action()
    return counter.summary()


def _push_under_quota(client: Client, layers: list[bytes]) -> bytes:
    """The push of a new image with new blobs into a namespace with a quota (issue 14): the
    manifest PUT also reads the namespace's counts and writes them in its transaction."""
    fresh = [os.urandom(len(layer)) for layer in layers]
    return _push_image(client, "limited/app", fresh, b'{"os":"linux","quota":true}')


def _chunked_upload(client: Client, repo: str, data: bytes, chunk: int) -> None:
    location = client("POST", f"/v2/{repo}/blobs/uploads/").headers["Location"]
    for start in range(0, len(data), chunk):
        piece = data[start : start + chunk]
        reply = client("PATCH", location, piece, content_range=f"{start}-{start + len(piece) - 1}")
        assert reply.status == 202
    assert client("PUT", f"{location}?digest={_sha(data)}").status == 201


def run() -> dict[str, dict[str, int]]:
    layers, config = [os.urandom(3000), os.urandom(5000)], b'{"os":"linux"}'
    counter = Counting()
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        options = BackendOptions(
            backend="aws",
            s3_bucket="bench",
            dynamodb_table="bench",
            endpoint_url=f"http://127.0.0.1:{port}",
            region="us-east-1",
        )
        clients = aws_clients(options.region, options.endpoint_url)
        secrets = secrets_manager_client(options.region, options.endpoint_url)
        ensure_bucket(clients.s3, "bench", "us-east-1")
        ensure_table(clients.dynamodb, "bench")
        ensure_signing_secret(secrets, options.signing_secret_id)
        for client in (clients.s3, clients.dynamodb, secrets):
            client.meta.events.register("before-call.*.*", counter)
        http = Client(Router(build_registry(options)))
        open_storage(options).policies().put("limited", quotas.KIND, quotas.document(10**12))
        layer = _sha(layers[0])
        big = os.urandom(20 << 20)
        return {
            "push of a new 2-layer image": _measure(
                counter, lambda: _push_image(http, "bench/app", layers, config)
            ),
            "manifest GET by tag": _measure(
                counter, lambda: http("GET", "/v2/bench/app/manifests/latest")
            ),
            "manifest HEAD by tag": _measure(
                counter, lambda: http("HEAD", "/v2/bench/app/manifests/latest")
            ),
            "tags/list (first page)": _measure(
                counter, lambda: http("GET", "/v2/bench/app/tags/list")
            ),
            "blob HEAD": _measure(counter, lambda: http("HEAD", f"/v2/bench/app/blobs/{layer}")),
            "blob GET (307 to S3)": _measure(
                counter, lambda: http("GET", f"/v2/bench/app/blobs/{layer}")
            ),
            "re-push of the same image": _measure(
                counter, lambda: _push_image(http, "bench/app", layers, config)
            ),
            "cross-repository mount": _measure(
                counter,
                lambda: http(
                    "POST", f"/v2/bench/other/blobs/uploads/?mount={layer}&from=bench/app"
                ),
            ),
            "20 MB blob in 4 MiB chunks": _measure(
                counter, lambda: _chunked_upload(http, "bench/big", big, 4 << 20)
            ),
            "push of a new 2-layer image, namespace with a quota": _measure(
                counter, lambda: _push_under_quota(http, layers)
            ),
            **_auth_operations(counter, options),
        }
    finally:
        server.stop()


def _auth_operations(counter: Counting, options: BackendOptions) -> dict[str, dict[str, int]]:
    """The same storage with auth on, as deployed; a user `dev` who owns `dev/...`."""
    auth_options = replace(options, auth=True)
    context = build_auth(auth_options)
    assert context is not None
    context.store.add_user(User("dev", hash_password("pw")))
    http = Client(Router(build_registry(auth_options), context))
    basic = "Basic " + base64.b64encode(b"dev:pw").decode()
    scope = "repository:dev/app:pull,push"
    reply = http("GET", f"/token?scope={scope}", authorization=basic)
    token = json.loads(reply.body)["token"]
    _push_image(BearerClient(http, token), "dev/app", [os.urandom(3000)], b'{"os":"linux"}')
    bearer = f"Bearer {token}"
    results = {
        "login at /token (password, 1 scope)": _measure(
            counter, lambda: http("GET", f"/token?scope={scope}", authorization=basic)
        ),
        "manifest GET by tag with a bearer token": _measure(
            counter, lambda: http("GET", "/v2/dev/app/manifests/latest", authorization=bearer)
        ),
        "failed login at /token": _measure(
            counter,
            lambda: http(
                "GET", "/token", authorization="Basic " + base64.b64encode(b"dev:x").decode()
            ),
        ),
    }
    return results


class BearerClient(Client):
    def __init__(self, inner: Client, token: str) -> None:
        super().__init__(inner.router)
        self.token = token

    def __call__(self, method: str, path: str, body: bytes = b"", **headers: str) -> Response:
        return super().__call__(method, path, body, authorization=f"Bearer {self.token}", **headers)


def pull_cost(layers: int, reads_per_request: int = 1) -> float:
    """USD per million pulls of an image by tag: GET /v2/, the manifest, config and layers."""
    requests = 2 + 1 + layers  # /v2/, manifest, config, layers (each blob GET is one request)
    lambda_cost = requests * (
        PRICE["lambda_request"]
        + PRICE["lambda_gb_second"] * LAMBDA_MEMORY_GB * LAMBDA_MS_PER_REQUEST / 1000
    )
    gateway = requests * PRICE["api_gateway_rest_request"]
    dynamodb = (requests - 1) * reads_per_request * PRICE["dynamodb_read_request_unit"]
    s3 = (1 + layers) * PRICE["s3_get"]
    return (lambda_cost + gateway + dynamodb + s3) * 1e6


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench")):
        os.environ.setdefault(name, value)
    results = run()
    width = max(map(len, results))
    print(f"{'operation':<{width}}  dynamodb reads  dynamodb writes  s3 calls  other")
    for name, counts in results.items():
        print(
            f"{name:<{width}}  {counts['dynamodb_reads']:>14}  "
            f"{counts['dynamodb_writes']:>15}  {counts['s3_calls']:>8}  {counts['other_calls']:>5}"
        )
    for layers in (3, 10):
        print(
            f"cost per million pulls of a {layers}-layer image by tag, excluding data "
            f"transfer: ${pull_cost(layers):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
