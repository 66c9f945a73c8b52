"""What a repository or a namespace uses: `soute du`, and the usage API for the web interface.

Two figures, as teams ask for them (research: Harbor counts shared blobs once per project, so
its project totals exceed the disk; Soute shows both):
  logical  the sum over manifests of each one's size and the sizes of the blobs it references:
           what pulling every image once would transfer. A layer in ten images counts ten times.
  stored   the bytes the repository (or namespace) holds: each blob it links counted once, used
           or not yet collected, plus each manifest's own size once. A layer in ten images, or
           in ten repositories of the namespace, counts once.
Repositories are those the catalog lists (with at least one manifest). A blob two namespaces
share counts in both: deleting either namespace's images would not free it.

It reads a repository's links and manifests a page at a time (LifecycleStore); memory holds one
repository's blob sizes and, for a namespace, the set of its distinct digests. Never on a
request path but the usage API's, which reads one repository.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from ..storage.lifecycle_ports import Cursor, LifecycleStore
from ..storage.policy_ports import PolicyStore
from ..storage.ports import MetadataStore
from .quotas import quota_of

PAGE = 1000
T = TypeVar("T")


@dataclass(frozen=True)
class Usage:
    name: str  # a repository, a namespace, or "" for the whole registry
    repositories: int
    manifests: int
    manifest_bytes: int  # the manifests' own sizes
    blobs: int  # distinct blobs linked
    blob_bytes: int  # their sizes, each once
    logical: int

    @property
    def stored(self) -> int:
        return self.manifest_bytes + self.blob_bytes

    def document(self) -> dict[str, object]:
        return {
            "name": self.name,
            "repositories": self.repositories,
            "manifests": self.manifests,
            "blobs": self.blobs,
            "logical_bytes": self.logical,
            "stored_bytes": self.stored,
        }


@dataclass(frozen=True)
class QuotaUse:
    namespace: str
    limit: int
    used: int

    def document(self) -> dict[str, object]:
        return {"namespace": self.namespace, "quota_bytes": self.limit, "used_bytes": self.used}


class UsageReader:
    def __init__(
        self, meta: MetadataStore, lifecycle: LifecycleStore, policies: PolicyStore | None = None
    ) -> None:
        self.meta, self.lifecycle, self.policies = meta, lifecycle, policies

    def quota(self, repository: str) -> QuotaUse | None:
        """The quota of the repository's namespace and what it counts (lifecycle/quotas.py),
        or None when it has none."""
        quota = quota_of(self.policies, repository)
        if quota is None:
            return None
        return QuotaUse(quota.namespace, quota.limit, self.lifecycle.namespace_use(quota.namespace))

    def repository(self, repository: str) -> Usage:
        return self._repository(repository, {})

    def namespace(self, namespace: str, seen: dict[str, int] | None = None) -> list[Usage]:
        """Each repository's usage, then the namespace's totals (each blob once); `seen`
        gathers the digests and sizes of every blob met, for a total over namespaces."""
        distinct: dict[str, int] = {}
        each = [self._repository(name, distinct) for name in self.repositories_of(namespace)]
        if seen is not None:
            seen.update(distinct)
        return [*each, _total(namespace, each, distinct)]

    def registry(self) -> list[Usage]:
        """Each namespace's totals, then the registry's (each blob once)."""
        seen: dict[str, int] = {}
        totals = [self.namespace(name, seen)[-1] for name in self.namespaces()]
        return [*totals, _total("", totals, seen)]

    def namespaces(self) -> list[str]:
        return sorted({name.split("/", 1)[0] for name in self._catalog(None)})

    def repositories_of(self, namespace: str) -> Iterator[str]:
        if self.meta.repository_exists(namespace):
            yield namespace
        for name in self._catalog(f"{namespace}/"):
            if not name.startswith(f"{namespace}/"):
                return
            yield name

    def _repository(self, repository: str, distinct: dict[str, int]) -> Usage:
        """One repository's usage; its blobs' sizes added to `distinct`."""
        sizes = dict(self._all(lambda c: self.lifecycle.repository_blobs(repository, c, PAGE)))
        distinct.update(sizes)
        manifests = logical = own = 0
        for uses in self._all(lambda c: self.lifecycle.manifest_uses(repository, c, PAGE)):
            manifests += 1
            own += uses.size
            logical += uses.size + sum(sizes.get(digest, 0) for digest in uses.blobs)
        return Usage(repository, 1, manifests, own, len(sizes), sum(sizes.values()), logical)

    def _catalog(self, after: str | None) -> Iterator[str]:
        last = after
        while names := self.meta.repositories(last, PAGE):
            yield from names
            last = names[-1]

    @staticmethod
    def _all(page: Callable[[Cursor], tuple[list[T], Cursor]]) -> Iterator[T]:
        cursor: Cursor = None
        while True:
            items, cursor = page(cursor)
            yield from items
            if cursor is None:
                return


def _total(name: str, parts: list[Usage], distinct: dict[str, int]) -> Usage:
    return Usage(
        name,
        sum(part.repositories for part in parts),
        sum(part.manifests for part in parts),
        sum(part.manifest_bytes for part in parts),
        len(distinct),
        sum(distinct.values()),
        sum(part.logical for part in parts),
    )
