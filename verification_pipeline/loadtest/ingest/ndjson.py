"""k6 `--out json`: chunks of whole lines, one thread per core, the wanted Point lines cut into fields."""

from __future__ import annotations

import io
import json
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import polars as pl

from verification_pipeline.errors import FormatError, shown
from verification_pipeline.fileio import gzip_problem
from verification_pipeline.loadtest.ingest.blocks import (
    LineTooLong,
    Progress,
    ReadError,
    line_chunks,
    line_too_long,
)
from verification_pipeline.loadtest.ingest.points import checked_points, k6_times, raw_points
from verification_pipeline.loadtest.ingest.scanned import scanned_points
from verification_pipeline.loadtest.ingest.schema import GRAPHQL_ERRORS_METRIC, INGEST_METRIC, METRICS
from verification_pipeline.loadtest.ingest.stages import StageTimes

# Points wanted start so, in k6's (v0.3x and later) layout: metric, then type, then data.
_WANTED_PREFIXES = tuple(f'{{"metric":"{metric}","type":"Point"' for metric in METRICS)
_LINE_STARTS = ('{"metric":"', '{"type":"Metric"')
# Threads working on NDJSON chunks at once (one per core, up to this).
MAX_WORKERS = 8
# Wanted lines become one-column CSV: a separator byte that never occurs in JSON text.
_SEPARATOR = b"\x1f"


class LineError(Exception):
    """A problem at `row`, a line's position within its chunk; the reader adds the line number.

    `before` holds the wanted points of the chunk's lines above it: a bad point there is an
    earlier problem, and the first problem in the file is the one reported.
    """

    def __init__(
        self, row: int, message: str, hint: str | None = None, before: pl.DataFrame | None = None
    ) -> None:
        super().__init__(message)
        self.row, self.message, self.hint, self.before = row, message, hint, before


def ndjson_points(
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
    taken = _InFileOrder(label, clock)
    stopped: LineTooLong | ReadError | None = None
    pending: deque[Future[tuple[pl.DataFrame | None, int]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="k6-ingest") as pool:
        try:
            try:
                for chunk, complete in line_chunks(stream, raw, total, on_progress, clock):
                    # Handed over in a list the worker empties: its bytes are freed once read.
                    pending.append(pool.submit(_ndjson_chunk, [chunk], complete, clock))
                    del chunk
                    while len(pending) > workers:
                        taken.take(pending.popleft())
            except (LineTooLong, ReadError) as problem:  # the lines before it are read first
                stopped = problem
            while pending:
                taken.take(pending.popleft())
        finally:
            for future in pending:
                future.cancel()
    points = taken.checked()  # a bad point above where reading stopped is the earlier problem
    if isinstance(stopped, LineTooLong):
        raise line_too_long(label, taken.first_line) from None
    if isinstance(stopped, ReadError):
        raise FormatError(
            f"corrupt or truncated gzip data after line {taken.first_line - 1} ({gzip_problem(stopped.cause)})",
            source=label,
            line=taken.first_line,
            hint="copy the file again, or rerun k6",
        ) from stopped.cause
    return points


class _InFileOrder:
    """The raw points of the chunks taken so far, in file order; `first_line`: the next chunk's."""

    def __init__(self, label: str, clock: StageTimes) -> None:
        self.label, self.clock = label, clock
        self.frames: list[pl.DataFrame] = []  # raw points; `row` is the line number once taken
        self.first_line = 1

    def _fail(self, line: int, what: str) -> None:
        raise FormatError(what, source=self.label, line=line)

    def _numbered(self, points: pl.DataFrame) -> pl.DataFrame:
        return points.with_columns(pl.col("row").cast(pl.Int64) + self.first_line)

    def checked(self, more: pl.DataFrame | None = None) -> pl.DataFrame:
        """The points read so far (and `more` of the next chunk), typed; raises for the first bad one."""
        parts = self.frames + ([self._numbered(more)] if more is not None else [])
        with self.clock.stage("parse"):
            return checked_points(pl.concat(parts) if parts else raw_points(), k6_times, self._fail)

    def take(self, future: Future[tuple[pl.DataFrame | None, int]]) -> None:
        """A chunk's points, or the first problem in the file up to that chunk's bad line."""
        try:
            points, lines = future.result()
        except LineError as problem:
            self.checked(problem.before)
            raise FormatError(
                problem.message, source=self.label, line=self.first_line + problem.row, hint=problem.hint
            ) from None
        if points is not None:
            self.frames.append(self._numbered(points))
        self.first_line += lines


def _ndjson_chunk(
    handed: list[bytes | memoryview], complete: bool, clock: StageTimes
) -> tuple[pl.DataFrame | None, int]:
    """The wanted points of a chunk of whole lines, and how many lines it holds.

    The compiled scanner takes the chunk in one pass when it can; otherwise (a line it leaves to
    polars: a bad one, an escape in a field read) polars does, the reference, which names a bad line.
    """
    data = handed.pop()
    if not complete:
        _check_last_line(bytes(data))
    scanned = scanned_points(data, clock)
    if scanned is not None:
        return scanned
    return polars_chunk(bytes(data), clock)


def polars_chunk(data: bytes, clock: StageTimes) -> tuple[pl.DataFrame | None, int]:
    """`_ndjson_chunk` in polars: the chunk as a column of lines, checked, picked, fields cut out."""
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
            raise LineError(0, f"cannot read the lines of this part of the file: {exc}") from exc
        raise _line_error(data, row, "is not valid UTF-8 text") from None
    del data  # polars holds its own copy now
    with clock.stage("filter"):
        bad, points = picked_lines(text)
    if bad.height:
        text_of_bad = bad["line"][0] or ""
        what = (
            "is blank"
            if not text_of_bad.strip()
            else f"is not a line of k6 `--out json` output: '{shown(text_of_bad[:80])}'"
        )
        row = bad["row"][0]
        above = points.filter(pl.col("row") < row)
        raise LineError(
            row,
            what,
            hint='k6 writes one object per line, {"metric":...,"type":"Point",...} or {"type":"Metric",...}',
            before=ndjson_fields(above) if above.height else None,
        )
    with clock.stage("parse"):
        return (ndjson_fields(points) if points.height else None), text.height


def picked_lines(text: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Of a chunk's `line` column: its first line that is not in k6's layout (none: no rows), and
    the lines of the wanted metrics' points, each with its `row` in the chunk and its `metric`."""
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
    bad, points = pl.collect_all(
        [
            lines.lazy().filter(~layout.fill_null(False)).head(1),
            lines.lazy().filter(wanted).with_columns(metric=metric),
        ]
    )
    return bad, points


def _line_error(data: bytes, row: int, message: str) -> LineError:
    """The problem at line `row` of a chunk, with the points of the lines above it (which may
    raise the error of an earlier line instead)."""
    start = 0
    for _ in range(row):
        start = data.index(b"\n", start) + 1
    before = _ndjson_chunk([data[:start]], True, StageTimes())[0] if start else None
    return LineError(row, message, before=before)


def _check_last_line(data: bytes) -> None:
    """A last line with no newline is complete only if it is a whole JSON object."""
    try:
        json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than any k6 line
        raise LineError(
            0,
            f"the last line is truncated ({len(data)} bytes, not a whole JSON object): k6 was "
            "stopped while writing, or the file was cut",
            hint="rerun k6, or delete the partial last line to use the rest",
        ) from None


def ndjson_fields(lines: pl.DataFrame) -> pl.DataFrame:
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
