"""Synthetic latency samples in time order: lognormal, independent or AR(1) in the log (a Gaussian copula)."""

from __future__ import annotations

import datetime as dt
import math
import random

import polars as pl

from verification_pipeline.loadtest.ingest import SAMPLE_SCHEMA

MU, SIGMA = 3.0, 0.5
"""median e^3 ~ 20 ms, p95 ~ 45 ms: the reference target's read latencies under load."""


def lognormal_ar1(rng: random.Random, n: int, rho: float, scale: float = 1.0) -> list[float]:
    """n latencies whose logs follow a stationary AR(1) with lag-1 autocorrelation `rho`."""
    state = rng.gauss(0.0, 1.0)
    innovation = math.sqrt(1.0 - rho * rho)
    out = []
    for _ in range(n):
        state = rho * state + innovation * rng.gauss(0.0, 1.0)
        out.append(scale * math.exp(MU + SIGMA * state))
    return out


def true_quantile(q: float, scale: float = 1.0) -> float:
    from statistics import NormalDist

    return scale * math.exp(MU + SIGMA * NormalDist().inv_cdf(q))


def load_frame(latencies: list[float], op: str, failed: list[bool] | None = None) -> pl.DataFrame:
    """Rows of `ingest.SAMPLE_SCHEMA`, one request every 10 ms."""
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    failed = failed or [False] * len(latencies)
    return pl.DataFrame(
        {
            "timestamp": [start + dt.timedelta(milliseconds=10 * i) for i in range(len(latencies))],
            "op": [op] * len(latencies),
            "latency_ms": latencies,
            "status": [500 if f else 200 for f in failed],
            "ok": [not f for f in failed],
            "failure": ["http" if f else None for f in failed],
            "scenario": [op] * len(latencies),
            "segment": ["0:1"] * len(latencies),
            "ingest_ms": [v / 4 if op == "write" else None for v in latencies],
        },
        schema=SAMPLE_SCHEMA,
    )
