"""k6 ingestion (`--out json` NDJSON and `--out csv`, plain and gzip) under mutated and random input.

The outcome is a table of requests with `SAMPLE_SCHEMA` and sane rows, or our typed error naming
the file. A file cut inside a line is an error, never a table with fewer rows. The block size
the reader works in must not change the result (it decides where lines are split).

Ingestion runs with 4 KiB blocks here (a 32 MiB block costs ~0.1 s of zeroing per call); one
property compares 4 KiB, tiny and the real default block size on the same inputs.
"""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Callable, Iterator, Mapping
from unittest import mock

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.properties.budget import examples
from tests.properties.k6_output import (
    CSV_COLUMNS,
    Run,
    csv_rows,
    csv_text,
    dump_line,
    gzipped,
    k6_runs,
    ndjson,
    ndjson_lines,
)
from tests.properties.mutations import (
    dumps_with_tokens,
    hostile_tokens,
    json_values,
    mutated_bytes,
    mutated_json,
)
from tests.properties.open_bugs import is_open
from tests.properties.oracles import finite_non_negative, typed_outcome
from verification_pipeline.loadtest.ingest import DROPPED, FAILURE_KINDS, METRICS, SAMPLE_SCHEMA, ingest
from verification_pipeline.loadtest.ingest import blocks as ingest_blocks

FAMILY = "k6"
READ_METRICS = frozenset(METRICS)
SMALL_BLOCK = 4096
DEFAULT_BLOCK = ingest_blocks.BLOCK_BYTES

# While dropped_iterations counts are turned into that many rows with no bound (open bug
# k6-dropped-iterations-unbounded), no mutation may write a count the reader would expand:
# two billion rows exhaust the machine instead of failing a test. Numbers are drawn below 1e5,
# or above 2**64 so that they overflow any integer cast a partial fix might switch to; inserted
# and overwritten bytes carry no digits, so no long digit run is built.
UNBOUNDED_DROPPED = is_open("k6-dropped-iterations-unbounded")
SAFE_INTS = st.integers(-(10**5), 10**5) | st.sampled_from([2**64 + 7, 10**30, -(10**30)])
SAFE_FLOATS = st.floats(-1e5, 1e5, allow_nan=False) | st.sampled_from([1e20, 1e300, -1e300])
K6_VALUES = json_values(max_leaves=4, ints=SAFE_INTS, floats=SAFE_FLOATS)
NO_DIGITS = st.binary(min_size=1, max_size=8).map(
    lambda b: bytes(c for c in b if not 0x30 <= c <= 0x39) or b"x"
)
INSERTS = NO_DIGITS if UNBOUNDED_DROPPED else None
DANGEROUS_TOKENS = frozenset({"int-64"}) if UNBOUNDED_DROPPED else frozenset()


@contextlib.contextmanager
def block_size(size: int) -> Iterator[None]:
    with mock.patch.object(ingest_blocks, "BLOCK_BYTES", size):
        yield


def sample_invariants(segment: str) -> Callable[[pl.DataFrame], Mapping[str, str]]:
    def broken(frame: pl.DataFrame) -> Mapping[str, str]:
        problems: dict[str, str] = {}
        if frame.schema != pl.Schema(SAMPLE_SCHEMA):
            problems["schema"] = f"schema {frame.schema} is not SAMPLE_SCHEMA"
            return problems
        if frame.is_empty():
            problems["empty-table"] = "a table with no requests returned instead of NoDataError"
        if frame["timestamp"].null_count() or frame["status"].null_count() or frame["ok"].null_count():
            problems["null-columns"] = "a request without time, status or ok"
        if not frame["ok"].equals(frame["failure"].is_null(), check_names=False):
            problems["ok-vs-failure"] = "ok must be exactly 'no failure kind'"
        if not set(frame["failure"].drop_nulls().unique()) <= set(FAILURE_KINDS):
            problems["failure-kinds"] = f"unknown failure kind in {frame['failure'].unique().to_list()}"
        if (
            not frame["latency_ms"]
            .is_null()
            .equals((frame["failure"] == DROPPED).fill_null(False), check_names=False)
        ):
            problems["dropped-latency"] = "latency is null exactly for dropped iterations"
        if not (frame["segment"] == segment).all():
            problems["segment"] = "every row carries the segment label"
        if not (finite_non_negative(frame["latency_ms"]) and finite_non_negative(frame["ingest_ms"])):
            problems["k6-durations-not-checked"] = (
                "a negative or infinite latency/ingest time was accepted as a measurement"
            )
        return problems

    return broken


