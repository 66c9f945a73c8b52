"""A namespace's use as quotas count it (chalicelib/lifecycle/quotas.py), on the DynamoDB table:
the distinct blobs its manifests reference, kept as counts since no query can sum them.

  USE#<namespace> BLOB#<digest>  refs (the namespace's counted manifests using the blob), size
  USE#<namespace> TOTAL          stored: the sizes of the namespace's BLOB# items, summed
  R#<repo> MAN#<digest>          ns_counted: its blobs are in its namespace's counts

A manifest stored while its namespace has a quota is counted in the transaction that stores it:
each of its blobs' USE# items gains a use (a new one is created with the link's size), and the
TOTAL gains the sizes of the new ones, conditioned on staying within the quota. Every condition
is on what was read just before (a new item: absent; a counted one: still counted), so two
pushes that both bring a blob new to the namespace cannot both count it: one fails and reads
again. A delete of a counted manifest takes its uses off in its transaction, and an item whose
last use goes takes its size off the TOTAL. A manifest stored while the namespace has no quota
is not counted (no cost for namespaces without one): `count_namespace`, run when a quota is set,
counts those, each in one transaction conditioned on its mark.

Manifests with more blobs than a transaction holds (about 45 layers, with the manifest's own
items) are counted in transactions of their own before the manifest's, and uncounted if it
fails; a delete's uncount runs after its transaction. A process killed between the two leaves
the count too high (the namespace is refused earlier than it should be), never too low.
The TOTAL is one item per namespace: concurrent pushes of new blobs to one namespace conflict
on it and retry (dynamodb._retry_conflicts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..ports import QuotaExceeded
from .dynamodb_links import Table as LinkTable
from .dynamodb_links import conflicted

TOTAL = "TOTAL"
NAMES = {"#stored": "stored"}
BATCH_GET_KEYS = 100


class Table(LinkTable, Protocol):
    """What this module uses of the metadata store: dynamodb_links.Table, and its items read."""

    def _plain(self, item: dict[str, Any]) -> dict[str, Any]: ...


class CountConflict(Exception):
    """A count changed between its read and the write: read again."""


def _pk(namespace: str) -> str:
    return f"USE#{namespace}"


@dataclass
class Count:
    """Writes that change a namespace's counts: (operation, bytes it adds to the TOTAL) per
    blob, and the limit the TOTAL must stay within (None: no check, an uncount)."""

    namespace: str
    limit: int | None
    entries: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    total: dict[str, Any] | None = None  # the TOTAL's update, once `operations` made it

    @property
    def delta(self) -> int:
        return sum(size for _, size in self.entries)

    @property
    def digests(self) -> list[str]:
        return [op_key(operation)[1].removeprefix("BLOB#") for operation, _ in self.entries]

    def operations(self, store: Table) -> list[dict[str, Any]]:
        """Every write, for one transaction: the blobs' items, then the TOTAL's."""
        self.total = _total(store, self.namespace, self.delta, self.limit)
        return [operation for operation, _ in self.entries] + ([self.total] if self.total else [])


def op_key(operation: dict[str, Any]) -> tuple[str, str]:
    body = next(iter(operation.values()))
    key = body.get("Key") or body["Item"]
    return key["pk"]["S"], key["sk"]["S"]


class NamespaceCounts:
    def __init__(self, store: Table) -> None:
        self.store = store

    def use(self, namespace: str) -> int:
        item = self.store._get(_pk(namespace), TOTAL)
        return int(item.get("stored", 0)) if item else 0

    def claim(
        self, namespace: str, repository: str, digests: list[str], limit: int | None
    ) -> Count:
        """The writes that count a new manifest's blobs; QuotaExceeded at once if the blobs
        new to the namespace cannot fit (the write's condition holds it while it runs)."""
        pk = _pk(namespace)
        keys = [(pk, f"BLOB#{d}") for d in digests] + [
            (f"R#{repository}", f"BLOB#{d}") for d in digests
        ]
        items = self._items([*keys, (pk, TOTAL)])
        count = Count(namespace, limit)
        for digest in digests:
            sk = f"BLOB#{digest}"
            if (pk, sk) in items:
                count.entries.append((self._use(pk, sk, +1), 0))
            elif (link := items.get((f"R#{repository}", sk))) is not None:
                size = int(link["size"])
                count.entries.append((self._first_use(pk, sk, size), size))
            # no link: the manifest's own transaction refuses it (MissingReference)
        used = int(items.get((pk, TOTAL), {}).get("stored", 0))
        if limit is not None and count.delta and used + count.delta > limit:
            raise QuotaExceeded(namespace, limit, used, count.delta)
        return count

    def release(self, namespace: str, digests: list[str]) -> Count:
        """The writes that take a deleted manifest's uses off; a last use takes its size off."""
        pk = _pk(namespace)
        items = self._items([(pk, f"BLOB#{d}") for d in digests])
        count = Count(namespace, None)
        for digest in digests:
            item = items.get((pk, f"BLOB#{digest}"))
            if item is None:
                continue
            if int(item.get("refs", 0)) <= 1:
                count.entries.append((self._last_use(pk, f"BLOB#{digest}"), -int(item["size"])))
            else:
                count.entries.append((self._use(pk, f"BLOB#{digest}", -1), 0))
        return count

    def apply(self, count: Count) -> None:
        """Run `count` in transactions of its own (too many for the manifest's): all of it, or
        raise QuotaExceeded or CountConflict with what was done undone."""
        done: list[str] = []
        for start in range(0, len(count.entries), 99):
            part = Count(count.namespace, count.limit, count.entries[start : start + 99])
            operations = part.operations(self.store)
            try:
                failed = self.store._transact(operations)
            except self.store.db.exceptions.TransactionCanceledException as error:
                self.release_apart(count.namespace, done)
                if conflicted(error):  # another transaction on an item at once
                    raise CountConflict() from None
                raise
            if failed is not None:
                self.release_apart(count.namespace, done)
                raise self.exceeded(part) if operations[failed] is part.total else CountConflict()
            done.extend(part.digests)

    def release_apart(self, namespace: str, digests: list[str]) -> None:
        """Take the uses off one blob at a time, each read again until its write holds."""
        for digest in digests:
            for _attempt in range(8):
                count = self.release(namespace, [digest])
                operations = count.operations(self.store)
                if not operations or self.written(operations):
                    break

    def exceeded(self, count: Count) -> QuotaExceeded:
        """What a failed TOTAL condition says, with the use read now."""
        assert count.limit is not None
        return QuotaExceeded(count.namespace, count.limit, self.use(count.namespace), count.delta)

    def written(self, operations: list[dict[str, Any]]) -> bool:
        """Run one transaction; False if a condition failed or another held an item."""
        try:
            return self.store._transact(operations) is None
        except self.store.db.exceptions.TransactionCanceledException as error:
            if conflicted(error):
                return False
            raise

    # -- items -----------------------------------------------------------------------------
    def _items(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The items at `keys` that exist, read consistently (BatchGetItem, 100 keys a call)."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), BATCH_GET_KEYS):
            wanted = [self.store._key(pk, sk) for pk, sk in unique[start : start + BATCH_GET_KEYS]]
            request = {self.store.table: {"Keys": wanted, "ConsistentRead": True}}
            while request:
                reply = self.store.db.batch_get_item(RequestItems=request)
                for item in reply["Responses"].get(self.store.table, []):
                    plain = self.store._plain(item)
                    found[(plain["pk"], plain["sk"])] = plain
                request = reply.get("UnprocessedKeys") or {}
        return found

    def _use(self, pk: str, sk: str, delta: int) -> dict[str, Any]:
        """One use more or less of a counted blob, which keeps at least one."""
        return {
            "Update": {
                "Key": self.store._key(pk, sk),
                "UpdateExpression": "ADD refs :delta",
                "ConditionExpression": "refs >= :least",
                "ExpressionAttributeValues": self.store._values(
                    delta=delta, least=1 if delta > 0 else 2
                ),
            }
        }

    def _first_use(self, pk: str, sk: str, size: int) -> dict[str, Any]:
        item = self.store._item(pk, sk, refs=1, size=size)
        return {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    def _last_use(self, pk: str, sk: str) -> dict[str, Any]:
        return {
            "Delete": {
                "Key": self.store._key(pk, sk),
                "ConditionExpression": "refs = :one",
                "ExpressionAttributeValues": self.store._values(one=1),
            }
        }


def _total(store: Table, namespace: str, delta: int, limit: int | None) -> dict[str, Any] | None:
    """The TOTAL's change; with a limit, conditioned on staying within it."""
    if delta == 0:
        return None
    update: dict[str, Any] = {
        "Key": store._key(_pk(namespace), TOTAL),
        "UpdateExpression": "ADD #stored :delta",
        "ExpressionAttributeNames": NAMES,
        "ExpressionAttributeValues": store._values(delta=delta),
    }
    if limit is not None and delta > 0:
        update["ConditionExpression"] = "attribute_not_exists(#stored) OR #stored <= :room"
        update["ExpressionAttributeValues"].update(store._values(room=limit - delta))
    return {"Update": update}
