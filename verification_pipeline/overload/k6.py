"""Run the overload phase with k6 (`loadtest/scripts/overload.js`) and read its output into raw rows.

Only two metrics of k6's `--out json` are read: our `overload_request` Trend (one Point per
request, its tags carrying tenant, status, Retry-After and error code) and k6's
`dropped_iterations` (a request the schedule owed that k6 could not start: offered, never sent).
Tokens reach k6 through the environment and are masked in its output, as for the SLO load.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from verification_pipeline.errors import FormatError
from verification_pipeline.fileio import read_capped
from verification_pipeline.loadtest.runner import SCRIPTS_DIR, run_k6
from verification_pipeline.overload.limits import CostControls
from verification_pipeline.overload.schema import ROWS_SCHEMA, SCENARIOS

SCRIPT = SCRIPTS_DIR / "overload.js"
REQUEST_METRIC = "overload_request"
DROPPED_METRIC = "dropped_iterations"
MAX_OUTPUT_BYTES = 1 << 30
"""k6's raw output of one overload phase: ~3 KB per request, so ~300,000 requests."""
_TENANT_OF = {"overload": "a", "recovery": "a", "neighbour": "b"}


@dataclass(frozen=True)
class OverloadTenants:
    """Tenant A (driven past its limit) and B (the neighbour): names and tokens (never shown)."""

    tenant_a: str
    token_a: str = field(repr=False)
    tenant_b: str
    token_b: str = field(repr=False)


@dataclass(frozen=True)
class PhaseTiming:
    """How long the phase ran: the declared durations, or a run's override (the demo's)."""

    overload_s: float
    recovery_s: float


def run_overload(
    graphql_url: str,
    tenants: OverloadTenants,
    controls: CostControls,
    timing: PhaseTiming,
    *,
    on_line: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> pl.DataFrame:
    """k6 through the whole phase; its requests as rows of `ROWS_SCHEMA`, in time order."""
    env = {
        "GRAPHQL_URL": graphql_url,
        "JWT_A": tenants.token_a,
        "JWT_B": tenants.token_b,
        "TENANT_A": tenants.tenant_a,
        "TENANT_B": tenants.tenant_b,
        "OFFERED_RPS": f"{controls.offered_rps:g}",
        "NEIGHBOUR_RPS": f"{controls.neighbour_rps:g}",
        "RECOVERY_RPS": f"{controls.recovery_rps:g}",
        "OVERLOAD_S": f"{timing.overload_s:g}",
        "RECOVERY_S": f"{timing.recovery_s:g}",
        "TIMEOUT": f"{int(controls.request_timeout_s * 1000)}ms",
    }
    with tempfile.TemporaryDirectory(prefix="vp-overload-") as workdir:
        out = Path(workdir) / "overload.json"
        run_k6(
            SCRIPT,
            out,
            env=env,
            secret_env=("JWT_A", "JWT_B"),
            on_line=on_line,
            on_start=on_start,
            timeout_s=timing.overload_s + timing.recovery_s + controls.request_timeout_s + 120,
        )
        return read_overload_output(read_capped(out, limit=MAX_OUTPUT_BYTES, what="k6's overload output"))


def read_overload_output(data: bytes, *, source: str = "k6's overload output") -> pl.DataFrame:
    """The rows in k6's NDJSON: one per `overload_request` Point and per dropped iteration."""
    rows: list[dict[str, Any]] = []
    wanted = (f'"metric":"{REQUEST_METRIC}"'.encode(), f'"metric":"{DROPPED_METRIC}"'.encode())
    for number, line in enumerate(data.splitlines(), start=1):
        if b'"type":"Point"' not in line or not any(w in line for w in wanted):
            continue
        try:
            point = json.loads(line)
            rows.extend(_rows_of(point))
        except (ValueError, KeyError, TypeError) as exc:
            raise FormatError(
                f"line {number}: not a k6 Point of the overload phase ({exc})", source=source
            ) from None
    frame = pl.DataFrame(rows, schema=ROWS_SCHEMA, orient="row")
    return frame.sort("ts")


def _rows_of(point: dict[str, Any]) -> list[dict[str, Any]]:
    data = point["data"]
    tags = data.get("tags") or {}
    scenario = tags["scenario"]
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}")
    ts = dt.datetime.fromisoformat(data["time"]).timestamp()
    if point["metric"] == DROPPED_METRIC:
        base = {"ts": ts, "scenario": scenario, "tenant": _TENANT_OF[scenario], "status": 0}
        extra = {"latency_ms": None, "retry_after_s": None, "error_code": 0, "dropped": True}
        return [{**base, **extra}] * int(data["value"])
    retry = tags.get("retry_after", "")
    return [
        {
            "ts": ts,
            "scenario": scenario,
            "tenant": tags["tenant"],
            "status": int(tags["status"]),
            "latency_ms": float(data["value"]),
            "retry_after_s": float(retry) if retry not in ("", "x") else None,
            "error_code": int(tags.get("error_code") or 0),
            "dropped": False,
        }
    ]
