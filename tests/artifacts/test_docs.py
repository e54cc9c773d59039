"""PR body and release notes: every measured figure is in them, and a bad verdict comes first."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from verification_pipeline.artifacts.docs import load_narrative, release_doc_names, render_release_docs
from verification_pipeline.artifacts.model import from_spec
from verification_pipeline.errors import ConfigError, InputError
from verification_pipeline.slo.metrics import compute_slo_metrics
from verification_pipeline.slo.spec import default_slo_spec

RC = "v24.1.0-rc1"
EVIDENCE = "s3://vp-evidence/verification/v24.1.0-rc1/"
DATE = dt.date(2025, 6, 3)


def _requests(n: int, low_ms: float, high_ms: float, failed_every: int = 0, seed: int = 1) -> pl.DataFrame:
    rng = random.Random(seed)
    ok = [not (failed_every and i % failed_every == 0) for i in range(n)]
    return pl.DataFrame(
        {
            "latency_ms": [rng.uniform(low_ms, high_ms) for _ in range(n)],
            "ok": ok,
            "failure": [None if good else "http" for good in ok],
            "ingest_ms": [rng.uniform(1.0, 40.0) for _ in range(n)],
        }
    )


def _fanout(n: int, high_ms: float) -> pl.DataFrame:
    rng = random.Random(3)
    return pl.DataFrame({"latency_ms": [rng.uniform(5.0, high_ms) for _ in range(n)]})


@pytest.fixture
def labels() -> dict[str, str]:
    return {slo.name: slo.title for slo in from_spec(default_slo_spec())}


@pytest.fixture
def passing() -> pl.DataFrame:
    return compute_slo_metrics(
        default_slo_spec(),
        read=_requests(4000, 40, 300),
        write=_requests(4000, 80, 600, seed=2),
        fanout=_fanout(600, 200),
    )


@pytest.fixture
def failing() -> pl.DataFrame:
    # Writes far too slow, and one request in 40 failing: write p95 and the error rate fail.
    return compute_slo_metrics(
        default_slo_spec(),
        read=_requests(4000, 40, 300, failed_every=40),
        write=_requests(4000, 300, 1200, seed=2),
        fanout=_fanout(600, 200),
    )


def _render(frame: pl.DataFrame, verdict: str, labels: dict[str, str], **extra) -> dict[str, str]:
    return render_release_docs(
        frame,
        version="v24.1",
        rc=RC,
        date=DATE,
        evidence_uri=EVIDENCE,
        verdict=verdict,
        labels=labels,
        **extra,
    )


def _figures(frame: pl.DataFrame) -> list[str]:
    """Every figure the documents must carry, formatted as a reader sees it."""
    out = []
    for row in frame.iter_rows(named=True):
        unit = "%" if row["unit"] == "percent" else "ms"
        digits = 3 if unit == "%" else 1
        out.append(f"{row['value']:.{digits}f} {unit}")
        out.append(f"{row['ci_low']:.{digits}f} – {row['ci_high']:.{digits}f} {unit}")
        out.append(f"≤ {row['threshold']:g} {unit}")
        out.append(f"{row['n']:,}")
    return out


def test_passing_run_carries_every_figure(passing, labels):
    assert set(passing["verdict"]) == {"PASS"}
    docs = _render(passing, "PASS", labels)
    assert list(docs) == list(release_doc_names("v24.1")) == ["PR_BODY_v24.1.md", "RELEASE_NOTES_v24.1.md"]
    for name, text in docs.items():
        assert text.startswith(f"**Verdict: PASSED.** {RC} meets all 5 SLOs, measured 2025-06-03."), name
        for figure in _figures(passing):
            assert figure in text, f"{figure!r} missing from {name}"
        for title in ("Read p95", "Write p95", "Error rate", "Sub fan-out p95", "Ingest p95"):
            assert f"| {title} |" in text
        assert EVIDENCE in text and RC in text and "2025-06-03" in text
        assert "FAIL" not in text and "INCONCLUSIVE" not in text
    notes = docs["RELEASE_NOTES_v24.1.md"]
    read = passing.row(0, named=True)
    # The seed's "SLO Validation" line, its blanks filled in.
    assert f"- Read p95: {read['value']:.1f} ms (PASS) · Write p95: " in notes
    assert "**Date:** 2025-06-03" in notes and "**Release:** v24.1 — Hardening & Operations" in notes
    pr = docs["PR_BODY_v24.1.md"]
    assert "**Title:** v24.1 — Hardening & Ops (E1–E7)" in pr
    assert (
        "- Read p95 ≤ 350 ms; Write p95 ≤ 700 ms; Error rate ≤ 0.1 %; Sub fan-out p95 ≤ 250 ms; Ingest p95 ≤ 100 ms."
        in pr
    )
    for heading in ("### What", "### Why", "### SLOs", "### Evidence", "### Rollback"):
        assert heading in pr
    assert (
        f"`verification-pipeline verify {EVIDENCE}<run-id>/evidence/v24.1/ --public-key <public-key.pem>`"
        in pr
    )


def test_failing_run_says_failed_first_and_names_what_failed(failing, labels):
    verdicts = dict(failing.select("name", "verdict").iter_rows())
    assert verdicts["write_latency_p95"] == "FAIL" and verdicts["error_rate"] == "FAIL"
    docs = _render(failing, "FAIL", labels)
    write = failing.filter(pl.col("name") == "write_latency_p95").row(0, named=True)
    errors = failing.filter(pl.col("name") == "error_rate").row(0, named=True)
    for name, text in docs.items():
        first = text.splitlines()[0]
        assert first == f"> **FAILED: {RC} missed 2 of 5 SLOs. Do not release it.**", name
        banner = text.split("\n\n", 1)[0]
        assert f"Write p95 {write['value']:.1f} ms, target ≤ 700 ms: FAIL ({write['reason']})" in banner
        assert f"Error rate {errors['value']:.3f} %, target ≤ 0.1 %: FAIL" in banner
        assert "Read p95" not in banner
        for figure in _figures(failing):
            assert figure in text, f"{figure!r} missing from {name}"
        assert "PASSED" not in text


def test_inconclusive_and_other_gates_are_plain_at_the_top(labels):
    small = compute_slo_metrics(default_slo_spec(), read=_requests(50, 40, 300), write=_requests(50, 80, 600))
    assert "FAIL" not in set(small["verdict"])
    docs = _render(small, "INCONCLUSIVE", labels)
    text = docs["PR_BODY_v24.1.md"]
    assert text.startswith(
        f"> **INCONCLUSIVE: the evidence cannot show that {RC} meets its SLOs (5 of 5 inconclusive)."
    )
    assert "no fan-out delivery latencies were measured" in text.split("\n\n", 1)[0]
    assert "| Sub fan-out p95 | ≤ 250 ms | no data | — | 0 | — | **INCONCLUSIVE** |" in text

    passing_slos = compute_slo_metrics(
        default_slo_spec(),
        read=_requests(4000, 40, 300),
        write=_requests(4000, 80, 600),
        fanout=_fanout(600, 200),
    )
    gate = "vulnerability policy: 1 Critical (CVE-2024-0001 in openssl 3.0.1) has no exception"
    text = _render(passing_slos, "FAIL", labels, findings=[gate])["RELEASE_NOTES_v24.1.md"]
    assert text.startswith(
        f"> **FAILED: {RC} met its SLOs but failed another release gate. Do not release it.**"
    )
    assert f"> - {gate}" in text.split("\n\n", 1)[0]


def test_contradictory_or_malformed_input_is_refused(passing, failing, labels):
    with pytest.raises(InputError, match="PASS contradicts SLO write_latency_p95"):
        _render(failing, "PASS", labels)
    with pytest.raises(InputError, match="INCONCLUSIVE hides"):
        _render(failing, "INCONCLUSIVE", labels)
    with pytest.raises(InputError, match="not one of"):
        _render(passing, "GREEN", labels)
    with pytest.raises(InputError, match="'WARN' is not one of"):  # an RC passes or not; a gate warns
        _render(passing, "WARN", labels)
    with pytest.raises(InputError, match=r"lacks column\(s\) reason"):
        _render(passing.drop("reason"), "PASS", labels)
    with pytest.raises(InputError, match="no rows"):
        _render(passing.clear(), "PASS", labels)
    with pytest.raises(ConfigError, match=r"\[highlights\]"):
        load_narrative(
            b"title: t\nrelease_title: r\nwhat: []\nwhy: []\nrollback: []\nops_notes: []\n", source="n.yaml"
        )
    # Each field checked where it stands: the file, the line and the field, in words.
    whole = b"title: t\nrelease_title: r\nwhat: []\nwhy: []\nhighlights: []\nrollback: []\nops_notes: []\n"
    for changed, message in (
        (whole.replace(b"title: t", b"title: '  '"), "n.yaml:1 [title]: must not be empty"),
        (whole.replace(b"what: []", b"what: [1, x]"), "n.yaml:3 [what[0]]: expected text, got 1"),
        (
            whole.replace(b"why: []", b"why: text"),
            "n.yaml:4 [why]: expected a list (- item lines), got 'text'",
        ),
    ):
        with pytest.raises(ConfigError) as raised:
            load_narrative(changed, source="n.yaml")
        assert str(raised.value).startswith(message), raised.value
    assert load_narrative(whole.replace(b"title: t", b"title: ' t '"), source="n.yaml").title == "t"


def test_table_cells_cannot_be_broken_by_a_label(passing):
    text = _render(passing, "PASS", {"read_latency_p95": "Read | p95"})["PR_BODY_v24.1.md"]
    assert "| Read \\| p95 |" in text


def test_a_90_percent_spec_is_labelled_90_percent_with_the_dependence_beside_each_figure(labels):
    spec = default_slo_spec().model_copy(update={"confidence": 0.9})
    frame = compute_slo_metrics(
        spec, read=_requests(4000, 40, 300), write=_requests(4000, 80, 600, seed=2), fanout=_fanout(600, 200)
    )
    for text in _render(frame, "PASS", labels).values():
        assert "| 90 % bounds |" in text and "95 %" not in text
        assert "one-sided 90 % upper bound is at or below the target" in text
        read = frame.row(0, named=True)
        assert (
            f"lag-1 ρ {read['lag1_autocorrelation']:.2f}, n_eff 4,000 (order statistics on effective n)"
            in text
        )


def test_both_documents_carry_the_baseline_comparison_or_say_there_was_none(passing, labels):
    from tests.compare.samples import load_frame, lognormal_ar1
    from verification_pipeline.compare.document import Samples, comparison_document, no_baseline_document

    rng = random.Random(4)
    comparison = comparison_document(
        default_slo_spec(),
        rc=RC,
        current=Samples(read=load_frame(lognormal_ar1(rng, 20_000, 0.3, scale=1.2), "read")),
        baseline=Samples(read=load_frame(lognormal_ar1(rng, 20_000, 0.3), "read")),
        baseline_info={
            "rc": "v24.1.0-rc0",
            "bundle_uri": "s3://b/rc0/",
            "commit": "abc123",
            "verified": True,
        },
    )
    read = next(r for r in comparison["slos"] if r["slo"] == "read_latency_p95")
    docs = _render(passing, "PASS", labels, baseline=comparison)
    for name, text in docs.items():
        assert "### Compared with the previous RC" in text, name
        assert (
            "Against v24.1.0-rc0 (commit abc123, its signed bundle verified), at 95 % confidence: **WARN**"
            in text
        )
        shift = read["shift_ms"]
        assert (
            f"| Read p95 | slower | {shift['estimate']:+.1f} ({shift['lower']:+.1f} – {shift['upper']:+.1f}) ms | "
            f"×{read['p95_ratio']['estimate']:.3f} (" in text
        )
        assert f"| {read['p_value']:.2g} | {read['effect_size']:+.2f} | **WARN** |" in text
    # the concurrent design (issue 24) is said instead of a bundle that was never read
    concurrent = _render(passing, "PASS", labels, baseline={**comparison, "design": "concurrent"})
    for text in concurrent.values():
        assert "Against v24.1.0-rc0 (measured beside this RC in the same run, concurrent design)" in text
        assert "signed bundle verified" not in text
    none = _render(passing, "PASS", labels, baseline=no_baseline_document(RC, 0.95, "no earlier RC verifies"))
    assert all("**No baseline (WARN):** no earlier RC verifies." in text for text in none.values())


def test_a_warning_that_does_not_block_is_said_under_the_passed_verdict(passing, labels):
    warning = "baseline:no_regression: WARN: against v24.1.0-rc0, to look at: read_latency_p95 WARN"
    docs = _render(passing, "PASS", labels, findings=[warning])
    for name, text in docs.items():
        banner = text.split("\n###", 1)[0].split("\n**", 1)[0]
        assert text.startswith(f"**Verdict: PASSED.** {RC} meets all 5 SLOs, measured 2025-06-03."), name
        assert f"Warnings, not blocking; read them before release:\n- {warning}" in banner, name
    assert "Warnings" not in _render(passing, "PASS", labels)["PR_BODY_v24.1.md"]


def test_an_undecided_comparison_alone_makes_the_documents_inconclusive_without_blaming_an_slo(
    passing, labels
):
    undecided = {
        "status": "COMPARED",
        "verdict": "INCONCLUSIVE",
        "reason": "against v24.1.0-rc0, to look at: read_latency_p95 INCONCLUSIVE",
        "confidence": 0.95,
        "baseline": {"rc": "v24.1.0-rc0", "commit": "abc"},
        "slos": [],
    }
    docs = _render(
        passing, "INCONCLUSIVE", labels, baseline=undecided, findings=["baseline comparison: INCONCLUSIVE"]
    )
    for text in docs.values():
        assert text.startswith(
            "> **INCONCLUSIVE: v24.1.0-rc1 met its SLOs but the evidence cannot decide another release gate."
        )
        assert "> - baseline comparison: INCONCLUSIVE" in text


def test_a_pass_on_too_few_bursts_says_what_it_cannot_exclude_in_both_documents(passing, labels):
    """No failure in 8,000 requests passes <= 0.1 %, but cannot exclude rare bursts: the reason
    says how often and how large, and the documents show it under the PASS (whose reason
    they do not print) for the error rate alone."""
    errors = passing.filter(pl.col("name") == "error_rate").row(0, named=True)
    assert errors["failures"] == 0 and errors["verdict"] == "PASS"
    frequency = 1 - 0.05 ** (1 / errors["n"])
    limit = (
        f"Error rate: no burst of two failures or more was seen (the 95% level is stated for runs with at least 4), "
        f"so this run cannot exclude bursts starting once every {1 / frequency:,.0f} requests"
    )
    for text in _render(passing, "PASS", labels).values():
        head = text.split("| SLO |")[0]
        assert "What these passes cannot exclude:" in head and limit in head
        assert head.count("cannot exclude bursts") == 1
