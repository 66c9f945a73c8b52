"""The two handlers whose answer, not just whether they run, depends on the caller when auth is
on: the catalog (only what the caller may pull) and the cross-repository mount (only from a
repository the caller may pull)."""

from __future__ import annotations

from collections.abc import Callable

from ..registry.listings import Page
from ..registry.service import Registry
from .listings import _link, _page_size
from .messages import Request, Response
from .uploads import start_upload


def visible_catalog(
    registry: Registry, request: Request, visible: Callable[[str], bool]
) -> Response:
    n = _page_size(request)
    want = n if n is not None else (registry.settings.catalog_page or registry.settings.max_page)
    want = min(want, registry.settings.max_page)
    page = _visible_page(registry, request.arg("last"), want, visible)
    return Response.json(200, {"repositories": page.items}, _link("/v2/_catalog", page, n))


def _visible_page(
    registry: Registry, last: str | None, want: int, visible: Callable[[str], bool]
) -> Page:
    """Up to `want` visible names after `last`. It reads on through invisible repositories: a
    page cut short there would need a Link past names the caller may not learn."""
    items: list[str] = []
    more = want > 0
    while more and len(items) <= want:
        page = registry.listing.catalog(last, registry.settings.max_page)
        more = page.more
        for name in page.items:
            if visible(name):
                items.append(name)
        last = page.items[-1] if page.items else last
    if len(items) > want:
        return Page(items[:want], True)
    return Page(items, more)


def guarded_upload(
    registry: Registry,
    request: Request,
    name: str,
    may_pull: Callable[[str], bool],
    pulls_everything: bool = False,
) -> Response:
    """A mount from a repository the caller may not pull becomes a plain upload: the 202 looks
    exactly like a mount of a blob that does not exist. So does a mount with no `from` (it
    would take the blob from any repository), except for an admin, who may pull them all."""
    source = request.arg("from")
    allowed = may_pull(source) if source else pulls_everything
    if request.arg("mount") is not None and not allowed:
        request.query = {k: v for k, v in request.query.items() if k not in ("mount", "from")}
    return start_upload(registry, request, name)
