"""PolicyStore on the registry's one DynamoDB table.

Items:
  POLICY#<scope>   <KIND>            document (S): what the service reads on a request, one
                                     consistent GetItem, or one Query for every kind of a scope
  POLICIES#<KIND>  <scope>           document (S): the same, listed by kind, so the admin verbs
                                     list a kind with one Query instead of a Scan of the table

Both items are written and removed in one transaction, so the listing never disagrees with what
requests read. With several regions the client is the primary region's (storage/aws/backend.py):
a setting decides writes (a tag push), so it is read where writes happen, never from a replica
that may lag.
"""

from __future__ import annotations

from typing import Any

SCOPE_PREFIX = "POLICY#"
KIND_PREFIX = "POLICIES#"


class DynamoPolicyStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self.db = dynamodb
        self.table = table

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _keys(self, scope: str, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
        return self._key(SCOPE_PREFIX + scope, kind), self._key(KIND_PREFIX + kind, scope)

    def get(self, scope: str, kind: str) -> str | None:
        reply = self.db.get_item(
            TableName=self.table, Key=self._keys(scope, kind)[0], ConsistentRead=True
        )
        item = reply.get("Item")
        return item["document"]["S"] if item else None

    def settings(self, scope: str) -> dict[str, str]:
        return dict(self._query(SCOPE_PREFIX + scope))

    def put(self, scope: str, kind: str, document: str) -> None:
        self.db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.table, "Item": {**key, "document": {"S": document}}}}
                for key in self._keys(scope, kind)
            ]
        )

    def remove(self, scope: str, kind: str) -> bool:
        by_scope, by_kind = self._keys(scope, kind)
        try:
            self.db.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": by_scope,
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {"Delete": {"TableName": self.table, "Key": by_kind}},
                ]
            )
        except self.db.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False  # there was nothing to remove
            raise
        return True

    def entries(self, kind: str) -> list[tuple[str, str]]:
        return self._query(KIND_PREFIX + kind)

    def _query(self, pk: str) -> list[tuple[str, str]]:
        """(sort key, document) of every item of partition `pk`, read consistently."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        found: list[tuple[str, str]] = []
        while True:
            reply = self.db.query(**request)
            found += [(item["sk"]["S"], item["document"]["S"]) for item in reply["Items"]]
            if "LastEvaluatedKey" not in reply:
                return found
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
