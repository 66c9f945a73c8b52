"""Log lines cannot be forged: control characters in a logged message are escaped.

Account names, paths, user agents, repository names and source addresses are chosen by
clients, and a newline in one of them would start a line of the attacker's writing (an ESC
could rewrite a terminal). Rather than trusting every `log.*` call to quote its values, the
escaping is done once, where every record is made: a log-record factory installed by each
entry point (the `soute` command, gunicorn's logger class, app.py on Lambda), so every module,
handler and formatter, including those of gunicorn, Chalice and the Lambda runtime, gets lines
without control characters. Tracebacks (`exc_info`) are left as they are: they are ours, and
multi-line by nature.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# C0 controls, DEL, C1 controls (NEL among them) and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """`text` with each control character written as a Python escape (`\\n`, `\\x1b`)."""
    return _CONTROL.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    character = match.group()
    if character in _NAMED:
        return _NAMED[character]
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def install_log_escaping() -> None:
    """Escape control characters in every log record made from now on (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "escapes_controls", False):
        return

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _escape_message(record)
        return record

    make_record.escapes_controls = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)


def _escape_message(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format: logging reports it when it emits
        return
    escaped = escape_controls(message)
    if escaped != message:
        record.msg, record.args = escaped, ()
