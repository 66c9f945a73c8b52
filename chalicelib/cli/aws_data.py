"""Delete what a stack keeps when it is deleted (`soute aws destroy --delete-data`).

The bucket and the table are DeletionPolicy Retain (deploy/merge_template.py), so deleting the
stack leaves every image and user in place. Deleting them is the one step that loses data: it
is asked twice, or given `--yes`. The bucket is versioned, so every version and delete marker
goes before the bucket; the table is deletion-protected, so protection goes off first. The
token signing secret is not retained: the stack deletes it with a recovery window, and this
ends the window so that nothing of the stack is left.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def delete_bucket(s3: Any, bucket: str) -> bool:
    """Every version, every delete marker, then the bucket; False if it was gone."""
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            keys = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for kind in ("Versions", "DeleteMarkers")
                for item in page.get(kind, [])
            ]
            for start in range(0, len(keys), 1000):
                batch = {"Objects": keys[start : start + 1000], "Quiet": True}
                s3.delete_objects(Bucket=bucket, Delete=batch)
        s3.delete_bucket(Bucket=bucket)
    except s3.exceptions.NoSuchBucket:
        return False
    return True


def delete_table(dynamodb: Any, table: str) -> bool:
    """Deletion protection off, then the table; False if it was gone."""
    try:
        dynamodb.update_table(TableName=table, DeletionProtectionEnabled=False)
        dynamodb.delete_table(TableName=table)
    except dynamodb.exceptions.ResourceNotFoundException:
        return False
    return True


def delete_secret(secrets: Any, secret: str) -> bool:
    """The secret at once, recovery window or not; False if it was gone."""
    try:
        secrets.delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)
    except secrets.exceptions.ResourceNotFoundException:
        return False
    return True


def confirmed(stack: str, what: str, ask: Callable[[str], str]) -> bool:
    """Asked twice: the stack's name, then the word delete."""
    first = ask(f"Delete {what} for good? Type the stack name ({stack}) to go on: ")
    if first.strip() != stack:
        return False
    second = ask("Every image and user in it will be lost. Type delete to confirm: ")
    return second.strip() == "delete"