def run_ingest(data: bytes, name: str, label: str, *, block: int = SMALL_BLOCK) -> pl.DataFrame | None:
    with block_size(block):
        return typed_outcome(
            label,
            lambda: ingest(data, name=name, segment="seg-0"),
            source=name,
            family=FAMILY,
            invariants=sample_invariants("seg-0"),
        )


# --- valid files --------------------------------------------------------------------------------


@pytest.mark.timeout(300)
@examples(40)
@given(run=k6_runs(), csv=st.booleans(), compressed=st.booleans())
def test_valid_output_parses_to_one_row_per_request(run: Run, csv: bool, compressed: bool) -> None:
    """The seeds themselves: every request and every dropped iteration becomes exactly one row."""
    data = csv_text(run) if csv else ndjson(run)
    data = gzipped(data) if compressed else data
    name = "ci/read.csv" if csv else "ci/read.json"
    frame = run_ingest(data, name + (".gz" if compressed else ""), "k6-csv" if csv else "k6-ndjson")
    assert frame is not None
    assert frame.height == run.rows
    assert frame["ok"].sum() == run.ok_rows


# --- NDJSON -------------------------------------------------------------------------------------


# Fields the reader extracts from a Point line, and values that test each extraction.
POINT_FIELDS: dict[str, st.SearchStrategy] = {
    "value": st.one_of(
        st.sampled_from([-5, -0.001, 0, 1e-300, "12", None, True, [], {}, "NaN"]),
        SAFE_INTS,
        SAFE_FLOATS,
        hostile_tokens(DANGEROUS_TOKENS | {"deep-nesting"}),
    ),
    "time": st.one_of(
        st.sampled_from(
            [
                "",
                "x",
                "2026-11-27",
                "2026-11-27T16:59:15",
                "2026-11-27T16:59:15+05:30",
                "2026-11-27T16:59:15.1234567891234Z",
                "2026-02-30T00:00:00Z",
                "2026-12-31T23:59:60Z",
                "0000-01-01T00:00:00Z",
                "99999-01-01T00:00:00Z",
                "1795798755",
                "2026-11-27 16:59:15Z",
                "2026-11-27T16:59:15.Z",
                "\u0000",
            ]
        ),
        st.integers(-(10**5), 10**5),
        st.none(),
    ),
    "status": st.one_of(
        st.sampled_from(
            ["", "abc", "-1", "0", "0200", "200 ", "99999999999", "2147483648", "1e2", "200", "500"]
        ),
        st.sampled_from([200, None, True]),
    ),
    "error_code": st.sampled_from(["", "1050", "1211", "1050x", 1050, None]),
    "op": st.one_of(
        st.sampled_from(["", "read", "write", 'a"b', "a\\b", "\u00e9", "op=x&y", None, 7]),
        st.text(max_size=8),
    ),
    "scenario": st.one_of(st.sampled_from(["", "default", "read", None, ["read"]]), st.text(max_size=8)),
    "request_id": st.one_of(st.sampled_from(["", "1-0", "1-1", "2-2", 'q"x', None, 5]), st.text(max_size=8)),
}
TAG_FIELDS = ("status", "error_code", "op", "scenario")
HOSTILE_BYTES = (b"\xff", b"\xc3\x28", b"\x1f", b"\x00", b"\t", b"\r", b'"', b"\\", b"}", b"\n", b"{")


def _edit_point_field(draw: st.DrawFn, line: object) -> None:
    if not isinstance(line, dict):  # an earlier generic edit replaced the whole line
        return
    field = draw(st.sampled_from(sorted(POINT_FIELDS)))
    value = draw(POINT_FIELDS[field])
    data = line.setdefault("data", {}) if isinstance(line.get("data"), dict) else line
    if draw(st.integers(0, 9)) == 0:  # sometimes remove the field instead
        for holder in (data, data.get("tags", {}), data.get("metadata", {})):
            if isinstance(holder, dict):
                holder.pop(field, None)
        return
    if field in TAG_FIELDS:
        data.setdefault("tags", {})[field] = value
    elif field == "request_id":
        data.setdefault("metadata", {})[field] = value
    else:
        data[field] = value


