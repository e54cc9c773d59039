"""The compiled k6 NDJSON scanner (`_k6scan.c`) against the polars path it stands in for.

The polars path (`ndjson.polars_chunk`) is the reference: on every chunk the scanner takes, its
points must be those of the polars path to the last byte and null; a chunk it is unsure of must
be given back (None), so the polars path names the bad line. No mock: the real extension, built
by the install (`setup.py`); a broken build fails the import here, not silently.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.loadtest.lines import TAGS, k6_lines, metric_line, point
from verification_pipeline.loadtest.ingest import StageTimes, _k6scan, ingest, ndjson
from verification_pipeline.loadtest.ingest.scanned import scanned_points

RID = {"request_id": "7-1"}


def _line(data: str, metric: str = "http_req_duration") -> str:
    return f'{{"metric":"{metric}","type":"Point","data":{data}}}'


# Lines the scanner takes: each must give what the regex extracts give (first match, raw text).
TAKEN = [
    *k6_lines(4),
    point("dropped_iterations", 3, tags={"scenario": "write", "group": ""}, request_id=None),
    point("ingest_duration", 41.25, tags={"op": "write"}, request_id="9-9"),
    # UTF-8 as k6 (Go) writes it, unescaped
    _line(
        '{"time":"2025-11-27T12:00:00Z","value":5,"tags":{"name":"ユーザー","op":"lecture-é","status":"200"}}'
    ),
    point("graphql_errors", 1, tags={}, request_id="é-1").replace("\\u00e9", "é"),
    point("http_req_duration", 1e-07, tags={**TAGS, "status": "", "error_code": "1050"}),
    point("http_req_duration", -3, tags={k: v for k, v in TAGS.items() if k != "status"}),
    point("http_req_duration", 2, tags={**TAGS, "status": "abc", "op": ""}),
    point("http_reqs", 1, tags={**TAGS, "url": 'http://x/?a=1&b="q"\\'}),  # escapes in a field not read
    point("http_req_duration", 2, tags={**TAGS, "url": '"op":"evil", "status":"999"'}),
    point("http_req_duration", 2, tags={"request_id": "tag-first", **TAGS}, request_id="meta"),
    _line('{"tags":{"op":"r","status":"200"},"value":"12","time":"2025-11-27T12:00:01+01:00"}'),
    _line('{"time":"2025-11-27T12:00:02Z","value":null,"tags":{"op":"a","op":"b","status":"500"}}'),
    _line('{"time":"2025-11-27T12:00:03Z","value":7 ,"tags":{}}'),
    _line('{"time":"2025-11-27T12:00:03Z","value":1}', metric="http_req_duration_extra"),
    '{"metric":"http_req_duration","type":"Pointless","data":{"value":4,"time":"x"}}',
    '{"metric":"graphql_errors","type":"Point","data":{"value":1,"metadata":{"request_id":"unclosed}',
    '{"metric":"http_req_duration","type":"Point","data":{"value":1,"tags":{"op":"x}',
    metric_line("ingest_duration"),
]
# Lines it gives back: a bad line, or a field the regex would read in a way it does not follow.
GIVEN_BACK = [
    point("http_req_duration", 5, tags={**TAGS, "scenario": 'a"b'}),  # escape in a field read
    point("graphql_errors", 0, tags={}, request_id="é-1"),  # json.dumps escapes it: \u00e9
    _line('{"time":"","value":1,"tags":{"status":"200"}}'),  # empty time: a later "time" may match
    _line('{"time":"2025-11-27T12:00:00Z","value":,"tags":{"status":"200"}}'),
    "",  # blank
    point("http_reqs", 1) + "\r",  # \r\n line ending
    point("http_reqs", 1).replace('"POST"', '"PO\x1fST"'),
    point("http_reqs", 1).replace(",", ",\t", 1),
    '["not", "an object"]',
    point("http_reqs", 1)[:-3],  # cut short
]


def _chunk(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _reference(chunk: bytes) -> tuple[pl.DataFrame | None, int]:
    return ndjson.polars_chunk(chunk, StageTimes())


def test_the_extension_is_built_and_takes_a_k6_chunk_in_one_pass() -> None:
    chunk = _chunk(k6_lines(3))
    scanned = _k6scan.scan(chunk)
    assert scanned is not None
    lines, rows, _ = scanned
    assert lines == len(k6_lines(3))
    assert rows == 6  # http_req_duration and graphql_errors of three requests
    assert _k6scan.scan(memoryview(chunk)) is not None


@pytest.mark.parametrize("line", TAKEN, ids=range(len(TAKEN)))
def test_each_line_the_scanner_takes_gives_the_polars_path_fields(line: str) -> None:
    for chunk in (_chunk([line]), line.encode()):  # with and without its newline
        scanned = scanned_points(chunk, StageTimes())
        assert scanned is not None, line
        points, lines = scanned
        expected, expected_lines = _reference(chunk)
        assert lines == expected_lines
        if expected is None:
            assert points is None
        else:
            assert points is not None
            assert_frame_equal(points, expected)


def test_a_chunk_of_every_line_taken_in_shuffled_order_gives_the_polars_path_frame() -> None:
    lines = TAKEN * 3
    random.Random(5).shuffle(lines)
    chunk = _chunk(lines)
    scanned = scanned_points(chunk, StageTimes())
    assert scanned is not None
    expected = _reference(chunk)
    assert scanned[1] == expected[1]
    assert scanned[0] is not None and expected[0] is not None
    assert_frame_equal(scanned[0], expected[0])


@pytest.mark.parametrize("line", GIVEN_BACK, ids=range(len(GIVEN_BACK)))
def test_a_chunk_with_a_line_the_scanner_is_unsure_of_goes_to_polars(line: str) -> None:
    chunk = _chunk(k6_lines(2)) + line.encode() + b"\n"
    assert scanned_points(chunk, StageTimes()) is None
    assert _k6scan.scan(_chunk(k6_lines(2)) + b"\xff" + line.encode() + b"\n") is None  # invalid UTF-8


def _generated(path: Path, hostile: bool) -> Path:
    """A k6 file of several chunks (gzip: reads start small and double), odd but valid lines
    sprinkled in; `hostile` adds an escape in a field read, so that one chunk goes to polars."""
    rng = random.Random(11)
    lines = k6_lines(0)
    for i in range(12_000):
        rid = f"{i % 7}-{i}"
        tags = {
            **TAGS,
            "op": rng.choice(["read", "write", "lecture-é"]),
            "status": rng.choice(["200", "500"]),
        }
        lines += [
            point("http_reqs", 1, request_id=rid, tags=tags),
            point("http_req_duration", round(rng.random() * 90, 6), request_id=rid, tags=tags),
            point("graphql_errors", int(rng.random() < 0.1), request_id=rid, tags={"op": tags["op"]}),
            point("ingest_duration", round(rng.random() * 9, 3), request_id=rid, tags={}),
        ]
        if i % 997 == 0:
            lines.append(point("dropped_iterations", 2, tags={"scenario": "read"}, request_id=None))
    if hostile:
        lines[len(lines) // 2] = point(
            "http_req_duration", 3, tags={**TAGS, "scenario": 'r"x'}, request_id="h"
        )
    text = _chunk(lines).replace(b"\\u00e9", "é".encode())  # unescaped, as k6 writes it
    path.write_bytes(gzip.compress(text, compresslevel=1))
    return path


@pytest.mark.parametrize("hostile", [False, True])
def test_ingest_with_the_scanner_gives_the_rows_of_the_polars_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile: bool
) -> None:
    path = _generated(tmp_path / "read.json.gz", hostile)
    taken: list[bool] = []

    def counted(data: bytes, clock: StageTimes) -> tuple[pl.DataFrame | None, int] | None:
        scanned = scanned_points(data, clock)
        taken.append(scanned is not None)
        return scanned

    monkeypatch.setattr(ndjson, "scanned_points", counted)
    with_scanner = ingest(path)
    assert len(taken) > 3  # several chunks
    assert taken.count(False) == int(hostile)  # the C path is used: only the hostile chunk falls back
    monkeypatch.setattr(ndjson, "scanned_points", lambda data, clock: None)
    assert_frame_equal(with_scanner, ingest(path))
    assert with_scanner.height > 12_000
