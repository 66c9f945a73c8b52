"""Quotas: how many bytes a namespace may store, counted in distinct blobs.

What counts (as Harbor counts a project, research/lifecycle-regions-ui-events.md 1.5): the
blobs (layers and configs) that the manifests of the namespace's repositories reference, each
once however many images, tags or repositories of the namespace share it. So a retag costs
nothing, a second repository built on the same base pays only for its own layers, and deleting
an image frees its blobs from the quota at once, when no other image of the namespace uses
them (the bytes themselves go at the next `soute gc`). Blobs uploaded but not yet in a
manifest do not count, nor do manifests' own bodies (a few kB each). A blob two namespaces use
counts in both.

The quota is checked when a manifest is stored, the moment an image comes to exist: the
storage adapters refuse the write inside the transaction that stores it (QuotaExceeded), so
concurrent pushes cannot pass it together. Layers pushed before a refused manifest stay linked
until the GC's grace ends, as any unreferenced upload does.

A setting is a document of kind `quota` in the PolicyStore on a namespace: `{"bytes": N}`.
Quotas are per namespace only (the first component of a name); a repository scope is refused.
"""

from __future__ import annotations

import json
import logging

from ..oci.names import namespace_of
from ..oci.sizes import parse_size
from ..storage.policy_ports import PolicyStore
from ..storage.ports import Quota

KIND = "quota"

log = logging.getLogger("soute.lifecycle")


class QuotaInvalid(ValueError):
    """A setting that cannot be stored; the message says what is allowed."""


def limit_of(text: str) -> int:
    """A quota written on the command line: `500MB`, `10GiB` or bytes."""
    try:
        size = parse_size(text)
    except ValueError as error:
        raise QuotaInvalid(str(error)) from None
    if size <= 0:
        raise QuotaInvalid(f"{text!r}: a quota is at least 1 byte (`soute quota rm` lifts it)")
    return size


def document(limit: int) -> str:
    return json.dumps({"bytes": limit})


def parse(text: str) -> int:
    """The limit a stored document says; QuotaInvalid otherwise."""
    try:
        data = json.loads(text)
    except ValueError:
        raise QuotaInvalid("the setting is not JSON") from None
    if not isinstance(data, dict) or set(data) != {"bytes"}:
        raise QuotaInvalid('the setting is not a JSON object like {"bytes": 1000000000}')
    limit = data["bytes"]
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise QuotaInvalid(f"bytes: must be a positive whole number, not {limit!r}")
    return limit


def quota_of(
    policies: PolicyStore | None,
    repository: str,
    namespace_settings: dict[str, str] | None = None,
) -> Quota | None:
    """The quota of the namespace `repository` is in, or None. `namespace_settings`: the
    namespace's settings, when the caller read them already (PolicyStore.settings)."""
    if policies is None:
        return None
    namespace = namespace_of(repository)
    if namespace_settings is not None:
        text = namespace_settings.get(KIND)
    else:
        text = policies.get(namespace, KIND)
    if text is None:
        return None
    try:
        return Quota(namespace, parse(text))
    except QuotaInvalid as problem:
        # Changed by hand, not by `soute quota set`: no quota rather than no pushes at all.
        log.warning("quota of %s is invalid (%s): not enforced", namespace, problem)
        return None
