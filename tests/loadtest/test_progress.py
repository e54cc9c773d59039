"""k6 progress for people: k6's progress lines joined with the raw points it has written so far."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verification_pipeline.loadtest.progress import ProgressReader, is_log_line, k6_seconds


def _point(metric: str, value: float, **tags: str) -> str:
    return json.dumps(
        {
            "metric": metric,
            "type": "Point",
            "data": {"time": "2026-12-02T12:00:00Z", "value": value, "tags": tags},
        },
        separators=(",", ":"),
    )


@pytest.mark.parametrize(
    ("text", "seconds"), [("15.0s", 15.0), ("1m30.5s", 90.5), ("500ms", 0.5), ("3m0s", 180.0)]
)
def test_k6_durations_are_read_in_seconds(text, seconds):
    assert k6_seconds(text) == pytest.approx(seconds)


def test_a_progress_line_becomes_time_requests_p95_and_errors_so_far(tmp_path: Path):
    out = tmp_path / "out.json"
    points = [_point("http_req_duration", float(ms), expected_response="true") for ms in range(1, 101)]
    points.append(_point("http_req_duration", 500.0, expected_response="false"))
    points.append(_point("graphql_errors", 1.0))
    points.append(_point("graphql_errors", 0.0))
    points.append(_point("dropped_iterations", 2.0))
    out.write_text(
        '{"type":"Metric","data":{}}\n' + "\n".join(points) + "\n" + points[0][:20]
    )  # last line unfinished
    reader = ProgressReader(out)
    assert reader.feed("   * read: 50 looping VUs for 20s (gracefulStop: 30s)") is None
    progress = reader.feed("read   [  75% ] 50 VUs  15.0s/20s")
    assert (progress.elapsed_s, progress.total_s, progress.requests, progress.failures) == (
        15.0,
        20.0,
        101,
        4,
    )
    assert progress.p95_ms == pytest.approx(96.0)  # type 7 over 1..100 and 500
    assert progress.text() == "15 s of 20 s (75 %), 101 requests, p95 96.0 ms, 4 errors so far"


def test_points_are_read_once_and_a_line_k6_is_still_writing_is_read_when_finished(tmp_path: Path):
    out = tmp_path / "out.json"
    line = _point("http_req_duration", 10.0, expected_response="true")
    out.write_text(line + "\n" + line[:30])
    reader = ProgressReader(out)
    assert reader.feed("read [ 10% ] 1 VUs 1.0s/10s").requests == 1
    with out.open("a") as stream:
        stream.write(line[30:] + "\n")
    assert reader.feed("read [ 20% ] 1 VUs 2.0s/10s").requests == 2


def test_before_k6_writes_anything_progress_has_no_p95(tmp_path: Path):
    progress = ProgressReader(tmp_path / "not-yet.json").feed(
        "write [ 5% ] 000/020 VUs  1.0s/20s  10.00 iters/s"
    )
    assert progress.requests == 0 and progress.p95_ms is None
    assert progress.text() == "1 s of 20 s (5 %), 0 requests, p95 n/a, 0 errors so far"


def test_k6_log_lines_are_told_apart_from_banner_and_summary():
    assert is_log_line('time="2026-12-02T12:00:00Z" level=warning msg="Request Failed"')
    assert not is_log_line("     execution: local")
    assert not is_log_line("  /          \\   |   (  |  (‾)  |")


def test_a_malformed_point_is_skipped_not_raised_so_k6_output_keeps_flowing(tmp_path: Path):
    out = tmp_path / "out.json"
    good = _point("http_req_duration", 10.0, expected_response="true")
    out.write_text('{"metric":"http_req_duration","type":"Point","data":{"value":"x"\n' + good + "\n")
    assert ProgressReader(out).feed("read [ 50% ] 1 VUs 5.0s/10s").requests == 1
