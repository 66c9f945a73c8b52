"""`soute push --compress` on a layer whose file ends early: an error, not an endless loop."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.client.errors import UsageError
from chalicelib.client.mediatypes import DOCKER_LAYER_TAR
from chalicelib.client.model import Blob, FileRange
from chalicelib.client.sources.compress import gzip_layer


@pytest.mark.timeout(20)
def test_a_truncated_layer_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "layer.tar"
    path.write_bytes(b"x" * 1000)
    layer = Blob("sha256:" + "0" * 64, 5000, DOCKER_LAYER_TAR, FileRange(path, 0, 5000))
    with pytest.raises(UsageError, match="truncated"):
        gzip_layer(layer, tmp_path)


def test_a_whole_layer_is_compressed_the_same_every_time(tmp_path: Path) -> None:
    path = tmp_path / "layer.tar"
    path.write_bytes(bytes(range(256)) * 5000)
    layer = Blob(
        "sha256:" + "1" * 64,
        path.stat().st_size,
        DOCKER_LAYER_TAR,
        FileRange(path, 0, path.stat().st_size),
    )
    first, again = gzip_layer(layer, tmp_path), gzip_layer(layer, tmp_path)
    assert first.digest == again.digest and first.size == again.size < layer.size
