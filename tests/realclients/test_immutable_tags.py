"""Tag immutability as skopeo sees it, on the suite's shared `soute serve` (embedded storage):
the admin verb writes to the server's data directory, which the server reads on every push.
(The same on the aws backend, through the Lambda front end: test_lambda.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.clients import Skopeo
from tests.support.immutable import check_pushes_over_an_immutable_tag_are_refused
from tests.support.server import RegistryServer

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


def test_skopeo_cannot_move_an_immutable_tag(
    skopeo: Skopeo, registry_server: RegistryServer, tmp_path: Path
) -> None:
    data_dir = ["--data-dir", str(registry_server.data_dir)]
    check_pushes_over_an_immutable_tag_are_refused(
        skopeo, registry_server.address, "locked-skopeo", data_dir, tmp_path
    )
