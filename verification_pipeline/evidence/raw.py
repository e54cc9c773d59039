"""A bundle's raw measurements (raw/<stem>.parquet), read as hostile input.

`audit` recomputes the signed figures from them and the baseline comparison compares two RCs'
raw rows: both read them here, so a file is refused (naming it) unless it is what the pipeline
writes — its schema, durations that are durations, as ingestion checks them — and memory stays
bounded whatever the file claims:
- the footer is read first by pyarrow, whose schema reader refuses nesting deeper than 100
  levels (polars' recursed until the stack ran out: a 2,000-level schema was a SIGSEGV), and the
  schema must be the raw schema before a single row is decoded;
- rows are decoded in batches, each string column kept dictionary-encoded until its decoded size
  is known, and the decoded bytes of a bundle's raw files are capped (`MAX_RAW_DECODED_BYTES`):
  a 600 KB file of 20 million repeated rows stops at the cap instead of expanding to gigabytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from verification_pipeline.authz.schema import ROWS_SCHEMA as AUTHZ_SCHEMA
from verification_pipeline.cost.schema import ROWS_SCHEMA as COST_SCHEMA
from verification_pipeline.errors import FormatError
from verification_pipeline.evidence.content import open_file
from verification_pipeline.evidence.layout import (
    CONCURRENT_BASELINE_FANOUT_STEM,
    CONCURRENT_BASELINE_STEM,
    raw_name,
    raw_stem,
)
from verification_pipeline.fanout.accounting import DELIVERY_SCHEMA
from verification_pipeline.loadtest.ingest import SAMPLE_SCHEMA
from verification_pipeline.overload.schema import ROWS_SCHEMA as OVERLOAD_SCHEMA

RAW_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "read": SAMPLE_SCHEMA,
    "write": SAMPLE_SCHEMA,
    "fanout": DELIVERY_SCHEMA,
    "authz": AUTHZ_SCHEMA,
    "overload": OVERLOAD_SCHEMA,
    "cost": COST_SCHEMA,
    # the concurrent baseline's rows (issue 24)
    CONCURRENT_BASELINE_STEM: SAMPLE_SCHEMA,
    CONCURRENT_BASELINE_FANOUT_STEM: DELIVERY_SCHEMA,
}
"""The raw measurements a bundle holds (raw/<stem>.parquet), each in the schema the pipeline writes."""
DURATION_COLUMNS = ("latency_ms", "ingest_ms")
"""Milliseconds: null where nothing was measured (a dropped iteration, a lost event), else finite and >= 0."""
MAX_RAW_ROWS = 20_000_000
"""Rows per raw file, from the footer before any row: a 3-minute seed run holds ~10^5."""
MAX_RAW_DECODED_BYTES = 192 << 20
"""Decoded bytes of one bundle's raw files together (about 3 million requests): the bound on the
memory they take, whatever their compressed size or row count."""
BATCH_ROWS = 1 << 16
_UNREADABLE_PARQUET = (
    pa.ArrowException,
    pl.exceptions.PolarsError,
    pl.exceptions.PanicException,
    OSError,
    ValueError,
    TypeError,
)
"""What a corrupt or crafted file raises while its footer or pages are read (a panic included:
polars' conversion is the last reader, after pyarrow validated what it hands on)."""


@dataclass
class DecodeBudget:
    """Decoded bytes left for the raw files being read (one budget per bundle)."""

    remaining: int = MAX_RAW_DECODED_BYTES

    def spend(self, size: int, name: str) -> None:
        self.remaining -= size
        if self.remaining < 0:
            raise FormatError(
                f"decodes to more than the {MAX_RAW_DECODED_BYTES >> 20} MiB the raw measurements of "
                "one bundle may take in memory",
                source=name,
                hint="a run this long is audited in parts; a small file that expands this far is a bomb",
            )


def raw_frames(files: Mapping[str, bytes], budget: DecodeBudget | None = None) -> dict[str, pl.DataFrame]:
    """A bundle's raw/*.parquet keyed by stem ("read", "write", "fanout"), each checked."""
    budget = DecodeBudget() if budget is None else budget
    return {
        stem: raw_frame(open_file(files, name), name, budget)
        for name in sorted(files)
        if (stem := raw_stem(name)) is not None
    }


def raw_frame(source: bytes | IO[bytes], name: str, budget: DecodeBudget | None = None) -> pl.DataFrame:
    """One raw measurement file, refused (naming it) unless it is what the pipeline writes."""
    stem = raw_stem(name)
    schema = RAW_SCHEMAS.get(stem) if stem is not None else None
    if schema is None:
        raise FormatError(
            f"not a raw measurement this pipeline records (expected one of "
            f"{', '.join(raw_name(s) for s in RAW_SCHEMAS)})",
            source=name,
        )
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        frame = _decoded(_checked_file(stream, name, schema), name, budget or DecodeBudget())
    except _UNREADABLE_PARQUET as exc:
        raise FormatError(f"not a readable Parquet file ({type(exc).__name__})", source=name) from None
    _check_durations(frame, name)
    return frame


def _checked_file(stream: IO[bytes], name: str, schema: Mapping[str, pl.DataType]) -> pq.ParquetFile:
    """The file, once its footer says it holds the raw schema and at most MAX_RAW_ROWS rows."""
    footer = pq.ParquetFile(stream)
    found = dict(pl.DataFrame(pl.from_arrow(footer.schema_arrow.empty_table())).schema)
    if found != dict(schema):
        raise FormatError(
            f"columns {_schema_text(found)} are not the raw schema {_schema_text(schema)}", source=name
        )
    rows = footer.metadata.num_rows
    if rows > MAX_RAW_ROWS:
        raise FormatError(f"{rows:,} rows is over the {MAX_RAW_ROWS:,}-row limit per raw file", source=name)
    # opened again to decode: string columns stay dictionary-encoded until their size is known
    stream.seek(0)
    return pq.ParquetFile(stream, read_dictionary=[c for c, dtype in schema.items() if dtype == pl.String()])


def _decoded(parquet: pq.ParquetFile, name: str, budget: DecodeBudget) -> pl.DataFrame:
    frames: list[pl.DataFrame] = []
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
        budget.spend(_decoded_size(batch), name)
        columns = [
            column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
            for column in batch.columns
        ]
        decoded = pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
        decoded.validate(full=True)  # e.g. invalid UTF-8, on which polars' conversion panics
        frames.append(pl.DataFrame(pl.from_arrow(decoded)))
    if not frames:
        return pl.DataFrame(pl.from_arrow(parquet.schema_arrow.empty_table()))
    return pl.concat(frames, how="vertical", rechunk=False)


def _decoded_size(batch: pa.RecordBatch) -> int:
    """The batch's size once its dictionary columns are decoded, computed without decoding them."""
    size = 0
    for column in batch.columns:
        if pa.types.is_dictionary(column.type):
            lengths = pc.binary_length(column.dictionary).take(column.indices)
            size += int(pc.sum(lengths).as_py() or 0) + 4 * (len(column) + 1)
        else:
            size += column.nbytes
    return size


def _check_durations(frame: pl.DataFrame, name: str) -> None:
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


def _schema_text(schema: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in schema.items()) + "}"
