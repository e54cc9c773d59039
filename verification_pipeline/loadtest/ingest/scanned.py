"""The compiled scanner (`_k6scan.c`): a chunk's wanted points in one pass, as `ndjson_fields` cuts them.

The polars path in `ndjson.py` (the chunk as a column of lines, `picked_lines`, `ndjson_fields`)
stays the reference: the scanner gives a chunk back (None) whenever it holds a line it cannot take
with certainty (a bad line, a control byte, invalid UTF-8, an escape inside a field read), and
that chunk goes the polars way, which names the bad line. For the chunks it takes, it finds the
same lines and cuts each field where the regex extract would, and hands polars the columns as
Arrow buffers (the Arrow C data interface: no Python object per line, no copy in Python).
"""

from __future__ import annotations

import importlib
from types import ModuleType

import polars as pl

from verification_pipeline.loadtest.ingest.schema import GRAPHQL_ERRORS_METRIC, INGEST_METRIC
from verification_pipeline.loadtest.ingest.stages import StageTimes


def _built_scanner() -> ModuleType | None:
    """The compiled scanner; None in a source tree where it was not built (an older commit's files
    that a benchmark runs as its "before"): then polars takes every chunk, as before the scanner.
    Where the project is installed it is built: tests/loadtest/test_k6scan.py imports it directly."""
    try:
        return importlib.import_module("verification_pipeline.loadtest.ingest._k6scan")
    except ImportError:
        return None


_SCANNER = _built_scanner()


class _ArrowColumns:
    """The scanner's columns for polars, through the Arrow PyCapsule interface (no copy in Python)."""

    def __init__(self, capsules: tuple[object, object]) -> None:
        self.capsules = capsules

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]:
        return self.capsules


def scanned_points(data: bytes | memoryview, clock: StageTimes) -> tuple[pl.DataFrame | None, int] | None:
    """The wanted points of a chunk of whole lines (None when there are none) and how many lines
    it holds, as `ndjson_fields(picked_lines(...))` gives them; None: leave the chunk to polars.

    Stages: the scan counts as `split` (it also checks and picks the lines), making the frame as `parse`.
    """
    if _SCANNER is None:
        return None
    with clock.stage("split"):
        scanned = _SCANNER.scan(data)
    if scanned is None:
        return None
    lines, rows, capsules = scanned
    if not rows:
        return None, lines
    with clock.stage("parse"):
        points = pl.DataFrame(_ArrowColumns(capsules))
        # `ndjson_fields` puts the per-request metrics' points after the others.
        per_request = pl.col("metric").is_in([GRAPHQL_ERRORS_METRIC, INGEST_METRIC])
        return pl.concat([points.filter(~per_request), points.filter(per_request)]), lines
