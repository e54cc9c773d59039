"""Synthetic raw frames in the pipeline's own schemas, seeded, for the report and chart tests.

About 30 s of load (read and write, a few failures of every kind) and a small fan-out run
with late and lost deliveries: enough for every chart to have something to draw.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl

from verification_pipeline.fanout.accounting import DELIVERY_SCHEMA
from verification_pipeline.loadtest.ingest import SAMPLE_SCHEMA
from verification_pipeline.slo.document import metrics_document
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH

START = dt.datetime(2026, 12, 2, 12, 0, 0, tzinfo=dt.UTC)
BASELINE_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "baseline" / "compared.json"
# The default SLOs, with sample minimums a 30 s synthetic run meets.
SLOS_YAML = DEFAULT_SLOS_PATH.read_text().replace("min_samples: 1000", "min_samples: 500")


def load_frame(
    op: str, n: int, duration_s: float, median_ms: float, rng: np.random.Generator
) -> pl.DataFrame:
    offsets = np.sort(rng.uniform(0, duration_s, n))
    latency = rng.lognormal(np.log(median_ms), 0.45, n)
    failure = np.full(n, None, dtype=object)
    picks = rng.choice(n, 8, replace=False)
    for index, kind in zip(
        picks, ["http", "http", "graphql", "graphql", "timeout", "dropped", "http", "graphql"], strict=True
    ):
        failure[index] = kind
    status = np.where(failure == "http", 503, 200).astype(np.int32)
    status[failure == "dropped"] = 0
    latency = np.where(failure == "dropped", np.nan, latency)
    return (
        pl.DataFrame(
            {
                "timestamp": [START + dt.timedelta(seconds=float(s)) for s in offsets],
                "op": op,
                "latency_ms": latency,
                "status": status,
                "ok": [f is None for f in failure],
                "failure": failure.tolist(),
                "scenario": op,
                "segment": "0:1",
                "ingest_ms": rng.lognormal(np.log(12.0), 0.5, n) if op == "write" else None,
            },
            schema_overrides=SAMPLE_SCHEMA,
        )
        .with_columns(pl.col("latency_ms").fill_nan(None))
        .select(list(SAMPLE_SCHEMA))
        .cast(SAMPLE_SCHEMA)
    )


def fanout_frame(subscribers: int, events: int, rng: np.random.Generator) -> pl.DataFrame:
    rows = []
    for subscriber in range(subscribers):
        for seq in range(events):
            published = START + dt.timedelta(milliseconds=100 * seq)
            latency = float(rng.lognormal(np.log(20.0), 0.6))
            status = "lost" if rng.random() < 0.01 else "late" if latency > 120 else "delivered"
            received = None if status == "lost" else published + dt.timedelta(milliseconds=latency)
            rows.append(
                (
                    subscriber,
                    f"e{seq}",
                    seq,
                    published,
                    received,
                    None if status == "lost" else latency,
                    status,
                )
            )
    return pl.DataFrame(rows, schema=DELIVERY_SCHEMA, orient="row")


def synthetic(seed: int = 7) -> dict:
    """Frames, the metrics document computed from them, a scan summary and the baseline fixture."""
    rng = np.random.default_rng(seed)
    read = load_frame("read", 3000, 30.0, 45.0, rng)
    write = load_frame("write", 1200, 30.0, 90.0, rng)
    fanout = fanout_frame(20, 40, rng)
    metrics = metrics_document(
        spec_yaml=SLOS_YAML, spec_source="slos.yaml", read=read, write=write, fanout=fanout
    )
    scan_summary = {
        "verdict": "PASS",
        "gates": [
            {"name": "sbom_present", "verdict": "PASS", "reason": "412 components"},
            {"name": "vulnerability_policy", "verdict": "PASS", "reason": "no finding breaks the policy"},
            {"name": "policies_pass", "verdict": "PASS", "reason": "12 policies pass"},
        ],
    }
    return {
        "read": read,
        "write": write,
        "fanout": fanout,
        "metrics": json.loads(json.dumps(metrics, default=str)),
        "scan_summary": scan_summary,
        "baseline": json.loads(BASELINE_FIXTURE.read_text()),
    }
