"""`soute ls HOST[/NAMESPACE]` and `soute tags HOST/REPO`: the catalog and the tags of a
repository, every page of them (the registry's `Link` headers), filtered by namespace."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import PushError
from ..session import RegistrySession
from .api import pages
from .errors import NotFound
from .progress import Counter


@dataclass(frozen=True)
class ListOptions:
    page_size: int | None
    progress: bool


def in_namespace(repository: str, namespace: str | None) -> bool:
    """`acme` holds `acme` and `acme/…`, not `acme-corp/…`."""
    return namespace is None or repository == namespace or repository.startswith(namespace + "/")


def repositories(
    session: RegistrySession, namespace: str | None, options: ListOptions
) -> list[str]:
    """The repositories of the catalog (those this account may see) under `namespace`."""
    found: list[str] = []
    label = f"repositories of {session.host}" + (f"/{namespace}" if namespace else "")
    what = f"the catalog of {session.host}"
    with Counter(label, options.progress) as count:
        try:
            for page in pages(session, "/v2/_catalog", "repositories", what, options.page_size):
                kept = [name for name in page if in_namespace(name, namespace)]
                found += kept
                count.add(len(kept))
        except NotFound as error:
            raise PushError(
                f"{session.host} does not list its repositories ({error}); `soute tags "
                f"{session.host}/REPOSITORY` lists the tags of one you know"
            ) from None
    return found


def tags(session: RegistrySession, repository: str, options: ListOptions) -> list[str]:
    """Every tag of `repository`."""
    found: list[str] = []
    what = f"the tags of {session.host}/{repository}"
    path = f"/v2/{repository}/tags/list"
    with Counter(what, options.progress) as count:
        for page in pages(session, path, "tags", what, options.page_size):
            found += page
            count.add(len(page))
    return found
