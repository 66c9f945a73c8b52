"""Fixtures of the image-verb tests: `soute` run as a user runs it, and a namespace of their own
on the shared server (the reference registry is tests/conftest.py's)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.images.runner import Soute


@pytest.fixture
def soute(tmp_path: Path) -> Soute:
    return Soute(tmp_path / "home")


@pytest.fixture
def namespace() -> str:
    """A namespace no other test uses (the servers are shared by the session)."""
    return f"img{uuid.uuid4().hex[:10]}"
