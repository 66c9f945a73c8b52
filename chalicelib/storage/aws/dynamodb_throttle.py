"""FailureCounter on the registry's one DynamoDB table, so every Lambda instance and server
process counts the same failed logins.

Items: pk THROTTLE#<key>, sk <bucket start, epoch milliseconds, 16 digits>: failures (N),
expires_at (N, the table's TTL attribute). One partition per throttled key (an account or a
source address), never one hot partition for all; keys longer than MAX_KEY_BYTES are replaced
by their SHA-256 (a user may type any "account").

A window is BUCKETS buckets: a failure is one UpdateItem ADD on its bucket (atomic, no
read-modify-write), and a count is one consistent Query of the buckets from the one that
holds `now - window` onwards, summed. Counting that oldest bucket whole means a failure may be
remembered up to window/BUCKETS longer than the window, never shorter. TTL deletes the items a
window after their bucket ends; until it does, the sort-key range leaves them out of counts.

Successful sources: pk LOGINS#<key>, sk <source address>: at (N), expires_at (N, TTL). A
success is one put, then the account's few source items are read and all but the most recent
KNOWN_SOURCES deleted.

Errors of DynamoDB become CounterUnavailable; see LoginThrottle for what is done with them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

from ...auth.throttle_ports import KNOWN_SOURCES, CounterUnavailable

PREFIX = "THROTTLE#"
SOURCES_PREFIX = "LOGINS#"
BUCKETS = 10
MAX_KEY_BYTES = 256
SK_DIGITS = 16


def _pk(key: str, prefix: str = PREFIX) -> str:
    if len(key.encode()) > MAX_KEY_BYTES:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return prefix + key


def _width_ms(window: float) -> int:
    return max(1, int(window * 1000) // BUCKETS)


def _bucket_ms(at: float, window: float) -> int:
    width = _width_ms(window)
    return math.floor(at * 1000) // width * width


def _sk(milliseconds: int) -> dict[str, str]:
    return {"S": f"{max(0, milliseconds):0{SK_DIGITS}d}"}


class DynamoFailureCounter:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self.db = dynamodb
        self.table = table

    def add_failure(self, key: str, now: float, window: float) -> None:
        start = _bucket_ms(now, window)
        # When this bucket stops counting anywhere: its end plus one window.
        expires = math.ceil((start + _width_ms(window)) / 1000 + window)
        self._call(
            self.db.update_item,
            TableName=self.table,
            Key={"pk": {"S": _pk(key)}, "sk": _sk(start)},
            UpdateExpression="ADD failures :one SET expires_at = :expires",
            ExpressionAttributeValues={":one": {"N": "1"}, ":expires": {"N": str(expires)}},
        )

    def release(self, key: str, at: float, window: float) -> None:
        # The bucket `add_failure` raised for `at`; the condition keeps a bucket that TTL or a
        # clear removed meanwhile from coming back with -1.
        try:
            self._call(
                self.db.update_item,
                TableName=self.table,
                Key={"pk": {"S": _pk(key)}, "sk": _sk(_bucket_ms(at, window))},
                UpdateExpression="ADD failures :minus",
                ConditionExpression="failures > :zero",
                ExpressionAttributeValues={":minus": {"N": "-1"}, ":zero": {"N": "0"}},
            )
        except CounterUnavailable as error:
            if not _condition_failed(error):
                raise

    def failures(self, key: str, now: float, window: float) -> int:
        items = self._items(key, _bucket_ms(now - window, window), "failures")
        return sum(int(item["failures"]["N"]) for item in items)

    def clear(self, key: str) -> None:
        # A handful of items (one per bucket of a window); a failure racing with the clear
        # may survive it, as it would have arrived just after.
        for item in self._items(key, 0, "sk"):
            self._call(
                self.db.delete_item,
                TableName=self.table,
                Key={"pk": {"S": _pk(key)}, "sk": item["sk"]},
            )

    def add_success(self, key: str, source: str, now: float, keep: float) -> None:
        # One item per source: a put needs no read, so logins at once never lose each other.
        self._call(
            self.db.put_item,
            TableName=self.table,
            Item={
                "pk": {"S": _pk(key, SOURCES_PREFIX)},
                "sk": {"S": source},
                "at": {"N": repr(now)},
                "expires_at": {"N": str(math.ceil(now + keep))},
            },
        )
        kept = self._sources(key)
        if len(kept) > KNOWN_SOURCES:  # the oldest go; two logins at once may drop one more
            kept.sort(key=lambda item: float(item["at"]["N"]))
            for item in kept[:-KNOWN_SOURCES]:
                self._call(
                    self.db.delete_item,
                    TableName=self.table,
                    Key={"pk": {"S": _pk(key, SOURCES_PREFIX)}, "sk": item["sk"]},
                )

    def succeeded_from(self, key: str, source: str, now: float) -> bool:
        reply = self._call(
            self.db.get_item,
            TableName=self.table,
            Key={"pk": {"S": _pk(key, SOURCES_PREFIX)}, "sk": {"S": source}},
            ConsistentRead=True,
        )
        item = reply.get("Item")
        # TTL deletes within days, not at once: the time in the item decides.
        return item is not None and int(item["expires_at"]["N"]) > now

    def _sources(self, key: str) -> list[dict[str, Any]]:
        page = self._call(
            self.db.query,
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _pk(key, SOURCES_PREFIX)}},
            ProjectionExpression="sk, #at",
            ExpressionAttributeNames={"#at": "at"},
            ConsistentRead=True,
        )
        return list(page.get("Items", []))  # a few small items: one page

    def _items(self, key: str, from_ms: int, projection: str) -> list[dict[str, Any]]:
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk >= :from",
            "ExpressionAttributeValues": {":pk": {"S": _pk(key)}, ":from": _sk(from_ms)},
            "ProjectionExpression": "#p",
            "ExpressionAttributeNames": {"#p": projection},
            "ConsistentRead": True,  # a failure just recorded by another instance counts
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self._call(self.db.query, **arguments)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _call(operation: Callable[..., Any], **arguments: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return operation(**arguments)
        except (BotoCoreError, ClientError) as error:
            raise CounterUnavailable(f"DynamoDB: {error}") from error


def _condition_failed(error: CounterUnavailable) -> bool:
    cause = error.__cause__
    response = getattr(cause, "response", None) or {}
    return response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
