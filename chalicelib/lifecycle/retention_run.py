"""Retention runs: for each repository with a policy, list its images, evaluate the policy
(lifecycle/retention.py), and delete what it expires. The GC runs this as its first phase
(lifecycle/gc.py), one repository a page; `soute policy preview` runs the same plan without
deleting, so a preview lists exactly what the next run expires (given no push in between).

Which policy: a policy (PolicyStore kind `retention`) is set on a repository or on a namespace
(its first name component); the repository's wins, whole. A stored policy that does not parse
(written by hand) expires nothing: a warning is logged and the repository is kept whole.

What is never expired, whatever the rules say, each reported as kept with the reason:
  - a manifest an index of the repository lists, and a referrer (signature, SBOM) whose subject
    is in the repository: neither is an image of its own, they go with their index or subject
    (and once that is gone, a later run judges them as the untagged images they then are);
    they are not counted by the rules either;
  - an image with an immutable tag (lifecycle/immutability.py).

The interleavings with pushes, each argued on the delete that ends them:
  - a push re-tags an image being expired: the plan was made on the tags it read, and the
    delete is conditioned on exactly that set (MetadataStore.delete_manifest `tags`: the
    DynamoDB transaction's `tags = :tags` condition; the SQLite write transaction, which reads
    them under the write lock). A tag added or moved since refuses the delete (TagsChanged):
    the image is kept, and the next run decides on its new tags. So a tag just pushed is never
    deleted by a run that did not see it.
  - an index listing the image is pushed meanwhile: the delete is refused (StillReferenced),
    kept. A protection set meanwhile: the delete judges the tags it deletes (TagImmutable).
  - a newer image pushed meanwhile: `imageCountMoreThan` would then expire more, never fewer;
    the run expires what it planned, the next run the rest.
  - a pull meanwhile (`sinceImagePulled`): the run expires what it planned, as ECR's "within
    24 hours" does; the window is one repository's plan and deletes.
Deleting a manifest releases its blobs' links (touched then): the GC's later phases and runs
free them after the grace, by the argument of gc.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from ..oci.names import namespace_of
from ..storage.lifecycle_ports import ImageFacts, LifecycleStore
from ..storage.policy_ports import PolicyStore
from ..storage.ports import MetadataStore, StillReferenced, TagImmutable, TagsChanged
from . import immutability, retention

PAGE = 500
log = logging.getLogger("soute.lifecycle")


@dataclass(frozen=True)
class Decision:
    """An image a rule expires: expired, or kept for `kept` (why)."""

    repository: str
    image: ImageFacts
    rule: int
    kept: str = ""


class Retention:
    def __init__(
        self,
        lifecycle: LifecycleStore,
        meta: MetadataStore,
        policies: PolicyStore,
        *,
        page: int = PAGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lifecycle, self.meta, self.policies = lifecycle, meta, policies
        self.page, self.clock = page, clock

    # -- which repositories ----------------------------------------------------------------
    def next_repository(self, after: str | None, within: str | None = None) -> str | None:
        """The first repository after `after` (by name) that a policy applies to; with
        `within`, only that repository or the repositories of that namespace."""
        scopes = {scope for scope, _ in self.policies.entries(retention.KIND)}
        found = [
            name
            for scope in scopes
            for name in self._next_in_scope(scope, after or "")
            if within is None or name == within or name.startswith(within + "/")
        ]
        return min(found, default=None)

    def _next_in_scope(self, scope: str, after: str) -> Iterator[str]:
        if scope > after and self.meta.repository_exists(scope):
            yield scope
        if "/" in scope:
            return
        prefix = scope + "/"  # names sharing a prefix are contiguous in the catalog's order
        following = self.meta.repositories(max(after, prefix), 1)
        if following and following[0].startswith(prefix):
            yield following[0]

    def scope_of(self, repository: str) -> tuple[str, str] | None:
        """(scope, document) of the policy that applies: the repository's, else its
        namespace's."""
        for scope in dict.fromkeys((repository, namespace_of(repository))):
            document = self.policies.get(scope, retention.KIND)
            if document is not None:
                return scope, document
        return None

    # -- one repository --------------------------------------------------------------------
    def plan(self, repository: str) -> list[Decision]:
        """What the policy expires in the repository now, and what it keeps of that."""
        applied = self.scope_of(repository)
        if applied is None:
            return []
        try:
            policy = retention.parse(applied[1])
        except retention.PolicyInvalid as problem:
            log.warning("retention policy of %s is invalid (%s): kept whole", applied[0], problem)
            return []
        images = self._images(repository)
        present = {image.digest for image in images}
        held = {image.digest: _held(image, present) for image in images}
        now = self.clock()
        own = [image for image in images if not held[image.digest]]
        protects = immutability.protected(self.policies, repository)
        decisions = [
            Decision(repository, e.image, e.rule, _immutable(e.image, protects))
            for e in retention.evaluate(policy, own, now)
        ]
        decisions += [
            Decision(repository, e.image, e.rule, held[e.image.digest])
            for e in retention.evaluate(policy, images, now)
            if held[e.image.digest]
        ]
        return sorted(decisions, key=lambda d: (d.image.pushed_at, d.image.digest))

    def _images(self, repository: str) -> list[ImageFacts]:
        found, cursor = [], None
        while True:
            page, cursor = self.lifecycle.images(repository, cursor, self.page)
            found += page
            if cursor is None:
                return found

    def expire(self, decision: Decision) -> Decision:
        """Delete the image if its tags are still those planned on; kept (why) otherwise."""
        if decision.kept:
            return decision
        protects = immutability.protected(self.policies, decision.repository)
        try:
            gone = self.meta.delete_manifest(
                decision.repository,
                decision.image.digest,
                protected=protects,
                tags=frozenset(decision.image.tags),
            )
        except StillReferenced:
            return replace(decision, kept="listed by an index pushed during the run")
        except TagImmutable as error:
            return replace(decision, kept=f"immutable tag {error.tag}")
        except TagsChanged:
            return replace(decision, kept="tagged or untagged during the run")
        return decision if gone else replace(decision, kept="deleted during the run")

    def repository(self, repository: str, dry_run: bool = False) -> list[Decision]:
        """Plan the repository and, unless `dry_run`, expire what the plan says."""
        planned = self.plan(repository)
        return planned if dry_run else [self.expire(decision) for decision in planned]

    def preview(self, within: str | None = None) -> Iterator[Decision]:
        """Every repository's plan (or those of `within`): what the next run expires."""
        repository = self.next_repository(None, within)
        while repository is not None:
            yield from self.plan(repository)
            repository = self.next_repository(repository, within)


def _held(image: ImageFacts, present: set[str]) -> str:
    """Why an image is not one of its own (an index's manifest, a live subject's referrer)."""
    if image.listed_by_index:
        return "listed by an index"
    if image.subject is not None and image.subject in present:
        return f"a referrer of {image.subject}"
    return ""


def _immutable(image: ImageFacts, protects: Callable[[str], bool]) -> str:
    tags = [tag for tag in image.tags if protects(tag)]
    return f"immutable tag {tags[0]}" if tags else ""
