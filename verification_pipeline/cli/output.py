"""Tables for people, whole in any terminal and in a pipe: a figure is never cut.

`print_table` prints aligned columns when they fit the terminal's width; when they do not
(an 80- or 40-column terminal), one record per block, each cell on its own line under the
record's first cell; and when stdout is not a terminal (a pipe, a file), aligned columns
whatever their width, which `cut`, `awk` and `column` read. Commands that print a table
also take `--json` for programs.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence

import typer

Row = Sequence[object]


def print_table(headers: Sequence[str], rows: Sequence[Row], *, title: str | None = None) -> None:
    """Print `rows` under `headers`; see the module for the layout chosen."""
    for line in table_lines(headers, rows, title=title, width=terminal_width()):
        typer.echo(line)


def terminal_width() -> int | None:
    """The width to fit, or None when stdout is not a terminal (then nothing is fitted)."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size(fallback=(80, 24)).columns


def table_lines(
    headers: Sequence[str], rows: Sequence[Row], *, title: str | None = None, width: int | None = None
) -> list[str]:
    """The lines `print_table` prints for a terminal of `width` columns (None: no terminal)."""
    cells = [[str(cell) for cell in row] for row in rows]
    columns = [
        max([len(header)] + [len(row[index]) for row in cells]) for index, header in enumerate(headers)
    ]
    aligned = [_aligned(headers, columns)] + [_aligned(row, columns) for row in cells]
    lines = [title] if title else []
    if width is None or max(map(len, aligned)) <= width:
        return lines + aligned
    label = max(len(header) for header in headers[1:])
    for row in cells:
        lines.append(f"{headers[0]} {row[0]}" if headers[0] else row[0])
        lines.extend(
            f"  {header:<{label}}  {cell}" for header, cell in zip(headers[1:], row[1:], strict=True)
        )
    return lines


def _aligned(cells: Sequence[str], columns: list[int]) -> str:
    # text left, figures right: the first column names the record, the others are its figures
    first, *rest = cells
    parts = [first.ljust(columns[0])] + [
        cell.rjust(width) for cell, width in zip(rest, columns[1:], strict=True)
    ]
    return "  ".join(parts).rstrip()
