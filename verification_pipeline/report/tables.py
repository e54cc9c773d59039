"""An HTML table of the report: its id, its header row and its rows (already HTML)."""

from __future__ import annotations

from collections.abc import Iterable


def table(table_id: str, headers: Iterable[str], rows: str) -> str:
    """`<table id=…>` with one `<th>` per header (HTML, escaped by the caller) and then `rows`."""
    head = "".join(f"<th>{header}</th>" for header in headers)
    return f'<table id="{table_id}"><tr>{head}</tr>{rows}</table>'
