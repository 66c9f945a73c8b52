"""Durations on the command line: `90s`, `30m`, `24h`, `7d`, combined (`1h30m`), or plain
seconds (`0`, `3600`)."""

from __future__ import annotations

import argparse
import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str) -> float:
    """Seconds in `text`; ValueError naming the accepted forms otherwise."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = _PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(
            f"{text!r} is not a duration: write it like 90s, 30m, 24h, 7d or 1h30m (or seconds)"
        )
    return sum(float(number) * UNITS[unit] for number, unit in parts)


def format_duration(seconds: float) -> str:
    """The shortest exact way to write `seconds` in the largest units: 1d, 90m, 0s."""
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    for unit in ("d", "h", "m"):
        if whole and whole % UNITS[unit] == 0:
            return f"{whole // UNITS[unit]}{unit}"
    return f"{whole}s"


def duration_argument(text: str) -> float:
    """parse_duration for argparse: a wrong duration is a usage error, one line."""
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
