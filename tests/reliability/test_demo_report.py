"""`demo` prints what a run measured whatever the sample size: a one-sided interval is no crash.

A quantile from fewer than 59 values has no upper confidence bound at 95 % (slo/stats.py
`quantile_bounds` returns None for it), e.g. a short fan-out run; the secrets test met this.
"""

from __future__ import annotations

from tests.pipeline.conftest import RC
from verification_pipeline.cli.stack import _print_outcome
from verification_pipeline.execution.runner import VerificationRun
from verification_pipeline.records import RunSummary, SloMetricsRecord, SpecSource
from verification_pipeline.slo_row import SloRow
from verification_pipeline.verdict import Verdict


def test_demo_prints_a_one_sided_interval_instead_of_crashing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    row = SloRow(
        name="fanout_latency_p95",
        metric="quantile",
        source="fanout",
        n=20,
        value=12.5,
        threshold=250.0,
        unit="ms",
        ci_low=11.0,
        ci_high=None,
        confidence=0.9,
        verdict=Verdict.INCONCLUSIVE,
        reason="fewer than 59 deliveries: no upper bound at 90 %",
    )
    metrics = SloMetricsRecord(
        slos=(row,),
        summaries={},
        fanout=None,
        min_delivery_ratio=0.99,
        verdict=Verdict.INCONCLUSIVE,
        spec=SpecSource(source="slos.yaml", yaml=""),
    )
    run = VerificationRun(
        run_id="run-1",
        success=False,
        materialized=[],
        values=RunSummary(slo_metrics=metrics),
        step_windows={},
    )
    _print_outcome(run, RC, tmp_path / "out", settings=None, elapsed=1.0)
    printed = capsys.readouterr().out
    assert "fanout_latency_p95" in printed and "11.000" in printed and "INCONCLUSIVE" in printed
    assert "90% bounds" in printed and "95" not in printed.split("\n")[1]
