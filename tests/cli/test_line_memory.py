"""One endless line is refused before it is held whole: peak RSS stays under 1 GB for any single line.

Each run is the installed CLI in its own process; its peak resident memory is the kernel's count
for that process alone (wait4). The lines are 110 MB, as in the report that found k6 summarize
killed at 2 GB on such a CSV line and at 1.3 GB on such a JSON line.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.userproc import peak_rss
from verification_pipeline.loadtest.ingest.blocks import MAX_LINE_BYTES

LINE_BYTES = 110_000_000
LIMIT = 1 << 30


def _long_line(head: bytes, fill: bytes, tail: bytes, *, compressed: bool = False) -> Callable[[Path], Path]:
    """A writer of `head`, then `fill` up to LINE_BYTES (written a megabyte at a time), then `tail`."""

    def make(path: Path) -> Path:
        with gzip.open(path, "wb", compresslevel=1) if compressed else path.open("wb") as out:
            out.write(head)
            for _ in range(LINE_BYTES // len(fill)):
                out.write(fill)
            out.write(tail)
        return path

    return make


_POINT = b'{"metric":"http_req_duration","type":"Point","data":{"time":"2025-11-27T12:00:00Z","value":1,"tags":{"url":"'
_CSV_HEADER = (
    b"metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,"
    b"proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata\n"
)
_k6_json = _long_line(_POINT, b"x" * 1_000_000, b'"}}}\n')
_k6_json_gz = _long_line(_POINT, b"x" * 1_000_000, b'"}}}\n', compressed=True)
_k6_csv_header = _long_line(b"metric_name,timestamp,metric_value,", b"y" * 1_000_000, b"\n")
# a stray quote: everything after it would be one field spanning the rest of the file
_k6_csv_quoted_field = _long_line(_CSV_HEADER + b'http_reqs,1764244800,1,"', b"z" * 999_999 + b"\n", b"")
# a scan report is one JSON document, often on one line: this one is a long string inside it
_scan_report = _long_line(
    b'{"matches":[],"source":{},"descriptor":{"name":"grype","note":"', b"q" * 1_000_000, b'"}}\n'
)
# millions of tiny objects on one line: 90 MB of `{},` once took 2.4 GB of Python objects
_scan_report_tiny_objects = _long_line(
    b'{"matches":[', b"{}," * 333_333 + b"{}", b'],"source":{},"descriptor":{"name":"grype"}}\n'
)

CASES = {
    "k6 JSON line": (_k6_json, "run.json", ["k6", "summarize"], 2, "run.json:1: a line longer than"),
    "k6 CSV header line": (
        _k6_csv_header,
        "run.csv",
        ["k6", "summarize"],
        2,
        "run.csv:1: a line longer than",
    ),
    "k6 CSV stray quote": (
        _k6_csv_quoted_field,
        "run.csv",
        ["k6", "summarize"],
        2,
        "run.csv:2: a quoted field",
    ),
    "k6 gzip JSON line": (
        _k6_json_gz,
        "run.json.gz",
        ["k6", "gate", "--p95", "1", "--error-rate", "1"],
        2,
        ":1:",
    ),
    "scan report line": (_scan_report, "grype.json", ["scan", "summarize"], 0, ""),
    "scan report of tiny objects": (
        _scan_report_tiny_objects,
        "grype.json",
        ["scan", "summarize"],
        2,
        "too large to decode in memory",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_110_mb_line_stays_under_1_gb(tmp_path: Path, name: str) -> None:
    make, file_name, command, expected, message = CASES[name]
    path = make(tmp_path / file_name)
    code, err, rss = peak_rss([*command, str(path)])
    assert code == expected, err
    assert message in err
    assert rss < LIMIT, f"{name}: peak RSS {rss / 2**20:.0f} MiB"
    if name.startswith("k6"):
        # refused once the line passes the cap, not after reading it: far below the line's size
        assert rss < 400 * 2**20, (
            f"{name}: peak RSS {rss / 2**20:.0f} MiB for a line capped at {MAX_LINE_BYTES >> 20} MiB"
        )
