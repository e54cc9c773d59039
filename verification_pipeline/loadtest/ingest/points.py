"""From points to requests: the fields typed and checked, the Point lines of a request joined."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
from polars.expr.whenthen import ChainedThen, Then

from verification_pipeline.errors import FormatError, NoDataError
from verification_pipeline.loadtest.ingest.schema import (
    DROPPED,
    DROPPED_METRIC,
    GRAPHQL,
    GRAPHQL_ERRORS_METRIC,
    HTTP,
    IMPLICIT_SCENARIO,
    INGEST_METRIC,
    MAX_DROPPED_ITERATIONS,
    REQUEST_ID,
    REQUEST_METRIC,
    SAMPLE_SCHEMA,
    TIMEOUT,
    TIMEOUT_ERROR_CODES,
)

K6_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"


def k6_times(times: pl.Series) -> pl.Series:
    """k6 writes RFC 3339 with nanoseconds, trailing zeros cut, `Z` or a local offset."""
    return times.str.to_datetime(K6_TIME_FORMAT, time_unit="us", time_zone="UTC", strict=False)


def raw_points() -> pl.DataFrame:
    """No points yet, as text fields the way `ndjson_fields` cuts them out."""
    return pl.DataFrame(
        schema={"row": pl.Int64, "metric": pl.String}
        | {
            column: pl.String
            for column in ("time", "value", "status", "error_code", "scenario", "op", "request_id")
        }
    )


def empty_points() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "metric": pl.String,
            "timestamp": pl.Datetime("us", "UTC"),
            "value": pl.Float64,
            "status": pl.Int32,
            "error_code": pl.String,
            "scenario": pl.String,
            "op": pl.String,
            "request_id": pl.String,
        }
    )


def checked_points(
    raw: pl.DataFrame,
    parse_times: Callable[[pl.Series], pl.Series],
    fail: Callable[[int, str], None],
) -> pl.DataFrame:
    """Typed points; the first point missing what its metric needs is an error naming its line.

    `raw` holds text fields and `row`, the point's position among the block's rows, which
    `fail(row, what)` raises the error for.
    """
    points = raw.with_columns(
        timestamp=parse_times(raw["time"]),
        value=pl.col("value").cast(pl.Float64, strict=False),
        status=pl.col("status").cast(pl.Int32, strict=False),
    )
    metric, value = pl.col("metric"), pl.col("value")
    problems = [
        (
            metric.is_in([REQUEST_METRIC, DROPPED_METRIC]) & pl.col("timestamp").is_null(),
            "has no readable time",
        ),
        (value.is_null() | value.is_nan(), "has no numeric value"),
        ((metric == REQUEST_METRIC) & pl.col("status").is_null(), "has no numeric status tag"),
        (
            metric.is_in([GRAPHQL_ERRORS_METRIC, INGEST_METRIC]) & pl.col("request_id").is_null(),
            (
                f"has no {REQUEST_ID} metadata to join it to its request "
                "(use the scripts in verification_pipeline/loadtest/scripts, or drop this metric)"
            ),
        ),
        (
            metric.is_in([REQUEST_METRIC, INGEST_METRIC]) & ((value < 0) | value.is_infinite()),
            "is not a duration: negative or infinite milliseconds",
        ),
        ((metric == DROPPED_METRIC) & ((value < 1) | (value != value.floor())), "is not a whole count"),
        (
            (metric == DROPPED_METRIC) & (value > MAX_DROPPED_ITERATIONS),
            f"is an implausible count (over {MAX_DROPPED_ITERATIONS:,} dropped iterations in one point)",
        ),
    ]
    # One pass for all of them: per row the first problem it has; the earliest row is reported.
    chain: Then | ChainedThen = pl.when(problems[0][0]).then(0)
    for index, (condition, _) in enumerate(problems[1:], start=1):
        chain = chain.when(condition).then(index)
    bad = points.filter(chain.is_not_null()).select("row", "metric", problem=chain).sort("row").head(1)
    if bad.height:
        fail(bad["row"][0], f"{bad['metric'][0]} point {problems[bad['problem'][0]][1]}")
    return points.select(empty_points().columns)


def requests_of(points: pl.DataFrame, label: str, *, role: str | None, segment: str) -> pl.DataFrame:
    metric = pl.col("metric")
    requests = points.filter(metric == REQUEST_METRIC)
    dropped = points.filter(metric == DROPPED_METRIC)
    if requests.is_empty() and dropped.is_empty():
        raise NoDataError(
            f"no {REQUEST_METRIC} or {DROPPED_METRIC} points: the file holds no HTTP requests",
            source=label,
            hint="is this the output of an HTTP load test that ran for a while?",
        )
    if (total_dropped := dropped["value"].sum()) > MAX_DROPPED_ITERATIONS:
        raise FormatError(
            f"the {DROPPED_METRIC} points add up to {total_dropped:,.0f}, an implausible count "
            f"(over {MAX_DROPPED_ITERATIONS:,} dropped iterations in one file)",
            source=label,
        )
    graphql_errors = _by_request(points.filter(metric == GRAPHQL_ERRORS_METRIC), "graphql_error", label)
    ingest = _by_request(points.filter(metric == INGEST_METRIC), "ingest_ms", label)
    if (graphql_errors.height or ingest.height) and requests["request_id"].drop_nulls().is_duplicated().any():
        raise FormatError(
            f"several {REQUEST_METRIC} points share one {REQUEST_ID}, so the custom metrics cannot be "
            "matched to their request",
            source=label,
            hint="each iteration of our scripts sends one request; do not reuse their metadata",
        )
    answered = (
        requests.join(graphql_errors, on="request_id", how="left", maintain_order="left")
        .join(ingest, on="request_id", how="left", maintain_order="left")
        .with_columns(latency_ms=pl.col("value"), failure=_failure_kind())
    )
    never_sent = _never_sent(dropped)
    scenario = pl.col("scenario")
    op = pl.coalesce(
        pl.col("op"),
        pl.when(scenario != IMPLICIT_SCENARIO).then(scenario),
        pl.lit(role, pl.String),
        scenario,
    )
    return (
        pl.concat(
            [
                frame.select("timestamp", "op", "scenario", "latency_ms", "status", "failure", "ingest_ms")
                for frame in (answered, never_sent)
            ]
        )
        .with_columns(op=op, ok=pl.col("failure").is_null(), segment=pl.lit(segment, pl.String))
        .select(list(SAMPLE_SCHEMA))
        .cast(pl.Schema(SAMPLE_SCHEMA))
        .sort("timestamp", maintain_order=True)
    )


def _failure_kind() -> pl.Expr:
    """Why an answered request failed, the first that applies: timeout, HTTP status, GraphQL error."""
    status = pl.col("status")
    return (
        pl.when(pl.col("error_code").is_in(TIMEOUT_ERROR_CODES))
        .then(pl.lit(TIMEOUT))
        .when((status < 200) | (status >= 400))
        .then(pl.lit(HTTP))
        .when(pl.col("graphql_error").fill_null(False))
        .then(pl.lit(GRAPHQL))
        .otherwise(pl.lit(None, pl.String))
    )


def _never_sent(dropped: pl.DataFrame) -> pl.DataFrame:
    """One row per dropped iteration (a point counts several): no latency, status 0, `dropped`."""
    return (
        dropped.with_columns(pl.col("timestamp").repeat_by(pl.col("value").cast(pl.UInt32)))
        .explode("timestamp")
        .with_columns(
            latency_ms=pl.lit(None, pl.Float64),
            status=pl.lit(0, pl.Int32),
            failure=pl.lit(DROPPED),
            ingest_ms=pl.lit(None, pl.Float64),
        )
    )


def _by_request(points: pl.DataFrame, column: str, label: str) -> pl.DataFrame:
    """One value per request id, from a custom metric recorded once per request."""
    if points["request_id"].is_duplicated().any():
        duplicate = points.filter(pl.col("request_id").is_duplicated())["request_id"][0]
        raise FormatError(
            f"{points['metric'][0]} was recorded twice for {REQUEST_ID} {duplicate!r}", source=label
        )
    value = pl.col("value") != 0 if column == "graphql_error" else pl.col("value")
    return points.select("request_id", value.alias(column))
