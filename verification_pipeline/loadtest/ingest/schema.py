"""What ingestion produces and reads: the rows' schema, the k6 metrics read, the kinds of failure."""

from __future__ import annotations

import polars as pl

SAMPLE_SCHEMA: dict[str, pl.DataType] = {
    "timestamp": pl.Datetime("us", "UTC"),
    "op": pl.String(),
    "latency_ms": pl.Float64(),
    "status": pl.Int32(),
    "ok": pl.Boolean(),
    "failure": pl.String(),
    "scenario": pl.String(),
    "segment": pl.String(),
    "ingest_ms": pl.Float64(),
}

REQUEST_METRIC = "http_req_duration"
GRAPHQL_ERRORS_METRIC = "graphql_errors"
INGEST_METRIC = "ingest_duration"
DROPPED_METRIC = "dropped_iterations"
REQUEST_ID = "request_id"
METRICS = (REQUEST_METRIC, GRAPHQL_ERRORS_METRIC, INGEST_METRIC, DROPPED_METRIC)

# Failure kinds, in the order reports list them (`_requests` decides: timeout, http, graphql).
DROPPED, TIMEOUT, HTTP, GRAPHQL = "dropped", "timeout", "http", "graphql"
FAILURE_KINDS = (HTTP, GRAPHQL, TIMEOUT, DROPPED)
# k6 error codes for a request that ran out of time (request timeout, TCP dial timeout).
TIMEOUT_ERROR_CODES = ("1050", "1211")
# k6's name for the scenario of a script without `scenarios`: it says nothing about the op.
IMPLICIT_SCENARIO = "default"

# Dropped iterations become one row each. k6 writes a count per Point (1 for an arrival-rate
# drop, the unstarted rest for an iteration-based executor); more than this in one file is no
# real run, and expanding it into rows would exhaust memory instead of failing.
MAX_DROPPED_ITERATIONS = 10_000_000
