"""k6 raw output (`--out json` NDJSON, `--out csv`, plain or gzip) -> one row per request.

Speed is the point here: a 3-minute seed run at full load writes hundreds of MB, about 16
Point lines per request, and we need four metrics out of them. So no line is parsed as JSON.
The file is read in blocks; per block a few byte-level passes (`bytes.count`, one regex)
check that every line has k6's layout and pick out the lines of the metrics we read; only
those (about one line in six) become a polars column, and polars string kernels cut the
fields out. Memory stays at a few blocks whatever the file size.

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

import gzip
import io
import json
import re
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, NamedTuple

import polars as pl

from verification_pipeline.errors import FormatError, NoDataError

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

BLOCK_BYTES = 8 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
CSV_FIXED = ("metric_name", "timestamp", "metric_value")
CSV_TRAILING = ("extra_tags", "metadata")
# k6's indexable system tags: the columns its CSV output may hold between the fixed ones.
CSV_TAG_COLUMNS = frozenset(
    ("check", "error", "error_code", "expected_response", "group", "method", "name", "ocsp_status", "proto")
    + ("scenario", "service", "status", "subproto", "tls_version", "url", "ip")
)
CSV_DEFAULT_HEADER = (
    "metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,"
    "proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata"
)

# Points wanted, at a line start, in k6's (v0.3x and later) layout: metric, then type, then data.
_WANTED_LINE = re.compile(
    rb'\n\{"metric":"(?:' + b"|".join(m.encode() for m in METRICS) + rb')","type":"Point".*'
)
_POINT_START = b'}\n{"metric":"'
_METRIC_START = b'}\n{"type":"Metric"'
_LINE_STARTS = (b'{"metric":"', b'{"type":"Metric"')
_K6_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"
# Wanted lines become one-column CSV: a separator byte that never occurs in JSON text.
_SEPARATOR = b"\x1f"

Progress = Callable[[int, int | None], None]


def ingest(
    source: str | Path | bytes,
    *,
    role: str | None = None,
    segment: str | None = None,
    name: str | None = None,
    on_progress: Progress | None = None,
) -> pl.DataFrame:
    """Read one k6 output file (path or its bytes) into rows of `SAMPLE_SCHEMA`.

    `op` is the request's `op` tag, else its k6 scenario (unless k6's implicit `default`),
    else `role` (given, or from the file name: read.json -> read), else the scenario name.
    `segment` labels which k6 process produced the rows (its execution segment, e.g.
    "0:1/2"); it defaults to the source's name. The format is detected from the content.
    `on_progress(bytes_read, total_bytes)` is called after each block.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    role = role or role_from_name(label)
    raw, total = _open(source, label)
    with raw:
        head = _head(raw, label)
        if not head.strip():
            raise NoDataError(
                "the file is empty: k6 wrote no output (did the run start?)", source=label, line=1
            )
        blocks = _blocks(_decompressed(raw), label, raw, total, on_progress)
        if head.lstrip().startswith(b"{"):
            points = _ndjson_points(blocks, label)
        elif head.startswith(CSV_FIXED[0].encode()):
            points = _csv_points(blocks, label)
        else:
            raise FormatError(
                "not k6 output: expected `--out json` lines ({...}) or `--out csv` "
                f"(header {CSV_DEFAULT_HEADER}); the file starts with {head[:60]!r}",
                source=label,
                line=1,
            )
    return _requests(points, label, role=role, segment=segment or Path(label).name)


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


# --- reading --------------------------------------------------------------------------------


def _open(source: str | Path | bytes, label: str) -> tuple[BinaryIO, int | None]:
    if isinstance(source, bytes):
        return io.BytesIO(source), len(source)
    path = Path(source)
    try:
        return path.open("rb"), path.stat().st_size
    except OSError as exc:
        raise FormatError(f"cannot read the file: {exc.strerror or exc}", source=label) from exc


def _decompressed(raw: BinaryIO) -> BinaryIO:
    raw.seek(0)
    magic = raw.read(len(GZIP_MAGIC))
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw, mode="rb") if magic == GZIP_MAGIC else raw


def _head(raw: BinaryIO, label: str) -> bytes:
    """The first bytes of the content (decompressed), to tell the format; rewinds `raw`."""
    head = bytearray(4096)
    read = _read_into(_decompressed(raw), memoryview(head), label, 0)
    raw.seek(0)
    return bytes(head[:read])


def _read_into(stream: BinaryIO, into: memoryview, label: str, lines_before: int) -> int:
    """Fill `into` from the stream; a broken gzip stream becomes a FormatError naming where."""
    try:
        return stream.readinto(into)
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise FormatError(
            f"corrupt or truncated gzip data after line {lines_before} ({exc})",
            source=label,
            line=lines_before + 1,
            hint="copy the file again, or rerun k6",
        ) from exc


