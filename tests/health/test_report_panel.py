"""The report draws the clients' health under the latency charts, from the signed section."""

from __future__ import annotations

from tests.health.test_verdicts import seconds
from tests.report.samples import synthetic
from verification_pipeline.health.assess import HealthLimits, assess, phase_record
from verification_pipeline.report.html import ReportInputs, render_report
from verification_pipeline.verdict import Verdict


def inputs(section: dict | None) -> ReportInputs:
    sample = synthetic()
    metrics = dict(sample["metrics"]) | ({"measurement_health": section} if section else {})
    return ReportInputs(
        rc="v24.1.0-rc2",
        commit="0" * 40,
        verdict=Verdict.FAIL,
        metrics=metrics,
        scan_summary=sample["scan_summary"],
        read=sample["read"],
        write=sample["write"],
        fanout=sample["fanout"],
    )


def test_the_health_panel_follows_the_timeline_and_names_the_saturated_client():
    section = assess(
        [
            phase_record("read", "k6", seconds(10) + seconds(10, cpu=98.0), cores=2),
            phase_record("fanout", "the fan-out probe", seconds(5), cores=2, loop_lag_p99_ms=3.2),
        ],
        HealthLimits(),
    )
    page = render_report(inputs(section)).decode()
    assert 'data-chart="client-health"' in page
    assert page.index("Measurement health") > page.index("Over the test")
    assert "read: load generator saturated: k6 at 98 % CPU for 10 s" in page
    # a bundle without the section (measured before, or imported) has no panel, not an empty one
    assert "Measurement health" not in render_report(inputs(None)).decode()
