"""Human output of the image verbs: aligned columns, drawn by rich on a terminal and written as
plain text (spaces, no colour, no box) otherwise, so `grep` and `awk` work on it."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

Row = Sequence[str]


def plain_table(headers: Row | None, rows: Sequence[Row], indent: int = 0) -> list[str]:
    """Rows padded to the widest cell of each column (the last column is not padded)."""
    lines = [list(headers)] if headers else []
    lines += [list(row) for row in rows]
    if not lines:
        return []
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    pad = " " * indent
    out = []
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=False)]
        out.append((pad + "  ".join([*cells, line[-1]])).rstrip())
    return out


class Output:
    """Where human output goes: rich tables on a terminal, plain columns otherwise."""

    def __init__(self, rich: bool | None = None) -> None:
        self.rich = sys.stdout.isatty() if rich is None else rich
        self._console: Any = None

    def line(self, text: str = "") -> None:
        if self.rich:
            self._rich().print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text)

    def table(self, headers: Row | None, rows: Sequence[Row], indent: int = 0) -> None:
        if not self.rich:
            for text in plain_table(headers, rows, indent):
                print(text)
            return
        from rich.padding import Padding
        from rich.table import Table

        table = Table(box=None, show_header=bool(headers), padding=(0, 2, 0, 0), pad_edge=False)
        for header in headers or [""] * (len(rows[0]) if rows else 1):
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*row)
        self._rich().print(Padding(table, (0, 0, 0, indent), expand=False))

    def _rich(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False)
        return self._console