class _Block(NamedTuple):
    """Lines `buffer[0:end]`, starting with the newline that ends the line before them.

    `buffer` is reused for the next block: take copies of what must outlive the iteration.
    """

    buffer: bytearray
    end: int
    first_line: int
    lines: int
    complete: bool


def _blocks(
    stream: BinaryIO, label: str, raw: BinaryIO, total: int | None, on_progress: Progress | None
) -> Iterator[_Block]:
    """The stream as blocks of whole lines, read alternately into two reused buffers.

    Reusing buffers matters: a fresh block-sized object per block costs more in page faults
    than the scanning does. Two of them let a block still being worked on elsewhere stay intact
    while the next is read: a caller may hold on to one block while it asks for the next, and
    must be done with it before asking for the one after. A last line without its newline
    comes alone with complete=False: k6 ends every line, so it may have been cut.
    """
    # Small inputs get small buffers; a gzip stream's size is unknown, so reads grow to a block.
    read_size = min(BLOCK_BYTES, max(1 << 16, total or BLOCK_BYTES))
    buffers = [bytearray(read_size + (1 << 16)), bytearray(read_size + (1 << 16))]
    buffer = buffers[0]
    buffer[0] = ord("\n")
    start, line = 1, 1
    while True:
        if len(buffer) - start < read_size:  # a line longer than a block, or a grown read: make room
            buffer.extend(bytes(start + read_size - len(buffer)))
        read = _read_into(stream, memoryview(buffer)[start : start + read_size], label, line - 1)
        read_size = min(BLOCK_BYTES, 2 * read_size)
        if on_progress:
            on_progress(raw.tell(), total)
        end = start + read
        if not read:
            if end > 1:
                yield _Block(buffer, end, line, 1, False)
            return
        cut = buffer.rfind(b"\n", 0, end)
        if cut > 0:
            lines = buffer.count(b"\n", 0, cut)
            yield _Block(buffer, cut, line, lines, True)
            line += lines
            following = buffers[1] if buffer is buffers[0] else buffers[0]
            if len(following) < end - cut:
                following.extend(bytes(end - cut - len(following)))
            following[0 : end - cut] = buffer[cut:end]
            buffer, start = following, end - cut
        else:
            start = end


# --- NDJSON ---------------------------------------------------------------------------------


def _ndjson_points(blocks: Iterator[_Block], label: str) -> pl.DataFrame:
    """Points of the wanted metrics. The byte scanning of a block (Python, holding the GIL)
    overlaps with polars cutting fields out of the block before it (Rust, GIL released)."""
    frames = []
    with ThreadPoolExecutor(max_workers=1) as fields_worker:
        previous: Future[pl.DataFrame] | None = None
        for block in blocks:
            try:
                if not block.complete:
                    _check_last_line(block, label)
                _check_layout(block, label)
                wanted = _WANTED_LINE.findall(block.buffer, 0, block.end)
            finally:
                # Done with the block before (its buffer is read next); its error, if any, comes first.
                if previous is not None:
                    frames.append(previous.result())
                    previous = None
            if wanted:
                previous = fields_worker.submit(_ndjson_fields, block, wanted, label)
        if previous is not None:
            frames.append(previous.result())
    return pl.concat(frames) if frames else _empty_points()


def _check_last_line(block: _Block, label: str) -> None:
    """A last line with no newline is complete only if it is a whole JSON object."""
    try:
        json.loads(block.buffer[: block.end])
    except (ValueError, RecursionError):  # RecursionError: nested deeper than any k6 line
        raise FormatError(
            f"the last line is truncated ({block.end - 1} bytes, not a whole JSON object): k6 was "
            "stopped while writing, or the file was cut",
            source=label,
            line=block.first_line,
            hint="rerun k6, or delete the partial last line to use the rest",
        ) from None


def _check_layout(block: _Block, label: str) -> None:
    """Every line is a k6 Point or Metric object, or we say which line is not.

    Counting the line boundaries `}\\n{"metric":"` and `}\\n{"type":"Metric"` against the
    newlines takes a few memchr-speed passes; only a mismatch pays for a line-by-line search.
    """
    buffer, end = block.buffer, block.end
    inner = buffer.count(_POINT_START, 0, end) + buffer.count(_METRIC_START, 0, end)
    if buffer.startswith(_LINE_STARTS, 1, end) and buffer.endswith(b"}", 0, end) and inner == block.lines - 1:
        return
    for offset, text in enumerate(bytes(buffer[1:end]).split(b"\n")):
        if not (text.startswith(_LINE_STARTS) and text.endswith(b"}")):
            line = block.first_line + offset
            what = (
                "is blank" if not text.strip() else f"is not a line of k6 `--out json` output: {text[:80]!r}"
            )
            raise FormatError(
                what,
                source=label,
                line=line,
                hint='k6 writes one object per line, {"metric":...,"type":"Point",...} or {"type":"Metric",...}',
            )


