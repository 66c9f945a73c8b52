"""Fixtures of the Lambda front end tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.auth.context import embedded_auth
from chalicelib.auth.model import User
from chalicelib.auth.passwords import hash_password
from tests.contract.client import LambdaClient, lambda_app
from tests.support.token_client import TokenClient

ROOT = Path(__file__).resolve().parents[2]


def deployed_settings() -> dict[str, str]:
    """The registry settings .chalice/config.json gives every stage (storage aside)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return dict(config["environment_variables"])


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[TokenClient]:
    """app.py behind the API Gateway emulator, configured as deployed (auth on), on fresh
    embedded storage instead of S3 and DynamoDB; the client logs in as an admin."""
    data_dir = str(tmp_path / "data")
    settings = {**deployed_settings(), "SOUTE_BACKEND": "embedded", "SOUTE_DATA_DIR": data_dir}
    embedded_auth(data_dir).store.add_user(User("root", hash_password("pw"), admin=True))
    with lambda_app(settings) as app:
        yield TokenClient(LambdaClient(app), "root", "pw")