@st.composite
def mutated_ndjson(draw: st.DrawFn) -> bytes:
    """A valid file with edits: mostly to the fields the reader extracts from the Points it reads
    (values of other types, hostile tokens, broken times and tags, duplicate request ids), and
    generic JSON edits anywhere (types swapped, keys deleted) for the rest."""
    lines = ndjson_lines(draw(k6_runs()))
    read = [
        i
        for i, line in enumerate(lines)
        if line.get("metric") in READ_METRICS and line.get("type") == "Point"
    ]
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 2)):
            _edit_point_field(draw, lines[draw(st.sampled_from(read))])
        else:
            at = draw(st.integers(0, len(lines) - 1))
            lines[at] = draw(
                mutated_json(lines[at], excluded=DANGEROUS_TOKENS, values=K6_VALUES, max_edits=2)
            )
    encoded = [dumps_with_tokens(line, compact=True).encode("utf-8", "surrogatepass") for line in lines]
    if draw(st.integers(0, 3)) == 0:  # a raw byte inside a line the reader extracts fields from
        at = draw(st.sampled_from(read))
        pos = draw(st.integers(0, len(encoded[at])))
        encoded[at] = encoded[at][:pos] + draw(st.sampled_from(HOSTILE_BYTES)) + encoded[at][pos:]
    return b"".join(line + b"\n" for line in encoded)


@pytest.mark.timeout(300)
@examples(120)
@given(data=mutated_ndjson())
def test_mutated_ndjson_lines(data: bytes) -> None:
    run_ingest(data, "ci/read.json", "k6-ndjson")


@pytest.mark.timeout(300)
@examples(120)
@given(data=st.data())
def test_mutated_ndjson_bytes(data: st.DataObject) -> None:
    seed = ndjson(data.draw(k6_runs()))
    run_ingest(data.draw(mutated_bytes(seed, insert_alphabet=INSERTS)), "ci/write.json", "k6-ndjson")


@pytest.mark.timeout(300)
@examples(60)
@given(
    lines=st.lists(
        st.one_of(
            json_values(max_leaves=6, ints=SAFE_INTS, floats=SAFE_FLOATS).map(dump_line),
            st.fixed_dictionaries(
                {
                    "metric": st.sampled_from(
                        ["http_req_duration", "graphql_errors", "ingest_duration", "dropped_iterations"]
                    ),
                    "type": st.just("Point"),
                    "data": K6_VALUES,
                },
            ).map(dump_line),
            st.binary(max_size=60),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_random_lines(lines: list[bytes]) -> None:
    """Random JSON lines (many shaped like the Points we read), random bytes, mixed."""
    data = b"\n".join(lines) + b"\n"
    run_ingest(data, "ci/random.json", "k6-random")


# --- CSV ----------------------------------------------------------------------------------------

CSV_FIELD_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1e400",
            "NaN",
            "inf",
            "-0",
            "200",
            "abc",
            '"',
            '""',
            '"a,b"',
            '"x\ny"',
            "op=read&op=write",
            "request_id=",
            "request_id=1-0&request_id=2-0",
            "1795798755.5",
            "2026-11-27T16:59:15Z",
            "99999999999999999999",
            "\u00e9",
            "\x00",
            "\x1f",
        ]
    ),
    st.text(max_size=12).filter(lambda s: not any(c.isdigit() for c in s) or not UNBOUNDED_DROPPED),
)


@st.composite
def mutated_csv(draw: st.DrawFn) -> bytes:
    """Fields replaced, dropped or added; rows duplicated; header columns renamed or reordered."""
    rows = csv_rows(draw(k6_runs()))
    header = list(CSV_COLUMNS)
    for _ in range(draw(st.integers(1, 3))):
        edit = draw(st.sampled_from(["field", "field", "drop-field", "add-field", "header"]))
        at = draw(st.integers(0, len(rows) - 1))
        column = draw(st.integers(0, len(header) - 1))
        if edit == "field":
            rows[at][column] = draw(CSV_FIELD_VALUES)
        elif edit == "drop-field":
            del rows[at][column]
        elif edit == "add-field":
            rows[at].insert(column, draw(CSV_FIELD_VALUES))
        else:
            header[column] = draw(
                st.sampled_from(["", "status", "op", "metric_name", "extra_tags", "Status", "x"])
            )
    return ("\n".join([",".join(header)] + [",".join(r) for r in rows]) + "\n").encode(
        "utf-8", "surrogatepass"
    )


@pytest.mark.timeout(300)
@examples(120)
@given(data=mutated_csv())
def test_mutated_csv_fields(data: bytes) -> None:
    run_ingest(data, "ci/read.csv", "k6-csv")


