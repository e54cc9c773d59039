"""`demo` prints what a run measured whatever the sample size: a one-sided interval is no crash.

A quantile from fewer than 59 values has no upper confidence bound at 95 % (slo/stats.py
`quantile_bounds` returns None for it), e.g. a short fan-out run; the secrets test met this.
"""

from __future__ import annotations

from tests.pipeline.conftest import RC
from verification_pipeline.cli.stack import _print_outcome
from verification_pipeline.execution.runner import VerificationRun


def test_demo_prints_a_one_sided_interval_instead_of_crashing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    row = {
        "name": "fanout_latency_p95",
        "n": 20,
        "value": 12.5,
        "threshold": 250.0,
        "unit": "ms",
        "ci_low": 11.0,
        "ci_high": None,
        "confidence": 0.9,
        "verdict": "INCONCLUSIVE",
    }
    run = VerificationRun(
        run_id="run-1",
        success=False,
        materialized=[],
        values={"slo_metrics": {"slos": [row]}},
        step_windows={},
    )
    _print_outcome(run, RC, tmp_path / "out", settings=None, elapsed=1.0)
    printed = capsys.readouterr().out
    assert "fanout_latency_p95" in printed and "11.000" in printed and "INCONCLUSIVE" in printed
    assert "90% bounds" in printed and "95" not in printed.split("\n")[1]
