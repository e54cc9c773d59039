"""Small, valid k6 raw outputs (`--out json` NDJSON and `--out csv`) for the ingestion properties.

Line layout, tags and metadata are those of real k6 v1.1 runs of our scripts
(`verification_pipeline/loadtest/scripts/`): a `{"type":"Metric",...}` line the first time a
metric appears, then `{"metric":...,"type":"Point","data":{time,value,tags,metadata}}` lines;
each request writes http_reqs, http_req_duration, http_req_blocked and http_req_failed, then our
`graphql_errors` Rate and, for writes, the `ingest_duration` Trend, joined by `request_id`;
an open-model run adds `dropped_iterations` points. Generated here so the properties start
from many different valid files in microseconds instead of from a few k6 runs.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from dataclasses import dataclass

from hypothesis import strategies as st

from verification_pipeline.loadtest.ingest import CSV_DEFAULT_HEADER

URL = "http://127.0.0.1:44389/graphql"
T0 = dt.datetime(2026, 11, 27, 16, 59, 15, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Request:
    op: str
    status: int
    latency_ms: float
    graphql_error: bool
    ingest_ms: float | None
    request_id: str
    offset_us: int
    error_code: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400 and not self.graphql_error and self.error_code not in ("1050", "1211")


@dataclass(frozen=True)
class Dropped:
    scenario: str
    count: int
    offset_us: int


@dataclass(frozen=True)
class Run:
    requests: tuple[Request, ...]
    dropped: tuple[Dropped, ...]
    nanos: bool  # k6 writes nanoseconds; some exporters cut to microseconds

    @property
    def rows(self) -> int:
        return len(self.requests) + sum(d.count for d in self.dropped)

    @property
    def ok_rows(self) -> int:
        return sum(r.ok for r in self.requests)


def _requests(index: int) -> st.SearchStrategy[Request]:
    return st.builds(
        lambda op, status, latency, gql, ingest, offset, timeout: Request(
            op=op,
            status=0 if timeout else status,
            latency_ms=latency,
            graphql_error=gql and status == 200,
            ingest_ms=ingest if op == "write" else None,
            request_id=f"{index % 7 + 1}-{index}",
            offset_us=offset,
            error_code="1050" if timeout else "",
        ),
        st.sampled_from(["read", "write"]),
        st.sampled_from([200, 200, 200, 204, 301, 400, 429, 500, 503]),
        st.floats(0.05, 5000, allow_nan=False),
        st.booleans(),
        st.floats(0.01, 200, allow_nan=False),
        st.integers(0, 60_000_000),
        st.integers(0, 9).map(lambda n: n == 0),  # one request in ten times out
    )


@st.composite
def k6_runs(draw: st.DrawFn, max_requests: int = 12) -> Run:
    count = draw(st.integers(1, max_requests))
    requests = tuple(draw(_requests(i)) for i in range(count))
    dropped = tuple(
        draw(
            st.lists(
                st.builds(Dropped, st.just("write"), st.integers(1, 3), st.integers(0, 60_000_000)),
                max_size=2,
            )
        )
    )
    return Run(requests, dropped, draw(st.booleans()))


def _time(run: Run, offset_us: int) -> str:
    moment = T0 + dt.timedelta(microseconds=offset_us)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if run.nanos:
        text += "783"
    return text.rstrip("0").rstrip(".") + "Z"


def _point(metric: str, time: str, value: float, tags: dict, request_id: str | None) -> dict:
    data: dict = {"time": time, "value": value, "tags": tags}
    if request_id is not None:
        data["metadata"] = {"request_id": request_id}
    return {"metric": metric, "type": "Point", "data": data}


def _declaration(metric: str, kind: str) -> dict:
    return {
        "type": "Metric",
        "data": {
            "name": metric,
            "type": kind,
            "contains": "time" if kind == "trend" else "default",
            "thresholds": [],
            "submetrics": None,
        },
        "metric": metric,
    }


KINDS = {
    "http_reqs": "counter",
    "http_req_duration": "trend",
    "http_req_blocked": "trend",
    "http_req_failed": "rate",
    "graphql_errors": "rate",
    "ingest_duration": "trend",
    "dropped_iterations": "counter",
    "vus": "gauge",
}


def ndjson_lines(run: Run) -> list[dict]:
    """The run as k6's JSON objects, in k6's order (declaration before a metric's first point)."""
    declared: set[str] = set()
    lines: list[dict] = []

    def emit(metric: str, point: dict) -> None:
        if metric not in declared:
            declared.add(metric)
            lines.append(_declaration(metric, KINDS[metric]))
        lines.append(point)

    emit("vus", _point("vus", _time(run, 0), 2, {}, None))
    for r in run.requests:
        time = _time(run, r.offset_us)
        tags = {
            "expected_response": "true" if 200 <= r.status < 400 else "false",
            "group": "",
            "method": "POST",
            "name": URL,
            "op": r.op,
            "proto": "HTTP/1.1",
            "scenario": r.op,
            "status": str(r.status),
            "url": URL,
        }
        if r.error_code:
            tags["error_code"] = r.error_code
        emit("http_reqs", _point("http_reqs", time, 1, tags, r.request_id))
        emit("http_req_duration", _point("http_req_duration", time, r.latency_ms, tags, r.request_id))
        emit("http_req_blocked", _point("http_req_blocked", time, 0.012, tags, r.request_id))
        emit("http_req_failed", _point("http_req_failed", time, 0 if r.ok else 1, tags, r.request_id))
        custom = {"group": "", "op": r.op, "scenario": r.op}
        emit("graphql_errors", _point("graphql_errors", time, int(r.graphql_error), custom, r.request_id))
        if r.ingest_ms is not None:
            emit("ingest_duration", _point("ingest_duration", time, r.ingest_ms, custom, r.request_id))
    for d in run.dropped:
        emit(
            "dropped_iterations",
            _point("dropped_iterations", _time(run, d.offset_us), d.count, {"scenario": d.scenario}, None),
        )
    return lines


def dump_line(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def ndjson(run: Run) -> bytes:
    return b"".join(dump_line(line) + b"\n" for line in ndjson_lines(run))


CSV_COLUMNS = CSV_DEFAULT_HEADER.split(",")


def csv_rows(run: Run) -> list[list[str]]:
    rows: list[list[str]] = []

    def row(metric: str, offset_us: int, value: float, tags: dict, extra: str, metadata: str) -> None:
        seconds = str(int((T0 + dt.timedelta(microseconds=offset_us)).timestamp()))
        fields = {
            "metric_name": metric,
            "timestamp": seconds,
            "metric_value": f"{value:f}",
            **tags,
            "extra_tags": extra,
            "metadata": metadata,
        }
        rows.append([fields.get(column, "") for column in CSV_COLUMNS])

    for r in run.requests:
        tags = {
            "expected_response": "true" if 200 <= r.status < 400 else "false",
            "method": "POST",
            "name": URL,
            "proto": "HTTP/1.1",
            "scenario": r.op,
            "status": str(r.status),
            "url": URL,
            "error_code": r.error_code,
        }
        meta = f"request_id={r.request_id}"
        row("http_reqs", r.offset_us, 1, tags, f"op={r.op}", meta)
        row("http_req_duration", r.offset_us, r.latency_ms, tags, f"op={r.op}", meta)
        row("http_req_failed", r.offset_us, 0 if r.ok else 1, tags, f"op={r.op}", meta)
        row("graphql_errors", r.offset_us, int(r.graphql_error), {"scenario": r.op}, f"op={r.op}", meta)
        if r.ingest_ms is not None:
            row("ingest_duration", r.offset_us, r.ingest_ms, {"scenario": r.op}, f"op={r.op}", meta)
    for d in run.dropped:
        row("dropped_iterations", d.offset_us, d.count, {"scenario": d.scenario}, "", "")
    return rows


def csv_text(run: Run) -> bytes:
    lines = [CSV_DEFAULT_HEADER] + [",".join(fields) for fields in csv_rows(run)]
    return ("\n".join(lines) + "\n").encode()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)
