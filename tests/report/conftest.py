"""The synthetic RC every report test draws, rendered once per session (rendering takes ~1 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.samples import synthetic
from verification_pipeline.report.html import ReportInputs, render_report
from verification_pipeline.verdict import Verdict

# Screenshots the tests make for people to look at (git-ignored; named in benchmarks/RESULTS.md).
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".cache" / "screenshots"


@pytest.fixture(scope="session")
def sample() -> dict:
    return synthetic()


@pytest.fixture(scope="session")
def inputs(sample) -> ReportInputs:
    return ReportInputs(
        rc="v24.1.0-rc2",
        commit="0123456789abcdef0123456789abcdef01234567",
        verdict=Verdict.FAIL,  # the RC's verdict as its bundle would sign it: the error rate fails its gate
        metrics=sample["metrics"],
        scan_summary=sample["scan_summary"],
        read=sample["read"],
        write=sample["write"],
        fanout=sample["fanout"],
        baseline=sample["baseline"],
    )


@pytest.fixture(scope="session")
def report_html(inputs) -> bytes:
    return render_report(inputs)
