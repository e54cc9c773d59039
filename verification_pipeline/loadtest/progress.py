"""k6's progress while it runs, for a person watching: time, requests, p95 and errors so far.

Two views of the raw points k6 is writing with `--out json`. `ProgressReader` is fed k6's own
output lines (the Dagster log, via `run_k6(on_progress=...)`): for each progress line
(`read   [  75% ] 50 VUs  15.0s/20s`) it reads what k6 appended since and answers a
`K6Progress` ("15 s of 20 s (75 %), N requests, p95, errors"); `is_log_line` tells k6's log
lines from its banner and end-of-test summary. `LoadTally` counts requests and failures over
every running k6's file without seeing its output (the demo's live line, which watches a run
from outside the step). Only whole lines are read; a half-written last line is read next time.
This is a display, not a measurement: the figures that are judged come from `ingest` once k6
has finished.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from verification_pipeline.loadtest.ingest import DROPPED_METRIC, GRAPHQL_ERRORS_METRIC, REQUEST_METRIC

_REQUEST = b'"metric":"http_reqs","type":"Point"'
# k6 writes a Point's fields in this order: time, value, tags.
_FAILED = re.compile(rb'"metric":"http_req_failed","type":"Point","data":\{"time":"[^"]*","value":1[,}]')
_BLOCK = 8 << 20


@dataclass
class LoadTally:
    """Counts over every file seen so far; `update` reads only what was appended since the last call."""

    requests: int = 0
    failed: int = 0
    _offsets: dict[Path, int] = field(default_factory=dict)

    def update(self, paths: list[Path]) -> None:
        for path in paths:
            try:
                with path.open("rb") as handle:
                    handle.seek(self._offsets.get(path, 0))
                    while block := handle.read(_BLOCK):
                        whole = block[: block.rfind(b"\n") + 1]
                        if not whole:
                            break
                        self.requests += whole.count(_REQUEST)
                        self.failed += len(_FAILED.findall(whole))
                        self._offsets[path] = self._offsets.get(path, 0) + len(whole)
                        handle.seek(self._offsets[path])
            except FileNotFoundError:
                continue  # k6 has not created it yet, or its step already cleaned up


_DURATION = r"(?:\d+(?:\.\d+)?(?:ms|s|m|h))+"
_PROGRESS = re.compile(rf"\[\s*\d+%\s*\].*?\s({_DURATION})/({_DURATION})(?:\s|$)")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_POINTS = tuple(
    f'{{"metric":"{m}","type":"Point"' for m in (REQUEST_METRIC, GRAPHQL_ERRORS_METRIC, DROPPED_METRIC)
)


def k6_seconds(duration: str) -> float:
    """A k6 duration (`1m30.5s`, `500ms`) in seconds."""
    return sum(float(number) * _SECONDS[unit] for number, unit in _PART.findall(duration))


def is_log_line(line: str) -> bool:
    """A k6 log line (`time="..." level=warning msg=...`), as opposed to banner, progress or summary."""
    return line.startswith('time="') and " level=" in line


@dataclass(frozen=True)
class K6Progress:
    """Where a running k6 test is: time, requests so far, their p95 and failures so far."""

    elapsed_s: float
    total_s: float
    requests: int
    failures: int
    p95_ms: float | None

    def text(self) -> str:
        share = 100 * self.elapsed_s / self.total_s if self.total_s else 0.0
        p95 = "p95 n/a" if self.p95_ms is None else f"p95 {self.p95_ms:.1f} ms"
        return (
            f"{self.elapsed_s:.0f} s of {self.total_s:.0f} s ({share:.0f} %), {self.requests:,} requests, "
            f"{p95}, {self.failures:,} errors so far"
        )


class ProgressReader:
    """Feed it k6's output lines; it answers a `K6Progress` for each progress line (else None).

    Thread-safe: k6's stdout and stderr are read by two threads. Only whole lines of the raw
    file are read; a line k6 is still writing is read next time.
    """

    def __init__(self, out_path: Path) -> None:
        self._out_path = out_path
        self._offset = 0
        self._rest = b""
        self._latencies: list[float] = []
        self._failures = 0
        self._lock = threading.Lock()

    def feed(self, line: str) -> K6Progress | None:
        match = _PROGRESS.search(line)
        if match is None:
            return None
        with self._lock:
            self._read_new_points()
            latencies = np.asarray(self._latencies)
            return K6Progress(
                elapsed_s=k6_seconds(match.group(1)),
                total_s=k6_seconds(match.group(2)),
                requests=latencies.size,
                failures=self._failures,
                p95_ms=float(np.percentile(latencies, 95)) if latencies.size else None,  # linear: type 7
            )

    def _read_new_points(self) -> None:
        try:
            with self._out_path.open("rb") as stream:
                stream.seek(self._offset)
                data = stream.read()
        except FileNotFoundError:
            return
        self._offset += len(data)
        *lines, self._rest = (self._rest + data).split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8", "replace")
            if not text.startswith(_POINTS):
                continue
            try:
                point = json.loads(text)
                metric, data_ = point["metric"], point.get("data") or {}
                value = float(data_.get("value") or 0)
            except (ValueError, TypeError, KeyError, AttributeError):
                # progress is a courtesy: a line ingest will refuse must not stop k6's output being read
                continue
            if metric == REQUEST_METRIC:
                self._latencies.append(value)
                if (data_.get("tags") or {}).get("expected_response") == "false":
                    self._failures += 1
            elif value > 0:  # a GraphQL error on an HTTP 200, or dropped iterations
                self._failures += int(value)
