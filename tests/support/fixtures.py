"""Helpers for fixtures that start tools and daemons: fail (never skip) with a readable message."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from .procs import ToolMissing

T = TypeVar("T")


def setup_or_fail(what: str, start: Callable[[], T]) -> T:
    """Run a fixture's setup; turn a missing tool or a daemon that won't start into a failure
    with a readable message (no traceback), never a skip."""
    try:
        return start()
    except (ToolMissing, RuntimeError) as exc:
        message = f"{what}: {exc}"
    pytest.fail(message, pytrace=False)  # outside `except`: no chained traceback


def short_tempdir(prefix: str) -> Path:
    """A new directory under /tmp: unix socket paths are limited to 107 bytes."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
