"""Small k6 `--out json` files written line by line, in k6's own layout."""

from __future__ import annotations

import json
from pathlib import Path

TAGS = {
    "expected_response": "true",
    "group": "",
    "method": "POST",
    "name": "u",
    "op": "read",
    "proto": "HTTP/1.1",
    "scenario": "read",
    "status": "200",
    "url": "u",
}


def point(
    metric: str,
    value: float,
    *,
    tags: dict | None = None,
    request_id: str | None = "1-0",
    time: str = "2025-11-27T12:00:00.123456789Z",
) -> str:
    data = {"time": time, "value": value, "tags": TAGS if tags is None else tags}
    if request_id is not None:
        data["metadata"] = {"request_id": request_id}
    return json.dumps({"metric": metric, "type": "Point", "data": data}, separators=(",", ":"))


def metric_line(name: str, kind: str = "trend") -> str:
    return json.dumps(
        {
            "type": "Metric",
            "data": {"name": name, "type": kind, "contains": "time", "thresholds": [], "submetrics": None},
            "metric": name,
        },
        separators=(",", ":"),
    )


def k6_lines(requests: int = 5) -> list[str]:
    lines = [
        metric_line("vus", "gauge"),
        point("vus", 2, tags={}, request_id=None),
        metric_line("http_req_duration"),
    ]
    for i in range(requests):
        rid = f"1-{i}"
        lines += [
            point("http_reqs", 1, request_id=rid),
            point("http_req_duration", 10.5 + i, request_id=rid),
            point("http_req_failed", 0, request_id=rid),
            point(
                "graphql_errors",
                int(i == 3),
                tags={"group": "", "op": "read", "scenario": "read"},
                request_id=rid,
            ),
            point("iterations", 1, tags={"group": "", "op": "read", "scenario": "read"}, request_id=None),
        ]
    return lines


def write(path: Path, lines: list[str], *, end: str = "\n") -> Path:
    path.write_text("\n".join(lines) + end)
    return path
