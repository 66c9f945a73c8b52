"""The image verbs' one extra exit status: what was named does not exist (a 404)."""

from __future__ import annotations

from ..errors import PushError

EXIT_NOT_FOUND = 5


class NotFound(PushError):
    """The registry has no such repository, tag or manifest."""

    exit_code = EXIT_NOT_FOUND
