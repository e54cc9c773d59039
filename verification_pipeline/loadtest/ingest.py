"""k6 raw output (`--out json` NDJSON, `--out csv`, plain or gzip) -> one row per request.

Speed is the point here: a 3-minute seed run at full load writes hundreds of MB, about 16
Point lines per request, and we need four metrics out of them. So no line is parsed as JSON.
The file is read in chunks of whole lines, and one thread per core works on a chunk, all of
it in polars (the GIL released, so the threads run in parallel): the chunk becomes a column
of lines, every line is checked for k6's layout, the lines of the metrics we read (about one
in six) are picked by prefix, and string kernels cut their fields out. The fields are typed
and checked once, for the whole file. Memory stays at a few chunks plus the points we keep,
whatever the file size.

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

import functools
import gzip
import io
import json
import re
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl
from polars.expr.whenthen import ChainedThen, Then

from verification_pipeline.errors import FormatError, NoDataError, shown
from verification_pipeline.fileio import gzip_problem

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
# No k6 line (a point, its tags, a CSV row) comes near a block; a longer one is refused before
# it is held whole, so one endless line cannot take the memory a whole file would.
MAX_LINE_BYTES = BLOCK_BYTES
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

# Points wanted start so, in k6's (v0.3x and later) layout: metric, then type, then data.
_WANTED_PREFIXES = tuple(f'{{"metric":"{metric}","type":"Point"' for metric in METRICS)
_LINE_STARTS = ('{"metric":"', '{"type":"Metric"')
# Threads working on NDJSON chunks at once (one per core, up to this).
MAX_WORKERS = 8
_K6_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"
# Wanted lines become one-column CSV: a separator byte that never occurs in JSON text.
_SEPARATOR = b"\x1f"

Progress = Callable[[int, int | None], None]


class StageTimes:
    """Seconds of one ingestion per stage, summed over the threads that worked on it (a stage
    that runs on two threads at once counts twice; polars' own pool works inside a stage).

    For the benchmark, to show where the time goes: `read` the file, `split` chunks into lines
    (and check each is a k6 line), `filter` the lines of the metrics we read, `parse` their
    fields and type them, `requests` join the points of a request and sort.
    """

    STAGES = ("read", "split", "filter", "parse", "requests")

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(self.STAGES, 0.0)
        self._lock = threading.Lock()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            with self._lock:
                self.seconds[name] += spent


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
    raw, total = _open(source, label)
    with raw:
        head = _head(raw, label)
        if not head.strip():
            raise NoDataError(
                "the file is empty: k6 wrote no output (did the run start?)", source=label, line=1
            )
        if head.lstrip().startswith(b"{"):
            _reuse_freed_blocks()
            points = _ndjson_points(_decompressed(raw), label, raw, total, on_progress, clock)
        elif head.startswith(CSV_FIXED[0].encode()):
            points = _csv_points(_blocks(_decompressed(raw), label, raw, total, on_progress), label)
        else:
            raise FormatError(
                "not k6 output: expected `--out json` lines ({...}) or `--out csv` "
                f"(header {CSV_DEFAULT_HEADER}); the file starts with "
                f"'{head[:60].decode('utf-8', 'backslashreplace')}'",
                source=label,
                line=1,
            )
    with clock.stage("requests"):
        return _requests(points, label, role=role, segment=segment or Path(label).name)


@functools.cache
def _reuse_freed_blocks() -> None:
    """Let glibc's malloc keep block-sized buffers for reuse instead of unmapping each one.

    Each chunk of the file is a fresh bytes object of about BLOCK_BYTES. By default glibc serves
    an allocation that large with its own mmap and unmaps it when freed, so every chunk starts on
    untouched pages: half a million page faults for a 650 MB file, more CPU than copying the
    bytes (0.41 s against 0.18 s to cut that file into chunks). With the thresholds above the
    block size, freed chunks stay in the heap and the next one reuses their pages. Process-wide
    and harmless for the rest of the process: memory freed back to malloc is reused, and up to
    a few blocks of it are kept rather than returned. A no-op where malloc is not glibc's.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 4 * BLOCK_BYTES)
    mallopt(m_trim_threshold, 4 * BLOCK_BYTES)


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


def _open(source: str | Path | bytes, label: str) -> tuple[io.BufferedIOBase, int | None]:
    if isinstance(source, bytes):
        return io.BytesIO(source), len(source)
    path = Path(source)
    try:
        return path.open("rb"), path.stat().st_size
    except OSError as exc:
        raise FormatError(f"cannot read the file: {exc.strerror or exc}", source=label) from exc


def _decompressed(raw: io.BufferedIOBase) -> io.BufferedIOBase:
    raw.seek(0)
    magic = raw.read(len(GZIP_MAGIC))
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw, mode="rb") if magic == GZIP_MAGIC else raw


