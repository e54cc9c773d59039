"""`demo` prints the comparison: every figure with its interval, and rows that could not be compared."""

from __future__ import annotations

import random

from tests.compare.samples import load_frame, lognormal_ar1
from verification_pipeline.cli.stack import _print_comparison
from verification_pipeline.compare.document import Samples, comparison_document, no_baseline_document
from verification_pipeline.execution.runner import VerificationRun
from verification_pipeline.records import BaselineComparisonRecord, RunSummary
from verification_pipeline.slo.spec import default_slo_spec


def _run(comparison: dict) -> VerificationRun:
    return VerificationRun(
        run_id="run-2",
        success=True,
        materialized=[],
        values=RunSummary(baseline_comparison=BaselineComparisonRecord.model_validate(comparison)),
        step_windows={},
    )


def test_the_table_shows_shift_interval_p_value_effect_and_verdict_and_says_what_was_not_compared(capsys):
    rng = random.Random(2)
    comparison = comparison_document(
        default_slo_spec(),
        rc="v24.1.0-rc2",
        current=Samples(read=load_frame([v + 40 for v in lognormal_ar1(rng, 2000, 0.3)], "read")),
        baseline=Samples(read=load_frame(lognormal_ar1(rng, 2000, 0.3), "read")),
        baseline_info={"rc": "v24.1.0-rc1", "bundle_uri": "s3://b/rc1/", "commit": "", "verified": True},
    )
    _print_comparison(_run(comparison))
    out = capsys.readouterr().out
    read = next(r for r in comparison["slos"] if r["slo"] == "read_latency_p95")
    line = next(line for line in out.splitlines() if line.startswith("read_latency_p95"))
    assert "slower" in line and f"{read['shift_ms']['estimate']:+.3f} ms" in line and line.endswith("WARN")
    assert f"[{read['shift_ms']['lower']:.3f}, {read['shift_ms']['upper']:.3f}]" in line
    assert "v24.1.0-rc2 against v24.1.0-rc1 (sequential design): COMPARED, verdict WARN" in out
    fanout = next(line for line in out.splitlines() if line.startswith("fanout_latency_p95"))
    assert "n/a" in fanout and fanout.endswith("WARN")


def test_no_baseline_is_printed_as_such(capsys):
    _print_comparison(_run(no_baseline_document("v24.1.0-rc1", 0.95, "no earlier RC verifies")))
    assert (
        "v24.1.0-rc1 against no baseline: NO_BASELINE, verdict WARN (no earlier RC verifies)"
        in capsys.readouterr().out
    )
