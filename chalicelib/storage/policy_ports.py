"""The PolicyStore port: small settings an administrator attaches to a repository or a
namespace, read by the service when it decides a request (tag immutability, a namespace's
quota) or by the GC (retention policies).

A scope is a repository name (`acme/app`) or a namespace, the first component of a name
(`acme`); a name of one component is both, and one setting on it applies as both. A kind names
what the setting is about (`immutability`), and the document is that kind's text (JSON), which
the store keeps as given: what it means and how it is checked belong to the service's modules
(chalicelib/lifecycle/), so a new kind needs no change here or in the adapters.

Writes are whole documents (put replaces, remove deletes): a setting has one writer, an admin
verb, so no read-modify-write is needed. On DynamoDB every call goes to the primary region's
table, so a setting is current everywhere as soon as it is written.
"""

from __future__ import annotations

from typing import Protocol


class PolicyStore(Protocol):
    def get(self, scope: str, kind: str) -> str | None:
        """The document of `kind` set on `scope`, or None."""

    def settings(self, scope: str) -> dict[str, str]:
        """Every document set on `scope`, by kind, in one read (a manifest PUT reads its
        namespace's quota and immutability together)."""

    def put(self, scope: str, kind: str, document: str) -> None:
        """Set (or replace) the document of `kind` on `scope`."""

    def remove(self, scope: str, kind: str) -> bool:
        """Remove it; False if there was none."""

    def entries(self, kind: str) -> list[tuple[str, str]]:
        """Every (scope, document) of `kind`, by scope (for the admin verbs, not requests)."""
