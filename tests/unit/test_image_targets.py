"""The names the image verbs take: what is a host, a repository, a tag or a digest."""

from __future__ import annotations

import pytest

from chalicelib.client.errors import UsageError
from chalicelib.client.images.listing import in_namespace
from chalicelib.client.images.render import plain_table
from chalicelib.client.images.targets import parse_reference, parse_registry, parse_repository
from chalicelib.oci.sizes import human_size

DIGEST = "sha256:" + "ab" * 32


def test_references() -> None:
    ref = parse_reference("127.0.0.1:5000/team/app")
    assert (ref.repository.host, ref.repository.name, ref.reference) == (
        "127.0.0.1:5000",
        "team/app",
        "latest",
    )
    assert str(parse_reference("localhost/app:1.0")) == "localhost/app:1.0"
    by_digest = parse_reference(f"registry.example.com/a/b@{DIGEST}")
    assert by_digest.by_digest and str(by_digest) == f"registry.example.com/a/b@{DIGEST}"
    assert str(parse_reference("[::1]:5000/app:v1")) == "[::1]:5000/app:v1"


@pytest.mark.parametrize(
    "text",
    [
        "app:v1",
        "library/app",
        "127.0.0.1:99999/app",
        "127.0.0.1:0/app",
        "a..b/app",
        "host_name.example/app",
        "127.0.0.1:5000/App",
        "127.0.0.1:5000/app:",
        "127.0.0.1:5000/app@sha256:12",
        "127.0.0.1:5000/@" + DIGEST,
    ],
)
def test_malformed_references(text: str) -> None:
    with pytest.raises(UsageError):
        parse_reference(text)


def test_rm_needs_a_tag_or_a_digest() -> None:
    with pytest.raises(UsageError, match="name the tag"):
        parse_reference("127.0.0.1:5000/app", default_tag=None)


def test_registries_and_repositories() -> None:
    assert parse_registry("127.0.0.1:5000") == ("127.0.0.1:5000", None)
    assert parse_registry("127.0.0.1:5000/team/") == ("127.0.0.1:5000", "team")
    assert str(parse_repository("127.0.0.1:5000/team/app")) == "127.0.0.1:5000/team/app"
    for text in ("127.0.0.1:5000/team/app:v1", f"127.0.0.1:5000/app@{DIGEST}", "127.0.0.1"):
        with pytest.raises(UsageError):
            parse_repository(text)


def test_a_namespace_is_a_whole_component() -> None:
    assert in_namespace("team", "team") and in_namespace("team/app", "team")
    assert not in_namespace("team-b/app", "team") and not in_namespace("teams", "team")
    assert in_namespace("anything", None)


def test_sizes_and_columns() -> None:
    assert [human_size(n) for n in (0, 999, 1000, 65812, 31_500_000, 1_200_000_000)] == [
        "0 B",
        "999 B",
        "1.00 kB",
        "65.8 kB",
        "31.5 MB",
        "1.20 GB",
    ]
    assert plain_table(["A", "BB"], [["long", "x"], ["s", "y"]], 2) == [
        "  A     BB",
        "  long  x",
        "  s     y",
    ]
