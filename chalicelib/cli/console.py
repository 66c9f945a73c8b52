"""The console the AWS verbs print through. What they print comes from AWS (stack events,
ARNs) or from a table or bucket (repository names, so from whoever could push): it prints as it
is, with rich's markup, highlighting and :emoji: codes off (":secret:" in an ARN is one)."""

from __future__ import annotations

from typing import Any


def plain_console() -> Any:
    from rich.console import Console

    return Console(highlight=False, markup=False, emoji=False, soft_wrap=True)
