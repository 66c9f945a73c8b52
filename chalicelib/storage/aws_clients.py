"""boto3 clients, created once per process (a Lambda container reuses them across requests)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AwsClients:
    s3: Any
    dynamodb: Any


@functools.cache
def aws_clients(region: str | None, endpoint_url: str | None) -> AwsClients:
    import boto3  # imported here: it is most of a cold start, and only the aws backend needs it
    from botocore.config import Config

    session = boto3.session.Session(region_name=region)
    retries = {"mode": "standard", "max_attempts": 5}
    s3_config = Config(
        retries=retries,
        signature_version="s3v4",
        # Path-style for emulators; virtual-hosted on AWS, so presigned URLs name the bucket's
        # own host, never a subdomain of the registry's.
        s3={"addressing_style": "path" if endpoint_url else "virtual"},
    )
    return AwsClients(
        s3=session.client("s3", endpoint_url=endpoint_url, config=s3_config),
        dynamodb=session.client(
            "dynamodb", endpoint_url=endpoint_url, config=Config(retries=retries)
        ),
    )


@functools.cache
def secrets_manager_client(region: str | None, endpoint_url: str | None) -> Any:
    """Only auth on the aws backend reads a secret (its token signing key)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=region)
    config = Config(retries={"mode": "standard", "max_attempts": 5})
    return session.client("secretsmanager", endpoint_url=endpoint_url, config=config)
