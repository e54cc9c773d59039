"""k6 `--out csv`: the header checked, every line's fields counted, the wanted metrics' rows kept."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import polars as pl

from verification_pipeline.errors import FormatError
from verification_pipeline.loadtest.ingest.blocks import Block
from verification_pipeline.loadtest.ingest.points import checked_points, empty_points, k6_times
from verification_pipeline.loadtest.ingest.schema import METRICS

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


def csv_points(blocks: Iterator[Block], label: str) -> pl.DataFrame:
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
        if cut:
            frames.append(_csv_fields(data[1:cut], header, label, first_line, times))
    if carry:
        raise FormatError(
            "the file ends inside a quoted field (truncated file)", source=label, line=carry_line
        )
    return pl.concat(frames) if frames else empty_points()


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

    return checked_points(raw, times, fail)


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
            return k6_times(times)
        digits = self.digits
        unit = "s" if digits <= 10 else "ms" if digits <= 13 else "us" if digits <= 16 else "ns"
        text = pl.col(times.name)
        epoch = pl.when(text.str.len_bytes() == digits).then(text).cast(pl.Int64, strict=False)
        scaled = {"s": epoch * 1_000_000, "ms": epoch * 1_000, "us": epoch, "ns": epoch // 1_000}[unit]
        return times.to_frame().select(scaled.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")).to_series()
