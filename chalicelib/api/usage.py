"""GET /v2/_soute/usage?repository=<name>: what a repository uses, the figures of `soute du`
(chalicelib/lifecycle/usage.py), for the web interface. Whoever may pull the repository may
read them, and, when its namespace has a quota, the quota and what it counts
(`namespace_quota`: namespace, quota_bytes, used_bytes)."""

from __future__ import annotations

from ..oci.errors import OCIError
from ..registry.service import Registry
from .messages import Request, Response


def repository_usage(registry: Registry, request: Request, name: str) -> Response:
    if registry.usage is None:
        raise OCIError("UNSUPPORTED", "this registry does not report usage", status=404)
    if not registry.manifests.meta.repository_exists(name):
        raise OCIError("NAME_UNKNOWN", f"repository {name} is not known")
    document = registry.usage.repository(name).document()
    if (quota := registry.usage.quota(name)) is not None:
        document["namespace_quota"] = quota.document()
    return Response.json(200, document)
