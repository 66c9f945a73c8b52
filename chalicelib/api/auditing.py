"""What the router writes to the audit log about registry requests (logins are the token
endpoint's): the methods the route table marks audited (manifest pushes, deletes) once they
succeeded, and, with auth on, every push or delete the gate denied. With auth off the
registry is open to its machine; its deletes are still recorded, under "anonymous", since a
delete is the one change that loses data."""

from __future__ import annotations

from typing import Any

from ..auth.audit import DELETE, DENIED_SUFFIX, AuditEvent, AuditLog
from ..auth.scopes import PUSH
from .messages import Request, Response
from .routes import Method

ANONYMOUS = "anonymous"


def target(params: dict[str, Any]) -> str:
    """The repository, and the reference or digest when the request names one."""
    name = str(params.get("name") or "")
    reference = params.get("reference") or params.get("digest")
    return f"{name}@{reference}" if reference else name


def record_success(
    audit: AuditLog,
    request: Request,
    declared: Method,
    params: dict[str, Any],
    response: Response,
    actor: str,
    only: frozenset[str] | None = None,
) -> None:
    """An audited method that succeeded, as its action (`only`: just these actions)."""
    action = declared.action
    if not declared.audited or action is None or response.status >= 300:
        return
    if only is not None and action not in only:
        return
    audit.record(AuditEvent(actor, action, target(params), request.source))


def record_denied(
    audit: AuditLog, request: Request, declared: Method, params: dict[str, Any], actor: str
) -> None:
    """A push or delete the caller may not make (403 DENIED): `push-denied`, `delete-denied`."""
    if declared.action in (PUSH, DELETE):
        event = AuditEvent(
            actor, f"{declared.action}{DENIED_SUFFIX}", target(params), request.source
        )
        audit.record(event)


OPEN_MODE_ACTIONS = frozenset({DELETE})
