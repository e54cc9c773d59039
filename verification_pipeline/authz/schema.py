"""The raw rows of forbidden requests (raw/authz.parquet): one per attempt, in the order sent."""

import polars as pl

ROWS_SCHEMA: dict[str, pl.DataType] = {
    "seq": pl.Int64(),
    "ts": pl.Float64(),  # epoch seconds when the request was sent
    "kind": pl.Utf8(),  # probe.Kind
    "status": pl.Int64(),  # HTTP status; 0 when nothing came back (timeout, broken connection)
    "outcome": pl.Utf8(),  # probe.Outcome
    "latency_ms": pl.Float64(),
}
