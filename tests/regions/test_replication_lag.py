"""No pull fails because replication is behind: images pushed through A and pulled through B
at once, the test replicator (tests/support/replicator.py, standing in for global tables and
S3 replication, which moto lacks) copying each change 1 s after it was made. bench/regions.py
runs the same measurement with more images and other lags."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.clients import Skopeo
from tests.support.regions_measure import measure
from tests.support.replicator import Replicator
from tests.support.server import RegistryServer

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


def test_pulls_right_after_pushes_never_fail_during_replication(
    skopeo: Skopeo,
    replicator: Replicator,
    region_a: RegistryServer,
    region_b: RegistryServer,
    tmp_path: Path,
) -> None:
    measured = measure(skopeo, replicator, region_a, region_b, tmp_path, images=4, lag=1.0)
    print(measured.line())
    assert measured.failures == 0, measured.failed
    assert measured.pulls_with_fallback > 0  # the pulls did run ahead of replication