def _ndjson_fields(block: _Block, wanted: list[bytes], label: str) -> pl.DataFrame:
    def line_of(row: int) -> int:  # only for an error message: where the row-th wanted line is
        return block.first_line + block.buffer.count(b"\n", 0, block.buffer.find(wanted[row], 0, block.end))

    line = pl.col("line")
    joined = b"".join(wanted)[1:]
    if _SEPARATOR in joined:  # JSON escapes control characters, so no k6 line holds this byte raw
        row = next(row for row, raw in enumerate(wanted) if _SEPARATOR in raw)
        raise FormatError(
            "holds a raw control byte (0x1f), which JSON text never does: not a line k6 wrote",
            source=label,
            line=line_of(row),
        )
    try:
        text = pl.read_csv(
            joined,
            has_header=False,
            separator=_SEPARATOR.decode(),
            quote_char=None,
            schema={"line": pl.String},
        )
    except pl.exceptions.ComputeError as exc:
        row = next((row for row, raw in enumerate(wanted) if not _is_utf8(raw)), None)
        if row is None:
            raise FormatError(
                f"cannot read the points of this block: {exc}", source=label, line=block.first_line
            ) from exc
        raise FormatError("is not valid UTF-8 text", source=label, line=line_of(row)) from None
    lines = text.with_row_index("row").with_columns(metric=line.str.extract(r'^\{"metric":"([^"]+)"'))
    # Regex work is most of the cost: each metric gets only the fields it needs. Tags come
    # before metadata in k6's lines, so the first match of a tag key is the tag.
    per_request = pl.col("metric").is_in([GRAPHQL_ERRORS_METRIC, INGEST_METRIC])
    value = line.str.extract(r'"value":([^,}]+)')
    request_id = line.str.extract(r'"request_id":"((?:[^"\\]|\\.)*)"')
    raw = pl.concat(
        [
            lines.filter(~per_request).select(
                "row",
                "metric",
                time=line.str.extract(r'"time":"([^"]+)"'),
                value=value,
                status=line.str.extract(r'"status":"([^"]*)"'),
                error_code=line.str.extract(r'"error_code":"([^"]*)"'),
                scenario=line.str.extract(r'"scenario":"((?:[^"\\]|\\.)*)"'),
                op=line.str.extract(r'"op":"((?:[^"\\]|\\.)*)"'),
                request_id=request_id,
            ),
            lines.filter(per_request).select("row", "metric", value=value, request_id=request_id),
        ],
        how="diagonal",
    )

    return _checked_points(raw, _k6_times, line_of, label)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _k6_times(times: pl.Series) -> pl.Series:
    """k6 writes RFC 3339 with nanoseconds, trailing zeros cut, `Z` or a local offset."""
    return times.str.to_datetime(_K6_TIME_FORMAT, time_unit="us", time_zone="UTC", strict=False)


# --- CSV ------------------------------------------------------------------------------------


def _csv_points(blocks: Iterator[_Block], label: str) -> pl.DataFrame:
    header: list[str] | None = None
    frames = []
    carry, carry_line = b"", 0
    for block in blocks:
        data, first_line = bytes(block.buffer[: block.end]), block.first_line
        if header is None:
            header_end = data.find(b"\n", 1)
            header_end = len(data) if header_end < 0 else header_end
            header = data[1:header_end].decode("utf-8", "replace").strip().split(",")
            _check_csv_header(header, label)
            data, first_line = data[header_end:], first_line + 1
        if not block.complete and data:
            # Its last field (metadata, the request_id) may have lost bytes with no sign of it.
            raise FormatError(
                "the last line is truncated: it does not end with a newline, and k6 ends every CSV line",
                source=label,
                line=first_line,
                hint="rerun k6, or delete the partial last line to use the rest",
            )
        if carry:
            data, first_line = carry + data, carry_line
        # A quoted field may hold a newline: parse only up to a newline outside quotes.
        cut = len(data)
        while cut > 0 and data.count(b'"', 0, cut) % 2:
            cut = data.rfind(b"\n", 0, cut)
        cut = max(cut, 0)
        carry, carry_line = data[cut:], first_line + data.count(b"\n", 0, cut)
        if cut:
            frames.append(_csv_fields(data[1:cut], header, label, first_line))
    if carry:
        raise FormatError(
            "the file ends inside a quoted field (truncated file)", source=label, line=carry_line
        )
    return pl.concat(frames) if frames else _empty_points()


