"""Bad input: every broken file is our typed error naming the file and line, never a silent zero."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.loadtest.lines import TAGS, k6_lines, metric_line, point, write
from verification_pipeline.errors import FormatError, InputError, NoDataError
from verification_pipeline.loadtest.ingest import CSV_DEFAULT_HEADER, ingest
from verification_pipeline.loadtest.ingest import blocks as ingest_blocks


def test_a_well_formed_file_reads(tmp_path: Path) -> None:
    samples = ingest(write(tmp_path / "read.json", k6_lines()))
    assert samples["latency_ms"].to_list() == [10.5, 11.5, 12.5, 13.5, 14.5]
    assert samples["failure"].to_list() == [None, None, None, "graphql", None]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "read.json"
    path.write_bytes(b"")
    with pytest.raises(NoDataError, match=r"read\.json:1: the file is empty"):
        ingest(path)


def test_truncated_last_line(tmp_path: Path) -> None:
    lines = k6_lines()
    path = tmp_path / "read.json"
    path.write_text("\n".join(lines)[:-25])
    with pytest.raises(FormatError, match=rf"read\.json:{len(lines)}: the last line is truncated"):
        ingest(path)


def test_last_line_without_newline_but_whole_is_read(tmp_path: Path) -> None:
    assert ingest(write(tmp_path / "read.json", k6_lines(), end="")).height == 5


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("this is not json", "is not a line of k6"),
        ("", "is blank"),
        ('{"type":"Point","metric":"http_req_duration","data":{}}', "is not a line of k6"),
        ('{"metric":"http_req_duration","type":"Point","data":{"time":"x"', "is not a line of k6"),
    ],
)
def test_a_line_that_is_not_k6_json_is_named(tmp_path: Path, bad: str, message: str) -> None:
    lines = k6_lines()
    lines.insert(6, bad)
    with pytest.raises(FormatError, match=rf"read\.json:7: {message}"):
        ingest(write(tmp_path / "read.json", lines))


def test_no_request_points(tmp_path: Path) -> None:
    lines = [metric_line("vus", "gauge"), point("vus", 1, tags={}, request_id=None)]
    with pytest.raises(NoDataError, match="no http_req_duration or dropped_iterations points"):
        ingest(write(tmp_path / "read.json", lines))


def test_corrupt_gzip_names_where_it_broke(tmp_path: Path) -> None:
    lines = k6_lines(2000)
    packed = gzip.compress(("\n".join(lines) + "\n").encode())
    truncated = tmp_path / "read.json.gz"
    truncated.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(FormatError, match="corrupt or truncated gzip data"):
        ingest(truncated)
    garbage = tmp_path / "write.json.gz"
    garbage.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4)
    with pytest.raises(FormatError, match=r"write\.json\.gz:1: corrupt or truncated gzip"):
        ingest(garbage)


def test_gzip_reads_like_plain(tmp_path: Path) -> None:
    text = "\n".join(k6_lines()) + "\n"
    plain = ingest(text.encode(), name="read.json")
    packed = ingest(gzip.compress(text.encode()), name="read.json.gz")
    assert packed.drop("segment").equals(plain.drop("segment"))


def test_unknown_csv_header(tmp_path: Path) -> None:
    path = tmp_path / "read.csv"
    path.write_text("metric_name,timestamp,metric_value,colour\nhttp_req_duration,1,2,red\n")
    with pytest.raises(FormatError, match=r"read\.csv:1: unknown CSV header") as failure:
        ingest(path)
    assert "metric_name,timestamp,metric_value,check" in str(failure.value)


def test_truncated_csv_last_line(tmp_path: Path) -> None:
    row = (
        "http_req_duration,1795797799,1.732614,,,,true,,POST,u,HTTP/1.1,read,,200,,,u,op=read,request_id=1-0"
    )
    path = tmp_path / "read.csv"
    path.write_text(f"{CSV_DEFAULT_HEADER}\n{row}\n{row[:40]}")
    with pytest.raises(FormatError, match=r"read\.csv:3: the last line is truncated"):
        ingest(path)
    # Cut inside its last field, a line still has every field (request_id=1-0 -> request_id=1-):
    # without the newline k6 ends every line with, no last line can be told whole.
    path.write_text(f"{CSV_DEFAULT_HEADER}\n{row}\n{row}")
    with pytest.raises(FormatError, match=r"read\.csv:3: the last line is truncated"):
        ingest(path)
    path.write_text(f"{CSV_DEFAULT_HEADER}\n{row}\n{row}\n")
    assert ingest(path).height == 2


@pytest.mark.parametrize("where", ["first", "middle", "quoted"])
@pytest.mark.parametrize("damage", ["lost", "added"])
def test_a_csv_line_with_a_field_lost_or_added_is_named(tmp_path: Path, where: str, damage: str) -> None:
    """polars fills a short row with nulls once the first row set the width: a line that lost a
    comma would be read with every field after it shifted (found by the block-size property)."""
    row = "http_req_duration,1795797799,1.732614,,,,true,,POST,u,HTTP/1.1,read,,200,,,u,op=read,request_id={}"
    bad = row.replace(",,200,", ",200,") if damage == "lost" else row.replace(",,200,", ",,,200,")
    rows = [row.format(f"{i}-0") for i in range(1, 5)]
    at = {"first": 0, "middle": 2, "quoted": 2}[where]
    rows[at] = bad.format("9-0")
    if where == "quoted":  # a tag holding a comma, as k6 quotes it
        rows[0] = rows[0].replace("op=read", '"op=read,x"')
    path = tmp_path / "read.csv"
    path.write_text(f"{CSV_DEFAULT_HEADER}\n" + "\n".join(rows) + "\n")
    found = 18 if damage == "lost" else 20
    with pytest.raises(
        FormatError, match=rf"read\.csv:{at + 2}: a line has {found} fields where the header has 19"
    ):
        ingest(path)


def test_not_k6_output(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text("<html><body>k6 report</body></html>")
    with pytest.raises(FormatError, match=r"report\.html:1: not k6 output"):
        ingest(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="cannot read the file"):
        ingest(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (point("graphql_errors", 1, request_id=None), "graphql_errors point has no request_id metadata"),
        (
            point("http_req_duration", 3.0, tags={**TAGS, "status": "abc"}),
            "http_req_duration point has no numeric status",
        ),
        (point("http_req_duration", 3.0, time="yesterday"), "http_req_duration point has no readable time"),
        (
            point("dropped_iterations", 0.5, tags={"scenario": "read"}, request_id=None),
            "dropped_iterations point is not a whole count",
        ),
        (
            point("dropped_iterations", 2e9, tags={"scenario": "read"}, request_id=None),
            "dropped_iterations point is an implausible count",
        ),
        (point("http_req_duration", -5.0, request_id="9-0"), "http_req_duration point is not a duration"),
        (point("ingest_duration", float("inf"), request_id="1-1"), "ingest_duration point is not a duration"),
        (
            point("http_req_duration", 3.0, tags={**TAGS, "op": "a\x1fb"}, request_id="9-0").replace(
                "\\u001f", "\x1f"
            ),
            "holds a raw control byte",
        ),
    ],
)
def test_a_point_missing_what_it_needs_is_named(tmp_path: Path, line: str, message: str) -> None:
    lines = k6_lines()
    lines.insert(9, line)
    with pytest.raises(FormatError, match=rf"read\.json:10: {message}"):
        ingest(write(tmp_path / "read.json", lines))


def test_dropped_iterations_past_any_real_run_are_refused_not_expanded(tmp_path: Path) -> None:
    dropped = point("dropped_iterations", 4_000_000, tags={"scenario": "read"}, request_id=None)
    with pytest.raises(FormatError, match=r"read\.json: the dropped_iterations points add up to 12,000,000"):
        ingest(write(tmp_path / "read.json", [*k6_lines(), dropped, dropped, dropped]))


def test_a_custom_metric_twice_for_one_request(tmp_path: Path) -> None:
    lines = k6_lines()
    lines.append(lines[6])  # the graphql_errors point of request 1-0 again
    with pytest.raises(FormatError, match="graphql_errors was recorded twice for request_id '1-0'"):
        ingest(write(tmp_path / "read.json", lines))


def test_block_boundaries_do_not_change_rows_or_line_numbers(tmp_path: Path, monkeypatch) -> None:
    """Blocks far smaller than a line exercise every split; the answer must not change."""
    lines = k6_lines(40)
    path = write(tmp_path / "read.json", lines)
    whole = ingest(path)
    lines[150] = "garbage"
    broken = write(tmp_path / "broken.json", lines)
    # A bad point, and a line that is not JSON in the next block: the first one is reported.
    lines[40] = point("http_req_duration", 1.0, tags={**TAGS, "status": "x"})
    lines[42] = "garbage"
    twice_broken = write(tmp_path / "twice.json", lines)
    monkeypatch.setattr(ingest_blocks, "BLOCK_BYTES", 97)
    assert ingest(path).equals(whole)
    with pytest.raises(FormatError, match=r"broken\.json:151: is not a line"):
        ingest(broken)
    with pytest.raises(FormatError, match=r"twice\.json:41: http_req_duration point has no numeric status"):
        ingest(twice_broken)  # the first problem in the file, though blocks are worked on in parallel


@pytest.mark.parametrize(
    ("later", "message"),
    [
        (b"garbage", r"is not a line of k6"),
        (b'{"metric":"vus","type":"Point","data":{"value":"\x1f"}}', r"holds a raw control byte \(0x1f\)"),
        (b'{"metric":"vus","type":"Point","data":{"value":"\xff"}}', r"is not valid UTF-8"),
    ],
)
def test_the_first_problem_is_reported_when_one_chunk_holds_two(
    tmp_path: Path, later: bytes, message: str
) -> None:
    """Points are checked after the lines are read, in parallel chunks: a bad point above a
    broken line, in the same chunk, is still the error reported; alone, the broken line is."""
    lines = [line.encode() for line in k6_lines(40)]
    lines[60] = later
    only_later = tmp_path / "later.json"
    only_later.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(FormatError, match=rf"later\.json:61: {message}"):
        ingest(only_later)
    lines[40] = point("http_req_duration", 1.0, tags={**TAGS, "status": "x"}).encode()
    both = tmp_path / "both.json"
    both.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(FormatError, match=r"both\.json:41: http_req_duration point has no numeric status"):
        ingest(both)


def test_a_bad_point_before_a_corrupt_gzip_end_is_reported_first(tmp_path: Path) -> None:
    lines = k6_lines(2000)
    lines[40] = point("http_req_duration", 1.0, tags={**TAGS, "status": "x"})
    packed = gzip.compress(("\n".join(lines) + "\n").encode())
    truncated = tmp_path / "read.json.gz"
    truncated.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(
        FormatError, match=r"read\.json\.gz:41: http_req_duration point has no numeric status"
    ):
        ingest(truncated)


def test_csv_time_unit_is_one_for_the_file(tmp_path: Path, monkeypatch) -> None:
    """k6's CSV timeFormat is a file-wide setting: a time with other digits is refused, in
    whichever block it falls."""
    row = "http_req_duration,{time},1.5,,,,true,,POST,u,HTTP/1.1,read,,200,,,u,op=read,request_id={id}"
    rows = [row.format(time=1795797799, id=f"{i}-0") for i in range(30)]
    rows[20] = row.format(time=17957977990, id="20-0")
    path = tmp_path / "read.csv"
    path.write_text(CSV_DEFAULT_HEADER + "\n" + "\n".join(rows) + "\n")
    for block in (97, 4096, ingest_blocks.BLOCK_BYTES):
        monkeypatch.setattr(ingest_blocks, "BLOCK_BYTES", block)
        with pytest.raises(FormatError, match=r"read\.csv:22: http_req_duration point has no readable time"):
            ingest(path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_files_either_read_or_fail_with_our_error(data) -> None:
    original = ("\n".join(k6_lines(3)) + "\n").encode()
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        action = data.draw(st.sampled_from(["flip", "delete", "insert", "cut"]))
        if action == "flip":
            mutated[position] = data.draw(st.integers(0, 255))
        elif action == "delete":
            del mutated[position]
        elif action == "insert":
            mutated.insert(position, data.draw(st.sampled_from(b'\n{}",:\\x0')))
        else:
            del mutated[position:]
        if not mutated:
            break
    packed = data.draw(st.booleans())
    payload = gzip.compress(bytes(mutated)) if packed else bytes(mutated)
    try:
        samples = ingest(payload, name="read.json")
    except InputError as error:
        assert "read.json" in str(error)
    else:
        assert samples.height >= 1
