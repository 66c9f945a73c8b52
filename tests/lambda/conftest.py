"""Fixtures of the Lambda front end tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.client import LambdaClient, lambda_app

ROOT = Path(__file__).resolve().parents[2]


def deployed_settings() -> dict[str, str]:
    """The registry settings .chalice/config.json gives every stage (storage aside)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return dict(config["environment_variables"])


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[LambdaClient]:
    """app.py behind the API Gateway emulator, configured as deployed, on fresh embedded
    storage instead of S3 and DynamoDB."""
    settings = {
        **deployed_settings(),
        "SOUTE_BACKEND": "embedded",
        "SOUTE_DATA_DIR": str(tmp_path / "data"),
    }
    with lambda_app(settings) as app:
        yield LambdaClient(app)
