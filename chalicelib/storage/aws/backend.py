"""Every store of the aws backend: blobs in one S3 bucket; metadata, identities, the audit log
and failed-login counts on one DynamoDB table; the token signing key derived from a Secrets
Manager secret.

The composition root (`server/backends.py`) asks this object for each store, so which adapter
keeps which fact is written here only. boto3 is imported on the first client, not with this
module."""

from __future__ import annotations

import functools
from typing import Any

from ...auth.audit import AuditLog
from ...auth.identity_ports import IdentityStore
from ...auth.keys import KeyRing
from ...auth.throttle_ports import FailureCounter
from ..ports import BlobStore, MetadataStore
from .clients import AwsClients, aws_clients, secrets_manager_client
from .dynamodb import DynamoMetadataStore
from .dynamodb_audit import DynamoAuditLog
from .dynamodb_identities import DynamoIdentityStore
from .dynamodb_throttle import DynamoFailureCounter
from .s3 import PRESIGN_EXPIRES, S3BlobStore
from .secrets_manager_keys import SecretsManagerKeys


class AwsStorage:
    def __init__(
        self,
        table: str | None,
        bucket: str | None = None,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        signing_secret_id: str | None = None,
        presign_expires: int = PRESIGN_EXPIRES,
    ) -> None:
        self.table, self.bucket = table, bucket
        self.region, self.endpoint_url = region, endpoint_url
        self.signing_secret_id = signing_secret_id
        self.presign_expires = presign_expires

    def metadata(self) -> MetadataStore:
        """The table, with the bucket for manifest bodies too big for an item when one is
        named (the admin verbs read the catalog without one)."""
        s3 = self._clients.s3 if self.bucket else None
        return DynamoMetadataStore(self._dynamodb, self._table(), s3, self.bucket)

    def existing_metadata(self) -> MetadataStore | None:
        return self.metadata()

    def blobs(self) -> BlobStore:
        if not self.bucket:
            raise ValueError("the aws backend needs an S3 bucket and a DynamoDB table")
        return S3BlobStore(self._clients.s3, self.bucket, presign_expires=self.presign_expires)

    def identities(self) -> IdentityStore:
        return DynamoIdentityStore(self._dynamodb, self._table())

    def audit(self) -> AuditLog:
        return DynamoAuditLog(self._dynamodb, self._table())

    def failure_counter(self) -> FailureCounter:
        """Shared by every Lambda instance and server process on the table."""
        return DynamoFailureCounter(self._dynamodb, self._table())

    def signing_keys(self) -> KeyRing:
        """Derived from the secret; a missing secret fails here, at the start, not at the first
        login (SigningSecretMissing)."""
        if not self.signing_secret_id:
            raise ValueError("auth on the aws backend needs the token signing secret's name")
        secrets = secrets_manager_client(self.region, self.endpoint_url)
        keys = SecretsManagerKeys(secrets, self.signing_secret_id)
        keys.signing_key()
        return keys

    @functools.cached_property
    def _clients(self) -> AwsClients:
        return aws_clients(self.region, self.endpoint_url)

    @property
    def _dynamodb(self) -> Any:
        return self._clients.dynamodb

    def _table(self) -> str:
        if not self.table:
            raise ValueError("the aws backend needs an S3 bucket and a DynamoDB table")
        return self.table
