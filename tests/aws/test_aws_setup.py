"""`soute aws init` on moto: the bucket and table it leaves are configured as the packaged
template's (TLS only, owner-enforced, versioned with old versions expiring, deletion-protected),
also when they existed before with older settings."""

from __future__ import annotations

import json
import uuid

import pytest

from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.aws.provision import NONCURRENT_VERSION_DAYS, ensure_bucket, ensure_table


@pytest.fixture
def clients(moto_endpoint: str):  # noqa: ANN201 - boto3 clients have no public types
    return aws_clients("us-east-1", moto_endpoint)


def _name() -> str:
    return f"soute-setup-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize("existing", [False, True])
def test_bucket_is_tls_only_owner_enforced_and_versioned(clients, existing: bool) -> None:
    s3, bucket = clients.s3, _name()
    if existing:  # a bucket made before: plain, without any of the settings
        s3.create_bucket(Bucket=bucket)
    assert ensure_bucket(s3, bucket, "us-east-1", tls_only=True) is not existing
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(statement["Resource"]) == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    by_id = {rule["ID"]: rule for rule in lifecycle}
    noncurrent = by_id["expire-noncurrent-versions"]
    assert noncurrent["NoncurrentVersionExpiration"]["NoncurrentDays"] == NONCURRENT_VERSION_DAYS
    assert noncurrent["Filter"] == {"Prefix": ""}  # the whole bucket
    abort = by_id["abort-incomplete-multipart-uploads"]
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert by_id["expire-upload-tails"]["Expiration"] == {"Days": 2}


def test_the_tls_only_policy_refuses_plain_http(clients) -> None:
    s3, bucket = clients.s3, _name()  # moto's endpoint is plain HTTP, and moto applies policies
    ensure_bucket(s3, bucket, "us-east-1", tls_only=True)
    with pytest.raises(s3.exceptions.ClientError, match="Forbidden|AccessDenied"):
        s3.put_object(Bucket=bucket, Key="blobs/x", Body=b"layer")


def test_a_plain_http_endpoint_gets_no_tls_only_policy(clients) -> None:
    s3, bucket = clients.s3, _name()
    ensure_bucket(s3, bucket, "us-east-1")  # an emulator: the policy would refuse every call
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="blobs/x", Body=b"layer")


def test_a_deleted_object_stays_recoverable(clients) -> None:
    s3, bucket = clients.s3, _name()
    ensure_bucket(s3, bucket, "us-east-1")
    s3.put_object(Bucket=bucket, Key="blobs/x", Body=b"layer")
    s3.delete_object(Bucket=bucket, Key="blobs/x")
    versions = s3.list_object_versions(Bucket=bucket, Prefix="blobs/x")["Versions"]
    [kept] = versions
    body = s3.get_object(Bucket=bucket, Key="blobs/x", VersionId=kept["VersionId"])["Body"]
    assert body.read() == b"layer"


@pytest.mark.parametrize("existing", [False, True])
def test_table_has_deletion_protection(clients, existing: bool) -> None:
    dynamodb, table = clients.dynamodb, _name()
    if existing:  # made by an older `soute aws init`, without protection
        dynamodb.create_table(
            TableName=table,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    assert ensure_table(dynamodb, table) is not existing
    assert dynamodb.describe_table(TableName=table)["Table"]["DeletionProtectionEnabled"] is True
    with pytest.raises(dynamodb.exceptions.ClientError, match="DeletionProtectionEnabled"):
        dynamodb.delete_table(TableName=table)
    assert ensure_table(dynamodb, table) is False  # idempotent
