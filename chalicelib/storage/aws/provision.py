"""Creates the S3 bucket and DynamoDB table Soute needs, idempotently (`soute aws init`).

The packaged CloudFormation template (deploy/merge_template.py) describes the same resources
for a real deployment, from the definitions here: the TLS-only bucket policy, the lifecycle
periods. This is for emulators and for trying the aws backend before deploying.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger("soute.aws_setup")

UPLOAD_PREFIX = "uploads/"
# Incomplete multipart uploads, and pieces of uploads in progress (chunk tails), are abandoned
# after this many days.
ABORT_MULTIPART_DAYS = 1
UPLOAD_TEMPORARY_DAYS = 2
# With versioning on, a deleted or overwritten object stays recoverable this long.
NONCURRENT_VERSION_DAYS = 30


def tls_only_policy(bucket_arn: Any, objects_arn: Any) -> dict[str, Any]:
    """Refuse plain-HTTP access to the bucket and its objects: presigned URLs are HTTPS, and
    nothing else needs HTTP. ARNs are strings, or CloudFormation intrinsics in the template."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, objects_arn],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def ensure_bucket(
    s3: Any, bucket: str, region: str | None, *, tls_only: bool | None = None
) -> bool:
    """Create the bucket if missing; private, owner-enforced, encrypted, versioned, with
    lifecycle rules, and TLS only unless `tls_only` is False (None: unless the endpoint itself
    is plain HTTP, an emulator that the policy would lock out). True if new."""
    created = False
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
        arguments: dict[str, Any] = {"Bucket": bucket}
        if region and region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**arguments)
        created = True
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    # ACLs off: every object is the bucket owner's, whoever wrote it.
    s3.put_bucket_ownership_controls(
        Bucket=bucket,
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    if tls_only is None:
        tls_only = not s3.meta.endpoint_url.startswith("http://")
    if tls_only:
        arn = f"arn:{s3.meta.partition}:s3:::{bucket}"
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only_policy(arn, f"{arn}/*")))
    else:
        log.warning("bucket %s: no TLS-only policy, its endpoint is plain HTTP", bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": lifecycle_rules()}
    )
    return created


def lifecycle_rules() -> list[dict[str, Any]]:
    """The bucket's lifecycle rules, as the S3 API takes them."""
    return [
        {
            "ID": "abort-incomplete-multipart-uploads",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_DAYS},
        },
        {
            "ID": "expire-upload-tails",
            "Status": "Enabled",
            "Filter": {"Prefix": UPLOAD_PREFIX},
            "Expiration": {"Days": UPLOAD_TEMPORARY_DAYS},
            # Versioning keeps a deleted tail as a noncurrent version: nobody wants it back.
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        },
        {
            "ID": "expire-noncurrent-versions",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_VERSION_DAYS},
            "Expiration": {"ExpiredObjectDeleteMarker": True},
        },
    ]


def ensure_table(dynamodb: Any, table: str) -> bool:
    """Create the single table (on demand, TTL, point-in-time recovery, deletion protection);
    True if new."""
    try:
        description = dynamodb.describe_table(TableName=table)["Table"]
        created = False
    except dynamodb.exceptions.ResourceNotFoundException:
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
            DeletionProtectionEnabled=True,
        )
        dynamodb.get_waiter("table_exists").wait(TableName=table)
        description = {"DeletionProtectionEnabled": True}
        created = True
    if not description.get("DeletionProtectionEnabled"):
        # A table that an older `soute aws init` created.
        dynamodb.update_table(TableName=table, DeletionProtectionEnabled=True)
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
    dynamodb.update_continuous_backups(
        TableName=table,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    return created


def missing_storage(s3: Any, dynamodb: Any, bucket: str, table: str) -> str | None:
    """Why the bucket or table cannot be used, or None when both answer."""
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception as error:  # noqa: BLE001 - any failure here means "cannot use it"
        return f"S3 bucket {bucket}: {error}"
    try:
        dynamodb.describe_table(TableName=table)
    except Exception as error:  # noqa: BLE001
        return f"DynamoDB table {table}: {error}"
    return None