@pytest.mark.timeout(300)
@examples(100)
@given(data=st.data())
def test_mutated_csv_bytes(data: st.DataObject) -> None:
    seed = csv_text(data.draw(k6_runs()))
    run_ingest(data.draw(mutated_bytes(seed, insert_alphabet=INSERTS)), "ci/write.csv", "k6-csv")


# --- truncation and compression -------------------------------------------------------------------


def _inside_line(data: bytes, cut: int) -> bool:
    """True when `data[:cut]` ends part-way through a line (not at a line end or the newline before it)."""
    return cut > 0 and data[cut - 1 : cut] != b"\n" and data[cut : cut + 1] != b"\n"


def _in_last_csv_field(data: bytes, cut: int) -> bool:
    line_start = data.rfind(b"\n", 0, cut) + 1
    line = data[line_start : data.find(b"\n", cut)]
    return line.count(b",") == len(CSV_COLUMNS) - 1 and data.rfind(
        b",", line_start, cut
    ) == line_start + line.rfind(b",")


@pytest.mark.timeout(300)
@examples(80)
@given(run=k6_runs(), csv=st.booleans(), compressed=st.booleans(), data=st.data())
def test_a_file_cut_inside_a_line_is_refused(
    run: Run, csv: bool, compressed: bool, data: st.DataObject
) -> None:
    """No partial table stored as complete: a cut anywhere but a line end raises, compressed or not."""
    full = csv_text(run) if csv else ndjson(run)
    cut = data.draw(st.integers(1, len(full) - 1).filter(lambda at: _inside_line(full, at)))
    body = gzipped(full[:cut]) if compressed else full[:cut]
    name = ("ci/read.csv" if csv else "ci/read.json") + (".gz" if compressed else "")

    def invariants(frame: pl.DataFrame) -> Mapping[str, str]:
        known = (
            "k6-csv-cut-in-last-field" if csv and _in_last_csv_field(full, cut) else "truncated-file-accepted"
        )
        return {known: f"a file cut at byte {cut} of {len(full)} gave {frame.height} rows of {run.rows}"}

    with block_size(SMALL_BLOCK):
        typed_outcome(
            "k6-csv" if csv else "k6-ndjson",
            lambda: ingest(body, name=name),
            source=name,
            family=FAMILY,
            invariants=invariants,
        )


@pytest.mark.timeout(300)
@examples(60)
@given(run=k6_runs(), csv=st.booleans(), data=st.data())
def test_corrupt_or_cut_gzip_is_refused(run: Run, csv: bool, data: st.DataObject) -> None:
    """A gzip stream cut short or with changed bytes: our error (gzip's CRC catches changed data)."""
    packed = gzipped(csv_text(run) if csv else ndjson(run))
    if data.draw(st.booleans()):
        damaged = packed[: data.draw(st.integers(1, len(packed) - 1))]
    else:
        damaged = data.draw(mutated_bytes(packed, max_edits=2, insert_alphabet=INSERTS))
    name = "ci/read.csv.gz" if csv else "ci/read.json.gz"
    frame = run_ingest(damaged, name, "k6-gzip")
    if frame is not None and damaged != packed:
        # a damaged stream that still decodes must have decoded to the same file
        assert gzip.decompress(damaged) == gzip.decompress(packed)


@pytest.mark.timeout(300)
@examples(12)
@given(data=st.data(), csv=st.booleans())
def test_block_size_does_not_change_the_result(data: st.DataObject, csv: bool) -> None:
    """Lines are split where blocks end: tiny blocks, 4 KiB and the real 32 MiB give the same table."""
    run = data.draw(k6_runs())
    seed = csv_text(run) if csv else ndjson(run)
    mutated = data.draw(st.sampled_from([seed]) | mutated_bytes(seed, max_edits=2, insert_alphabet=INSERTS))
    name = "ci/read.csv" if csv else "ci/read.json"
    tiny = data.draw(st.integers(48, 400))
    label = "k6-blocks"
    outcomes = [run_ingest(mutated, name, label, block=size) for size in (SMALL_BLOCK, tiny, DEFAULT_BLOCK)]
    failed = [frame is None for frame in outcomes]
    assert len(set(failed)) == 1, f"block sizes disagree on success: {failed} (4 KiB, {tiny} B, default)"
    if not failed[0]:
        assert outcomes[0].equals(outcomes[1]) and outcomes[0].equals(outcomes[2])
