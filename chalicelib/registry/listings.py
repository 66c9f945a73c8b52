"""Listings: tags of a repository, the catalog of repositories, referrers of a manifest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..oci.digest import parse_digest
from ..oci.errors import OCIError
from ..storage.ports import MetadataStore, Referrer
from .settings import Settings


@dataclass(frozen=True)
class Page:
    items: list[str]
    more: bool  # another page follows


class Listing:
    def __init__(self, meta: MetadataStore, settings: Settings) -> None:
        self.meta = meta
        self.settings = settings

    def tags(self, repository: str, last: str | None, n: int | None) -> Page:
        if not self.meta.repository_exists(repository):
            raise OCIError("NAME_UNKNOWN", f"repository {repository} is not known")
        return self._page(
            lambda limit: self.meta.tags(repository, last, limit), n, self.settings.tags_page
        )

    def catalog(self, last: str | None, n: int | None) -> Page:
        return self._page(
            lambda limit: self.meta.repositories(last, limit), n, self.settings.catalog_page
        )

    def _page(self, fetch: Callable[[int], list[str]], n: int | None, default: int | None) -> Page:
        limit = min(
            n if n is not None else (default or self.settings.max_page), self.settings.max_page
        )
        if limit == 0:
            return Page([], False)
        items = fetch(limit + 1)
        return Page(items[:limit], len(items) > limit)

    def referrers(self, repository: str, subject: str, artifact_type: str | None) -> list[Referrer]:
        parse_digest(subject)
        found = self.meta.referrers(repository, subject)
        if artifact_type is not None:
            found = [r for r in found if r.artifact_type == artifact_type]
        return found
