"""A bundle's raw measurements (raw/<stem>.parquet), read as hostile input.

`audit` recomputes the signed figures from them and the baseline comparison compares two RCs'
raw rows: both read them here, so a file is refused (naming it) unless it is what the pipeline
writes — its schema, a bounded row count read from the footer before any row, and durations
that are durations, as ingestion checks them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import polars as pl

from verification_pipeline.authz.schema import ROWS_SCHEMA as AUTHZ_SCHEMA
from verification_pipeline.errors import FormatError
from verification_pipeline.evidence.layout import raw_name, raw_stem
from verification_pipeline.fanout.accounting import DELIVERY_SCHEMA
from verification_pipeline.loadtest.ingest import SAMPLE_SCHEMA

RAW_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "read": SAMPLE_SCHEMA,
    "write": SAMPLE_SCHEMA,
    "fanout": DELIVERY_SCHEMA,
    "authz": AUTHZ_SCHEMA,
}
"""The raw measurements a bundle holds (raw/<stem>.parquet), each in the schema the pipeline writes."""
DURATION_COLUMNS = ("latency_ms", "ingest_ms")
"""Milliseconds: null where nothing was measured (a dropped iteration, a lost event), else finite and >= 0."""
MAX_RAW_ROWS = 20_000_000
"""Rows per raw file: a 3-minute seed run holds ~10^5; the cap stops a tiny file that claims
hundreds of millions of rows from being expanded in memory."""
_UNREADABLE_PARQUET = (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError)
"""What polars raises on a corrupt file; a crafted footer can make its reader panic."""


def raw_frames(files: Mapping[str, bytes]) -> dict[str, pl.DataFrame]:
    """A bundle's raw/*.parquet keyed by stem ("read", "write", "fanout"), each checked."""
    return {
        stem: raw_frame(files[name], name) for name in sorted(files) if (stem := raw_stem(name)) is not None
    }


def raw_frame(data: bytes, name: str) -> pl.DataFrame:
    """One raw measurement file, refused (naming it) unless it is what the pipeline writes."""
    stem = raw_stem(name)
    schema = RAW_SCHEMAS.get(stem) if stem is not None else None
    if schema is None:
        raise FormatError(
            f"not a raw measurement this pipeline records (expected one of "
            f"{', '.join(raw_name(s) for s in RAW_SCHEMAS)})",
            source=name,
        )
    try:
        found = pl.read_parquet_schema(io.BytesIO(data))
        rows = pl.scan_parquet(io.BytesIO(data)).select(pl.len()).collect().item()
    except _UNREADABLE_PARQUET as exc:
        raise FormatError(f"not a readable Parquet file ({type(exc).__name__})", source=name) from None
    if dict(found) != dict(schema):
        raise FormatError(
            f"columns {_schema_text(found)} are not the raw schema {_schema_text(schema)}", source=name
        )
    if rows > MAX_RAW_ROWS:
        raise FormatError(f"{rows:,} rows is over the {MAX_RAW_ROWS:,}-row limit per raw file", source=name)
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except _UNREADABLE_PARQUET as exc:
        raise FormatError(f"not a readable Parquet file ({type(exc).__name__})", source=name) from None
    for column in DURATION_COLUMNS:
        if column not in frame.columns:
            continue
        value = pl.col(column)
        bad = frame.with_row_index("row").filter(value.is_nan() | value.is_infinite() | (value < 0))
        if bad.height:
            raise FormatError(
                f"row {bad['row'][0]}: {column} {bad[column][0]!r} is not a duration "
                "(negative, NaN or infinite milliseconds)",
                source=name,
                hint="ingestion refuses such points; this file was not written by the pipeline",
            )
    return frame


def _schema_text(schema: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in schema.items()) + "}"
