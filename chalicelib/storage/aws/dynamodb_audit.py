"""The audit log on the registry's DynamoDB table: one item per event, partitioned by month so
the latest events are one Query away and no partition grows without bound.

Items: pk AUDIT#<yyyy-mm>, sk <ISO time>#<random>: actor, action, target, source, at.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from ...auth.audit import AuditEvent

MONTHS_BACK = 12  # how far `events` looks for older events


def _month(at: float) -> str:
    return time.strftime("%Y-%m", time.gmtime(at))


def _months_before(at: float, count: int) -> list[str]:
    year, month = (int(part) for part in _month(at).split("-"))
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


class DynamoAuditLog:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self.db = dynamodb
        self.table = table

    def record(self, event: AuditEvent) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(event.at))
        item = {
            "pk": {"S": f"AUDIT#{_month(event.at)}"},
            "sk": {"S": f"{stamp}.{int(event.at * 1e6) % 1000000:06d}#{secrets.token_hex(4)}"},
            "actor": {"S": event.actor},
            "action": {"S": event.action},
            "target": {"S": event.target},
            "source": {"S": event.source},
            "at": {"N": repr(event.at)},
        }
        self.db.put_item(TableName=self.table, Item=item)

    def events(self, limit: int = 100, actor: str | None = None) -> list[AuditEvent]:
        found: list[AuditEvent] = []
        for month in _months_before(time.time(), MONTHS_BACK):
            found += self._month_events(month, limit - len(found), actor)
            if len(found) >= limit:
                break
        return found

    def _month_events(self, month: str, limit: int, actor: str | None) -> list[AuditEvent]:
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"AUDIT#{month}"}},
            "ScanIndexForward": False,
        }
        if actor:
            query["FilterExpression"] = "actor = :actor"
            query["ExpressionAttributeValues"][":actor"] = {"S": actor}
        events: list[AuditEvent] = []
        for page in self.db.get_paginator("query").paginate(**query):
            for item in page["Items"]:
                events.append(_event(item))
                if len(events) >= limit:
                    return events
        return events


def _event(item: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        item["actor"]["S"],
        item["action"]["S"],
        item["target"]["S"],
        item["source"]["S"],
        float(item["at"]["N"]),
    )