def _check_csv_header(header: list[str], label: str) -> None:
    middle = header[len(CSV_FIXED) : -len(CSV_TRAILING)]
    known = (
        tuple(header[: len(CSV_FIXED)]) == CSV_FIXED
        and tuple(header[-len(CSV_TRAILING) :]) == CSV_TRAILING
        and set(middle) <= CSV_TAG_COLUMNS
        and "status" in middle
    )
    if not known:
        raise FormatError(
            f"unknown CSV header {','.join(header)!r}",
            source=label,
            line=1,
            hint=f"expected k6's `--out csv` header with a status column, e.g. {CSV_DEFAULT_HEADER}",
        )


def _csv_fields(data: bytes, header: list[str], label: str, first_line: int) -> pl.DataFrame:
    try:
        table = pl.read_csv(
            data,
            has_header=False,
            new_columns=header,
            schema={column: pl.String for column in header},
        )
    except pl.exceptions.PolarsError as exc:
        last_line = first_line + data.count(b"\n")
        reason = str(exc).splitlines()[0]
        raise FormatError(
            f"malformed CSV between lines {first_line} and {last_line}: {reason}",
            source=label,
            line=first_line,
        ) from exc
    raw = (
        table.with_row_index("row")
        .filter(pl.col("metric_name").is_in(METRICS))
        .select(
            "row",
            metric=pl.col("metric_name"),
            time=pl.col("timestamp"),
            value=pl.col("metric_value"),
            status=pl.col("status"),
            error_code=pl.col("error_code") if "error_code" in header else pl.lit(None, pl.String),
            scenario=pl.col("scenario") if "scenario" in header else pl.lit(None, pl.String),
            op=pl.col("extra_tags").str.extract(r"(?:^|&)op=([^&]*)"),
            request_id=pl.col("metadata").str.extract(r"(?:^|&)request_id=([^&]*)"),
        )
    )
    return _checked_points(raw, _csv_times, lambda row: first_line + row, label)


def _csv_times(times: pl.Series) -> pl.Series:
    """k6's CSV `timeFormat`: unix seconds (default), milli/micro/nano, or RFC 3339."""
    sample = times.drop_nulls().head(1).to_list()
    if sample and not sample[0].isdigit():
        return _k6_times(times)
    digits = len(sample[0]) if sample else 10
    unit = "s" if digits <= 10 else "ms" if digits <= 13 else "us" if digits <= 16 else "ns"
    epoch = times.cast(pl.Int64, strict=False)
    scaled = {"s": epoch * 1_000_000, "ms": epoch * 1_000, "us": epoch, "ns": epoch // 1_000}[unit]
    return scaled.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


# --- from points to requests ----------------------------------------------------------------


def _empty_points() -> pl.DataFrame:
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


def _checked_points(
    raw: pl.DataFrame,
    parse_times: Callable[[pl.Series], pl.Series],
    line_of: Callable[[int], int],
    label: str,
) -> pl.DataFrame:
    """Typed points; the first point missing what its metric needs is an error naming its line.

    `raw` holds text fields and `row`, the point's position among the block's rows, which
    `line_of` turns into a line number.
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
    for condition, what in problems:
        bad = points.filter(condition).sort("row").head(1)
        if bad.height:
            line = line_of(bad["row"][0])
            raise FormatError(f"{bad['metric'][0]} point {what}", source=label, line=line)
    return points.select(_empty_points().columns)


def _requests(points: pl.DataFrame, label: str, *, role: str | None, segment: str) -> pl.DataFrame:
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
    status = pl.col("status")
    failure = (
        pl.when(pl.col("error_code").is_in(TIMEOUT_ERROR_CODES))
        .then(pl.lit(TIMEOUT))
        .when((status < 200) | (status >= 400))
        .then(pl.lit(HTTP))
        .when(pl.col("graphql_error").fill_null(False))
        .then(pl.lit(GRAPHQL))
        .otherwise(pl.lit(None, pl.String))
    )
    answered = (
        requests.join(graphql_errors, on="request_id", how="left", maintain_order="left")
        .join(ingest, on="request_id", how="left", maintain_order="left")
        .with_columns(latency_ms=pl.col("value"), failure=failure)
    )
    never_sent = (
        dropped.with_columns(pl.col("timestamp").repeat_by(pl.col("value").cast(pl.UInt32)))
        .explode("timestamp")
        .with_columns(
            latency_ms=pl.lit(None, pl.Float64),
            status=pl.lit(0, pl.Int32),
            failure=pl.lit(DROPPED),
            ingest_ms=pl.lit(None, pl.Float64),
        )
    )
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
        .cast(SAMPLE_SCHEMA)
        .sort("timestamp", maintain_order=True)
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


__all__ = [
    "DROPPED",
    "FAILURE_KINDS",
    "GRAPHQL",
    "HTTP",
    "SAMPLE_SCHEMA",
    "TIMEOUT",
    "ingest",
    "merge_segments",
    "role_from_name",
]
