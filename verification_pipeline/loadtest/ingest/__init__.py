"""k6 raw output (`--out json` NDJSON, `--out csv`, plain or gzip) -> one row per request.

Speed is the point here: a 3-minute seed run at full load writes hundreds of MB, about 16
Point lines per request, and we need four metrics out of them. So no line is parsed as JSON.
The file is read in chunks of whole lines, and one thread per core works on a chunk with the
GIL released, so the threads run in parallel: a compiled scanner (`_k6scan.c`, `scanned.py`)
checks every line for k6's layout, picks the lines of the metrics we read (about one in six)
by prefix and cuts their fields out, in one pass. A chunk holding a line it is unsure of goes
the polars way (`ndjson.polars_chunk`, the reference: the chunk becomes a column of lines and
string kernels do the same), which names a bad line. The fields are typed and checked once,
for the whole file. Memory stays at a few chunks plus the points we keep, whatever the file size.

How the Point lines of one request are joined: k6 writes each metric of a request as its own
line with the same tags and time, and lines of concurrent VUs interleave, so order tells
nothing. Our scripts (`loadtest/scripts/`) put a `request_id` into k6's per-sample metadata
(`exec.vu.metrics.metadata`, not an indexed tag, so no new time series per request) while a
request is in flight; `http_req_duration`, our `graphql_errors` Rate and `ingest_duration`
Trend of that request carry the same id. `http_req_duration` gives latency, time and the
`status` / `error_code` tags; the other two are joined on `request_id`.

Dropped iterations (k6's `dropped_iterations` counter, open model) are requests the load
model owed the target but never sent: they become rows with `failure = "dropped"`, a null
latency and status 0, so one table carries every request and the error rate is plainly
failed rows over rows; latency figures use the rows that have a latency.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from verification_pipeline.errors import FormatError, NoDataError
from verification_pipeline.loadtest.ingest.blocks import (
    BLOCK_BYTES,
    Progress,
    decompressed,
    open_source,
    read_blocks,
    read_head,
)
from verification_pipeline.loadtest.ingest.k6csv import CSV_DEFAULT_HEADER, CSV_FIXED, csv_points
from verification_pipeline.loadtest.ingest.memory import reuse_freed_blocks
from verification_pipeline.loadtest.ingest.ndjson import ndjson_points
from verification_pipeline.loadtest.ingest.points import requests_of
from verification_pipeline.loadtest.ingest.schema import (
    DROPPED,
    DROPPED_METRIC,
    FAILURE_KINDS,
    GRAPHQL,
    GRAPHQL_ERRORS_METRIC,
    HTTP,
    INGEST_METRIC,
    METRICS,
    REQUEST_METRIC,
    SAMPLE_SCHEMA,
    TIMEOUT,
)
from verification_pipeline.loadtest.ingest.stages import StageTimes


def ingest(
    source: str | Path | bytes,
    *,
    role: str | None = None,
    segment: str | None = None,
    name: str | None = None,
    on_progress: Progress | None = None,
    stages: StageTimes | None = None,
) -> pl.DataFrame:
    """Read one k6 output file (path or its bytes) into rows of `SAMPLE_SCHEMA`.

    `op` is the request's `op` tag, else its k6 scenario (unless k6's implicit `default`),
    else `role` (given, or from the file name: read.json -> read), else the scenario name.
    `segment` labels which k6 process produced the rows (its execution segment, e.g.
    "0:1/2"); it defaults to the source's name. The format is detected from the content.
    `on_progress(bytes_read, total_bytes)` is called after each block; `stages` collects
    where the time went (NDJSON).
    """
    clock = stages or StageTimes()
    label = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    role = role or role_from_name(label)
    raw, total = open_source(source, label)
    with raw:
        head = read_head(raw, label)
        if not head.strip():
            raise NoDataError(
                "the file is empty: k6 wrote no output (did the run start?)", source=label, line=1
            )
        if head.lstrip().startswith(b"{"):
            reuse_freed_blocks()
            points = ndjson_points(decompressed(raw), label, raw, total, on_progress, clock)
        elif head.startswith(CSV_FIXED[0].encode()):
            points = csv_points(read_blocks(decompressed(raw), label, raw, total, on_progress), label)
        else:
            raise FormatError(
                "not k6 output: expected `--out json` lines ({...}) or `--out csv` "
                f"(header {CSV_DEFAULT_HEADER}); the file starts with "
                f"'{head[:60].decode('utf-8', 'backslashreplace')}'",
                source=label,
                line=1,
            )
    with clock.stage("requests"):
        return requests_of(points, label, role=role, segment=segment or Path(label).name)


def merge_segments(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The rows of several k6 processes (execution segments, or files) as one table, by time.

    Percentiles of a split test come from these merged rows, never from per-process summaries.
    """
    if not frames:
        return pl.DataFrame(schema=SAMPLE_SCHEMA)
    return pl.concat(frames, how="vertical").sort("timestamp", maintain_order=True)


def role_from_name(name: str) -> str | None:
    """`read` or `write` when the file name says so (the seed's CI writes read.json, write.json)."""
    match = re.match(r"(read|write)(?![a-z])", Path(name).name.lower())
    return match.group(1) if match else None


__all__ = [
    "BLOCK_BYTES",
    "CSV_DEFAULT_HEADER",
    "DROPPED",
    "DROPPED_METRIC",
    "FAILURE_KINDS",
    "GRAPHQL",
    "GRAPHQL_ERRORS_METRIC",
    "HTTP",
    "INGEST_METRIC",
    "METRICS",
    "REQUEST_METRIC",
    "SAMPLE_SCHEMA",
    "TIMEOUT",
    "StageTimes",
    "ingest",
    "merge_segments",
    "role_from_name",
]
