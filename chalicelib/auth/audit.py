"""The audit log: who did what, when and from where, for logins, pushes, deletes and
permission changes. Events hold names and outcomes, never a secret."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

LOGIN, LOGIN_FAILED, LOGIN_THROTTLED = "login", "login-failed", "login-throttled"
PUSH, DELETE = "push", "delete"
DENIED_SUFFIX = "-denied"  # push-denied, delete-denied: a caller who may not


@dataclass(frozen=True)
class AuditEvent:
    actor: str  # a user, a robot (ns+name), "anonymous", or the OS user for the admin CLI
    action: str  # LOGIN, PUSH, DELETE (+ DENIED_SUFFIX), or an admin verb such as "team join"
    target: str  # the repository and reference, or what the admin verb changed
    source: str = ""  # the client's address, "cli" for the admin verbs
    at: float = field(default_factory=time.time)


class AuditLog(Protocol):
    def record(self, event: AuditEvent) -> None: ...

    def events(self, limit: int = 100, actor: str | None = None) -> list[AuditEvent]:
        """The latest events, newest first."""
        ...
