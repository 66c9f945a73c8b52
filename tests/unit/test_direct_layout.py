"""Pure parts of direct uploads: the part layout, and the registry's own address for part URLs."""

from __future__ import annotations

import io

import pytest

from chalicelib.registry.direct_uploads import MAX_PARTS, MiB, part_layout
from chalicelib.server.chalice_routes import to_request as chalice_request
from chalicelib.server.wsgi import to_request as wsgi_request


@pytest.mark.parametrize(
    ("size", "part_size", "part_count"),
    [
        (1, 8 * MiB, 1),
        (8 * MiB, 8 * MiB, 1),
        (8 * MiB + 1, 8 * MiB, 2),
        (11 * MiB, 8 * MiB, 2),
        (80_000 * MiB, 8 * MiB, 10_000),  # exactly 10,000 parts of the minimum
        (80_000 * MiB + 1, 9 * MiB, 8889),  # one byte more: the next whole MiB
        (1 << 40, 105 * MiB, 9987),  # 1 TiB
    ],
)
def test_part_layout(size: int, part_size: int, part_count: int) -> None:
    assert part_layout(size) == (part_size, part_count)
    assert part_size % MiB == 0 and part_count <= MAX_PARTS
    assert (part_count - 1) * part_size < size <= part_count * part_size


def test_base_url_follows_the_wsgi_scheme_and_host() -> None:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/v2/_soute/uploads",
        "HTTP_HOST": "registry.example:8443",
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
    }
    assert wsgi_request(environ).base_url() == "https://registry.example:8443"


def test_base_url_behind_api_gateway() -> None:
    event = {
        "httpMethod": "POST",
        "resource": "/v2/_soute/uploads",
        "headers": {"Host": "registry.example", "X-Forwarded-Proto": "https"},
    }
    assert chalice_request(event, b"").base_url() == "https://registry.example"
