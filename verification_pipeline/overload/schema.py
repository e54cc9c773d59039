"""The raw rows of the overload phase (raw/overload.parquet): one per request k6 owed the target."""

import polars as pl

ROWS_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Float64(),  # epoch seconds when the answer came (or k6 dropped the request)
    "scenario": pl.Utf8(),  # overload | recovery (tenant A) | neighbour (tenant B)
    "tenant": pl.Utf8(),  # "a" (driven past its limit) or "b" (the neighbour)
    "status": pl.Int64(),  # HTTP status; 0 when nothing came back (timeout, broken connection, dropped)
    "latency_ms": pl.Float64(),  # null for a request k6 dropped (no free VU: never sent)
    "retry_after_s": pl.Float64(),  # the Retry-After in seconds; null when absent or unreadable
    "error_code": pl.Int64(),  # k6's error code (1050: timeout); 0 without one
    "dropped": pl.Boolean(),  # k6 owed the request but never sent it
}
SCENARIOS = ("overload", "recovery", "neighbour")
