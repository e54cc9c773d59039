"""Our k6 scripts against the reference target: its answers, its Server-Timing, its GraphQL errors."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.loadtest.conftest import k6_summary
from verification_pipeline.loadtest.ingest import ingest
from verification_pipeline.loadtest.runner import run_k6, script_path
from verification_pipeline.loadtest.summary import summarize


def env_for(target, **settings: str) -> dict[str, str]:
    return {
        "GRAPHQL_URL": target.graphql_url,
        "JWT": target.token(),
        "DURATION": "3s",
        "VUS": "2",
        **settings,
    }


def test_writes_carry_the_targets_ingest_time(target, tmp_path: Path) -> None:
    run = run_k6(
        script_path("write"),
        tmp_path / "write.json",
        env=env_for(target),
        summary_path=tmp_path / "summary.json",
    )
    samples = ingest(run.out_path)
    k6 = k6_summary(run)

    assert samples.height == k6["http_reqs"]["count"] > 0
    assert samples["ok"].all(), samples.filter(~pl.col("ok")).head()
    assert samples["ingest_ms"].is_not_null().all()
    write = summarize(samples)["write"]
    for key in ("avg", "min", "med", "max", "p(90)", "p(95)"):
        assert write["ingest_duration"][key] == pytest.approx(k6["ingest_duration"][key], abs=1e-6)
        assert write["http_req_duration"][key] == pytest.approx(k6["http_req_duration"][key], abs=1e-6)


def test_graphql_errors_under_http_200_are_failures(target, tmp_path: Path) -> None:
    with target.faults(graphql_error_rate=0.2):
        run = run_k6(
            script_path("read"),
            tmp_path / "read.json",
            env=env_for(target),
            summary_path=tmp_path / "summary.json",
        )
    samples = ingest(run.out_path)
    k6 = k6_summary(run)

    graphql = samples.filter(pl.col("failure") == "graphql")
    assert graphql.height == k6["graphql_errors"]["passes"] > 0
    assert (graphql["status"] == 200).all()
    assert k6["http_req_failed"]["passes"] == samples.filter(pl.col("failure") == "http").height