def _head(raw: io.BufferedIOBase, label: str) -> bytes:
    """The first bytes of the content (decompressed), to tell the format; rewinds `raw`."""
    head = bytearray(4096)
    read = _read_into(_decompressed(raw), memoryview(head), label, 0)
    raw.seek(0)
    return bytes(head[:read])


def _read_into(stream: io.BufferedIOBase, into: memoryview, label: str, lines_before: int) -> int:
    """Fill `into` from the stream; a broken gzip stream becomes a FormatError naming where."""
    try:
        return stream.readinto(into)
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise FormatError(
            f"corrupt or truncated gzip data after line {lines_before} ({gzip_problem(exc)})",
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
    stream: io.BufferedIOBase,
    label: str,
    raw: io.BufferedIOBase,
    total: int | None,
    on_progress: Progress | None,
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
        if start > MAX_LINE_BYTES:
            raise _line_too_long(label, line)
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


class _LineError(Exception):
    """A problem at `row`, a line's position within its chunk; the reader adds the line number.

    `before` holds the wanted points of the chunk's lines above it: a bad point there is an
    earlier problem, and the first problem in the file is the one reported.
    """

    def __init__(
        self, row: int, message: str, hint: str | None = None, before: pl.DataFrame | None = None
    ) -> None:
        super().__init__(message)
        self.row, self.message, self.hint, self.before = row, message, hint, before


class _LineTooLong(Exception):
    """A line runs on past MAX_LINE_BYTES; the reader adds its number."""


def _line_too_long(label: str, line: int) -> FormatError:
    return FormatError(
        f"a line longer than {MAX_LINE_BYTES >> 20} MiB: not k6 output (k6 writes one short line per point)",
        source=label,
        line=line,
        hint="is this the right file?",
    )


class _ReadError(Exception):
    """The stream broke (corrupt gzip); raised once every line before it has been counted."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _ndjson_points(
    stream: io.BufferedIOBase,
    label: str,
    raw: io.BufferedIOBase,
    total: int | None,
    on_progress: Progress | None,
    clock: StageTimes,
) -> pl.DataFrame:
    """Points of the wanted metrics, from chunks of whole lines worked on by one thread per core.

    All the work on a chunk is polars (Rust, the GIL released), so the threads really run in
    parallel; this thread only reads. At most one chunk per worker waits, which bounds memory.
    Results are taken in file order, so line numbers add up and the first problem reported is
    the first in the file. Points are typed and checked once, for the whole file (per chunk,
    polars' fixed cost per call would be most of that work), or for the lines above a problem
    found while reading.
    """
    # polars' own pool size: the cores this process may use (cgroup quota, POLARS_MAX_THREADS).
    workers = max(1, min(pl.thread_pool_size(), MAX_WORKERS))
    frames: list[pl.DataFrame] = []  # raw points; `row` is the line number once taken
    first_line = 1

    def fail(line: int, what: str) -> None:
        raise FormatError(what, source=label, line=line)

    def numbered(points: pl.DataFrame) -> pl.DataFrame:
        return points.with_columns(pl.col("row").cast(pl.Int64) + first_line)

    def checked(more: pl.DataFrame | None = None) -> pl.DataFrame:
        """The points read so far, typed; raises for the first bad one."""
        parts = frames + ([numbered(more)] if more is not None else [])
        with clock.stage("parse"):
            return _checked_points(pl.concat(parts) if parts else _raw_points(), _k6_times, fail)

    def take(future: Future[tuple[pl.DataFrame | None, int]]) -> None:
        nonlocal first_line
        try:
            points, lines = future.result()
        except _LineError as problem:
            checked(problem.before)
            raise FormatError(
                problem.message, source=label, line=first_line + problem.row, hint=problem.hint
            ) from None
        if points is not None:
            frames.append(numbered(points))
        first_line += lines

    pending: deque[Future[tuple[pl.DataFrame | None, int]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="k6-ingest") as pool:
        try:
            try:
                for chunk, complete in _line_chunks(stream, raw, total, on_progress, clock):
                    # Handed over in a list the worker empties: its bytes are freed once read.
                    pending.append(pool.submit(_ndjson_chunk, [chunk], complete, clock))
                    del chunk
                    while len(pending) > workers:
                        take(pending.popleft())
            except _LineTooLong:
                while pending:
                    take(pending.popleft())
                checked()
                raise _line_too_long(label, first_line) from None
            except _ReadError as broken:
                while pending:
                    take(pending.popleft())
                checked()
                raise FormatError(
                    f"corrupt or truncated gzip data after line {first_line - 1} ({gzip_problem(broken.cause)})",
                    source=label,
                    line=first_line,
                    hint="copy the file again, or rerun k6",
                ) from broken.cause
            while pending:
                take(pending.popleft())
        finally:
            for future in pending:
                future.cancel()
    return checked()


def _line_chunks(
    stream: io.BufferedIOBase,
    raw: io.BufferedIOBase,
    total: int | None,
    on_progress: Progress | None,
    clock: StageTimes,
) -> Iterator[tuple[bytes, bool]]:
    """The stream as chunks of whole lines (each ending with its newline), about a block each.

    A last line without its newline comes alone with complete=False: k6 ends every line, so
    it may have been cut.
    """
    # Small inputs get small reads; a gzip stream's size is unknown, so reads grow to a block.
    read_size = min(BLOCK_BYTES, max(1 << 16, total or BLOCK_BYTES))
    carry = b""
    while True:
        try:
            with clock.stage("read"):
                data = stream.read(read_size)
        except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
            raise _ReadError(exc) from exc
        read_size = min(BLOCK_BYTES, 2 * read_size)
        if on_progress:
            on_progress(raw.tell(), total)
        if not data:
            if carry:
                yield carry, False
            return
        cut = data.rfind(b"\n") + 1
        if cut:
            with clock.stage("read"):
                chunk = b"".join((carry, memoryview(data)[:cut]))  # one copy, not two
                carry = data[cut:]
            yield chunk, True
            del chunk
        else:  # a line longer than a read
            carry += data
        if len(carry) > MAX_LINE_BYTES:
            raise _LineTooLong


def _ndjson_chunk(handed: list[bytes], complete: bool, clock: StageTimes) -> tuple[pl.DataFrame | None, int]:
    """The wanted points of a chunk of whole lines, and how many lines it holds."""
    data = handed.pop()
    if not complete:
        _check_last_line(data)
    if (separator := data.find(_SEPARATOR)) >= 0:  # JSON escapes control characters: no k6 line holds it raw
        raise _line_error(
            data,
            data.count(b"\n", 0, separator),
            "holds a raw control byte (0x1f), which JSON text never does: not a line k6 wrote",
        )
    try:
        with clock.stage("split"):
            text = pl.read_csv(
                data,
                has_header=False,
                separator=_SEPARATOR.decode(),
                quote_char=None,
                schema={"line": pl.String},
            )
    except pl.exceptions.ComputeError as exc:
        row = next((row for row, raw in enumerate(data.split(b"\n")) if not _is_utf8(raw)), None)
        if row is None:
            raise _LineError(0, f"cannot read the lines of this part of the file: {exc}") from exc
        raise _line_error(data, row, "is not valid UTF-8 text") from None
    del data  # polars holds its own copy now
    line = pl.col("line")
    lines = text.with_row_index("row")
    metric = pl.lit(None, pl.String)
    for name, prefix in zip(METRICS, _WANTED_PREFIXES, strict=True):
        metric = pl.when(line.str.starts_with(prefix)).then(pl.lit(name)).otherwise(metric)
    wanted = pl.any_horizontal([line.str.starts_with(prefix) for prefix in _WANTED_PREFIXES])
    # Every line is a k6 Point or Metric object, or we say which line is not. (A line ending
    # in \r\n reads as the line without its \r: JSON allows the whitespace.)
    layout = (
        line.str.starts_with(_LINE_STARTS[0]) | line.str.starts_with(_LINE_STARTS[1])
    ) & line.str.ends_with("}")
    with clock.stage("filter"):
        bad, points = pl.collect_all(
            [
                lines.lazy().filter(~layout.fill_null(False)).head(1),
                lines.lazy().filter(wanted).with_columns(metric=metric),
            ]
        )
    if bad.height:
        text_of_bad = bad["line"][0] or ""
        what = (
            "is blank"
            if not text_of_bad.strip()
            else f"is not a line of k6 `--out json` output: '{shown(text_of_bad[:80])}'"
        )
        row = bad["row"][0]
        above = points.filter(pl.col("row") < row)
        raise _LineError(
            row,
            what,
            hint='k6 writes one object per line, {"metric":...,"type":"Point",...} or {"type":"Metric",...}',
            before=_ndjson_fields(above) if above.height else None,
        )
    with clock.stage("parse"):
        return (_ndjson_fields(points) if points.height else None), text.height


def _line_error(data: bytes, row: int, message: str) -> _LineError:
    """The problem at line `row` of a chunk, with the points of the lines above it (which may
    raise the error of an earlier line instead)."""
    start = 0
    for _ in range(row):
        start = data.index(b"\n", start) + 1
    before = _ndjson_chunk([data[:start]], True, StageTimes())[0] if start else None
    return _LineError(row, message, before=before)


def _check_last_line(data: bytes) -> None:
    """A last line with no newline is complete only if it is a whole JSON object."""
    try:
        json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than any k6 line
        raise _LineError(
            0,
            f"the last line is truncated ({len(data)} bytes, not a whole JSON object): k6 was "
            "stopped while writing, or the file was cut",
            hint="rerun k6, or delete the partial last line to use the rest",
        ) from None


def _ndjson_fields(lines: pl.DataFrame) -> pl.DataFrame:
    """Fields of the wanted Point lines (`row`, `line`, `metric`), cut out by polars string kernels."""
    line = pl.col("line")
    # Regex work is most of the cost: each metric gets only the fields it needs. Tags come
    # before metadata in k6's lines, so the first match of a tag key is the tag.
    per_request = pl.col("metric").is_in([GRAPHQL_ERRORS_METRIC, INGEST_METRIC])
    value = line.str.extract(r'"value":([^,}]+)')
    request_id = line.str.extract(r'"request_id":"((?:[^"\\]|\\.)*)"')
    return pl.concat(
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
    times = _CsvTimes()
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
        if len(carry) > MAX_LINE_BYTES:
            raise FormatError(
                f"a quoted field runs on for more than {MAX_LINE_BYTES >> 20} MiB (a stray quote?)",
                source=label,
                line=carry_line,
            )
        if cut:
            frames.append(_csv_fields(data[1:cut], header, label, first_line, times))
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
            f"unknown CSV header '{shown(','.join(header))}'",
            source=label,
            line=1,
            hint=f"expected k6's `--out csv` header with a status column, e.g. {CSV_DEFAULT_HEADER}",
        )


def _csv_fields(
    data: bytes, header: list[str], label: str, first_line: int, times: _CsvTimes
) -> pl.DataFrame:
    _check_field_counts(data, len(header), label, first_line)
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

    def fail(row: int, what: str) -> None:
        raise FormatError(what, source=label, line=first_line + row)

    return _checked_points(raw, times, fail)


def _check_field_counts(data: bytes, fields: int, label: str, first_line: int) -> None:
    """Every line has the header's number of fields.

    polars fills a short row's missing last fields with nulls once the first row has set the
    width, so a line that lost a comma would be read with its fields shifted: count them here.
    Without quotes a line's fields are its commas plus one, counted for the whole block at once;
    a block with quotes (a tag holding a comma or a newline) is counted by the csv module.
    """
    raw = np.frombuffer(data, np.uint8)
    if not np.any(raw == ord('"')):
        ends = np.flatnonzero(raw == ord("\n"))
        if not len(data) or data[-1:] != b"\n":
            ends = np.append(ends, len(data))
        starts = np.concatenate(([0], ends[:-1] + 1))
        commas = np.searchsorted(np.flatnonzero(raw == ord(",")), ends)
        per_line = np.diff(np.concatenate(([0], commas)))
        wrong = np.flatnonzero((per_line != fields - 1) & (ends > starts))  # blank lines are skipped
        if not len(wrong):
            return
        line = int(wrong[0])
        found = int(per_line[line]) + 1
    else:
        import csv

        reader = csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline=""))
        line = 0  # lines before the record being read
        for record in reader:
            if record and len(record) != fields:
                found = len(record)
                break
            line = reader.line_num
        else:
            return
    raise FormatError(
        f"a line has {found} fields where the header has {fields}",
        source=label,
        line=first_line + line,
        hint="the file is damaged (a separator lost or added); rerun k6 or repair that line",
    )


class _CsvTimes:
    """k6's CSV `timeFormat`: unix seconds (default), milli/micro/nano, or RFC 3339.

    The format is one setting for the whole file, so the first time read fixes it for every
    block after; a time that does not fit it (another number of digits) is unreadable.
    """

    def __init__(self) -> None:
        self.digits: int | None = None  # None: RFC 3339, once fixed
        self.fixed = False

    def __call__(self, times: pl.Series) -> pl.Series:
        if not self.fixed:
            sample = times.drop_nulls().head(1).to_list()
            if not sample:
                return times.cast(pl.Datetime("us", "UTC"), strict=False)
            self.digits = len(sample[0]) if sample[0].isdigit() else None
            self.fixed = True
        if self.digits is None:
            return _k6_times(times)
        digits = self.digits
        unit = "s" if digits <= 10 else "ms" if digits <= 13 else "us" if digits <= 16 else "ns"
        text = pl.col(times.name)
        epoch = pl.when(text.str.len_bytes() == digits).then(text).cast(pl.Int64, strict=False)
        scaled = {"s": epoch * 1_000_000, "ms": epoch * 1_000, "us": epoch, "ns": epoch // 1_000}[unit]
        return times.to_frame().select(scaled.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")).to_series()


# --- from points to requests ----------------------------------------------------------------


def _raw_points() -> pl.DataFrame:
    """No points yet, as text fields the way `_ndjson_fields` cuts them out."""
    return pl.DataFrame(
        schema={"row": pl.Int64, "metric": pl.String}
        | {
            column: pl.String
            for column in ("time", "value", "status", "error_code", "scenario", "op", "request_id")
        }
    )


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
        .cast(pl.Schema(SAMPLE_SCHEMA))
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
