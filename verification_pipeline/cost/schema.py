"""The raw resource samples (raw/cost.parquet): one row per figure read, in the order read."""

import polars as pl

ROWS_SCHEMA: dict[str, pl.DataType] = {
    "seq": pl.Int64(),
    "phase": pl.Utf8(),  # the load phase it was read around: spec.PHASES
    "source": pl.Utf8(),  # "scrape" (the service's /metrics) or "promql" (a Prometheus server); + BASELINE_SIDE
    "quantity": pl.Utf8(),  # spec.QUANTITIES
    "ts": pl.Float64(),  # epoch seconds when it was read
    "value": pl.Float64(),
}

BASELINE_SIDE = "@baseline"
"""Appended to `source` for what was read from the concurrent baseline's deployment, beside this
RC's in the same phase (`scrape@baseline`); rows without it are this RC's service's."""
