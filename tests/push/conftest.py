"""Fixtures for the `soute push` tests: a `soute push` runner with private state per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.soute_push import SoutePush


@pytest.fixture
def soute_push(tmp_path: Path) -> SoutePush:
    return SoutePush(tmp_path / "client")
