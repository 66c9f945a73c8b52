"""Creates the S3 bucket and DynamoDB table Soute needs, idempotently (`soute aws init`).

The packaged CloudFormation template describes the same resources for a real deployment; this
is for emulators and for trying the aws backend before deploying.
"""

from __future__ import annotations

from typing import Any

UPLOAD_PREFIX = "uploads/"


def ensure_bucket(s3: Any, bucket: str, region: str | None) -> bool:
    """Create the bucket if missing, private, encrypted, with lifecycle rules; True if new."""
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
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "abort-incomplete-multipart-uploads",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                },
                {
                    "ID": "expire-upload-tails",
                    "Status": "Enabled",
                    "Filter": {"Prefix": UPLOAD_PREFIX},
                    "Expiration": {"Days": 2},
                },
            ]
        },
    )
    return created


def ensure_table(dynamodb: Any, table: str) -> bool:
    """Create the single table (on demand, TTL, point-in-time recovery); True if new."""
    try:
        dynamodb.describe_table(TableName=table)
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
        )
        dynamodb.get_waiter("table_exists").wait(TableName=table)
        created = True
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
