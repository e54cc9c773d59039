"""How points become rows: op resolution, failure kinds, dropped iterations, CSV time formats."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.loadtest.lines import TAGS, k6_lines, point, write
from verification_pipeline.errors import FormatError
from verification_pipeline.loadtest.ingest import CSV_DEFAULT_HEADER, ingest, role_from_name

SEED_TAGS = {**TAGS, "scenario": "default"}
del SEED_TAGS["op"]


def seed_style(count: int = 3) -> list[str]:
    """What the seed's scripts write: implicit `default` scenario, no op tag, no metadata."""
    return [point("http_req_duration", 5.0 + i, tags=SEED_TAGS, request_id=None) for i in range(count)]


@pytest.mark.parametrize(
    ("name", "role", "op"),
    [
        ("read.json", None, "read"),
        ("write-seg1.json.gz", None, "write"),
        ("results.json", "write", "write"),
        ("results.json", None, "default"),
    ],
)
def test_op_from_tag_scenario_role_or_file_name(tmp_path: Path, name: str, role: str | None, op: str) -> None:
    payload = ("\n".join(seed_style()) + "\n").encode()
    assert set(ingest(payload, name=name, role=role)["op"]) == {op}


def test_op_tag_wins_over_role(tmp_path: Path) -> None:
    assert set(ingest(write(tmp_path / "write.json", k6_lines()))["op"]) == {"read"}


def test_role_from_name() -> None:
    assert role_from_name("ci/read.json") == "read"
    assert role_from_name("WRITE.csv") == "write"
    assert role_from_name("reader.json") is None


def test_failure_kinds(tmp_path: Path) -> None:
    timeout_tags = {**TAGS, "error": "request timeout", "error_code": "1050", "status": "0"}
    lines = [
        point("http_req_duration", 60000.0, tags=timeout_tags, request_id="1-0"),
        point("http_req_duration", 2.0, tags={**TAGS, "status": "503"}, request_id="1-1"),
        point("http_req_duration", 0.0, tags={**TAGS, "status": "0", "error_code": "1212"}, request_id="1-2"),
        point("http_req_duration", 3.0, tags={**TAGS, "status": "302"}, request_id="1-3"),
        point("graphql_errors", 1, request_id="1-4"),
        point("http_req_duration", 4.0, request_id="1-4"),
        point("dropped_iterations", 2, tags={"scenario": "read"}, request_id=None),
    ]
    samples = ingest(write(tmp_path / "read.json", lines))
    assert samples["failure"].to_list() == ["timeout", "http", "http", None, "graphql", "dropped", "dropped"]
    assert samples["status"].to_list() == [0, 503, 0, 302, 200, 0, 0]
    assert samples["ok"].to_list() == [False, False, False, True, False, False, False]
    assert samples["timestamp"][0] == datetime(2025, 11, 27, 12, 0, 0, 123456, tzinfo=UTC)


def test_several_requests_with_one_id_cannot_be_joined(tmp_path: Path) -> None:
    lines = k6_lines()
    lines.append(point("http_req_duration", 1.0, request_id="1-0"))
    with pytest.raises(FormatError, match="several http_req_duration points share one request_id"):
        ingest(write(tmp_path / "read.json", lines))


def test_local_time_offsets_become_utc(tmp_path: Path) -> None:
    lines = [point("http_req_duration", 1.0, time="2017-05-09T14:34:45.625742514+02:00")]
    samples = ingest(write(tmp_path / "read.json", lines))
    assert samples["timestamp"][0] == datetime(2017, 5, 9, 12, 34, 45, 625742, tzinfo=UTC)


@pytest.mark.parametrize(
    "stamp",
    ["1795797799", "1795797799123", "1795797799123456", "1795797799123456789", "2026-11-27T16:43:19Z"],
)
def test_csv_time_formats(tmp_path: Path, stamp: str) -> None:
    row = f"http_req_duration,{stamp},1.732614,,,,true,,POST,u,HTTP/1.1,read,,200,,,u,op=read,request_id=1-0"
    path = tmp_path / "read.csv"
    path.write_text(f"{CSV_DEFAULT_HEADER}\n{row}\n")
    timestamp = ingest(path)["timestamp"][0]
    assert timestamp.replace(microsecond=0) == datetime(2026, 11, 27, 16, 43, 19, tzinfo=UTC)
