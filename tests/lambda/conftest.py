"""Fixtures of the Lambda front end tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.auth.model import User
from chalicelib.auth.passwords import hash_password
from chalicelib.server.backends import embedded_auth
from tests.contract.client import LambdaClient, lambda_app
from tests.support.token_client import TokenClient

ROOT = Path(__file__).resolve().parents[2]


# What names one stage's own resources, not how the registry behaves.
STAGE_NAMES = {
    "SOUTE_S3_BUCKET",
    "SOUTE_DYNAMODB_TABLE",
    "SOUTE_VERIFIER_FUNCTION",
    "SOUTE_SIGNING_SECRET",
}


def deployed_settings(stage: str = "prod") -> dict[str, str]:
    """The registry settings .chalice/config.json gives the API handler (storage aside)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    settings = config["stages"][stage]
    merged = {
        **config["environment_variables"],
        **settings["environment_variables"],
        **settings["lambda_functions"]["api_handler"]["environment_variables"],
    }
    return {name: value for name, value in merged.items() if name not in STAGE_NAMES}


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[TokenClient]:
    """app.py behind the API Gateway emulator, configured as deployed (auth on), on fresh
    embedded storage instead of S3 and DynamoDB; the client logs in as an admin."""
    data_dir = str(tmp_path / "data")
    settings = {**deployed_settings(), "SOUTE_BACKEND": "embedded", "SOUTE_DATA_DIR": data_dir}
    embedded_auth(data_dir).store.add_user(User("root", hash_password("pw"), admin=True))
    with lambda_app(settings) as app:
        yield TokenClient(LambdaClient(app), "root", "pw")
