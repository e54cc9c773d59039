"""The report's content without a browser: the baseline panel, diagnostics, budget order and
rounding, the UI's markdown charts, and the same bytes for the same evidence."""

from __future__ import annotations

import dataclasses
import re

import polars as pl
import pytest

from verification_pipeline.fanout.accounting import DELIVERY_SCHEMA
from verification_pipeline.loadtest.ingest import SAMPLE_SCHEMA
from verification_pipeline.report.budget import budget_rows, figure, headline, tightest
from verification_pipeline.report.html import diagnostics, render_report
from verification_pipeline.report.markdown import (
    budget_table_markdown,
    comparison_chart_markdown,
    decision_markdown,
    verify_command,
)
from verification_pipeline.slo.metrics import DEPENDENCE_COLUMNS


@pytest.fixture
def text_only(inputs):
    """The same RC without raw rows and without a baseline: no chart to draw, so it renders fast."""
    return dataclasses.replace(
        inputs,
        read=pl.DataFrame(schema=SAMPLE_SCHEMA),
        write=pl.DataFrame(schema=SAMPLE_SCHEMA),
        fanout=pl.DataFrame(schema=DELIVERY_SCHEMA),
        baseline=None,
    )


def test_an_rc_without_raw_rows_says_so_in_each_section(text_only):
    page = render_report(text_only).decode()
    assert (
        "No raw load samples in this bundle." in page and "No raw fan-out deliveries in this bundle" in page
    )
    assert "(no raw samples to draw)" in page and "<svg" not in page


def test_a_missing_baseline_is_a_clear_no_baseline_panel_never_a_pass(text_only):
    page = render_report(text_only).decode()
    assert 'id="no-baseline"' in page and "No baseline." in page
    assert 'data-chart="baseline-' not in page


def test_a_baseline_that_could_not_be_compared_shows_its_reason(text_only):
    doc = {
        "schema": "verification_pipeline/baseline/v1",
        "status": "NO_BASELINE",
        "reason": "no earlier RC of v24.1 verifies",
        "slos": [],
    }
    page = render_report(dataclasses.replace(text_only, baseline=doc)).decode()
    assert "no earlier RC of v24.1 verifies" in page and 'id="no-baseline"' in page


def test_the_baseline_section_shows_shift_interval_p_value_and_effect_size(report_html):
    page = report_html.decode()
    row = re.search(
        r'<table id="baseline">.*?<tr data-slo="read_latency_p95">(.*?)</tr>', page, re.DOTALL
    ).group(1)
    assert "slower" in row and "+40.2 ms [38.9, 41.6]" in row and "1e-12" in row and "0.93" in row


def test_the_baseline_section_says_which_design_produced_the_figures(text_only):
    """Issue 24: a concurrent comparison names the deployment measured beside the RC; a document
    without the field (made before it) reads as the sequential design with its bundle."""
    doc = {
        "schema": "verification_pipeline/baseline/v1",
        "status": "COMPARED",
        "verdict": "PASS",
        "confidence": 0.95,
        "baseline": {"rc": "v24.1.0-rc1", "bundle_uri": "s3://b/rc1/", "verified": True},
        "slos": [],
    }
    sequential = render_report(dataclasses.replace(text_only, baseline=doc)).decode()
    span = re.search(r'<span id="baseline-design">(.*?)</span>', sequential).group(1)
    assert span.startswith("sequential design") and "s3://b/rc1/" in span
    concurrent = {
        **doc,
        "design": "concurrent",
        "baseline": {"rc": "v24.1.0-rc1", "graphql_url": "http://127.0.0.1:18339/graphql", "verified": False},
    }
    page = render_report(dataclasses.replace(text_only, baseline=concurrent)).decode()
    span = re.search(r'<span id="baseline-design">(.*?)</span>', page).group(1)
    assert "concurrent design" in span and "127.0.0.1:18339" in span and "bundle" not in span


def _without_diagnostics(metrics: dict) -> dict:
    return {
        **metrics,
        "slos": [{k: v for k, v in row.items() if k not in DEPENDENCE_COLUMNS} for row in metrics["slos"]],
    }


def test_dependence_diagnostics_are_shown_beside_each_slo(report_html, sample):
    table = re.search(r'<table id="diagnostics">(.*?)</table>', report_html.decode(), re.DOTALL).group(1)
    assert all(column in table for column in ("lag1_autocorrelation", "effective_n", "interval_method"))
    read = next(row for row in sample["metrics"]["slos"] if row["name"] == "read_latency_p95")
    assert read["interval_method"] in table


def test_dependence_diagnostics_are_shown_for_whatever_keys_the_metrics_carry(text_only):
    metrics = _without_diagnostics(text_only.metrics)
    metrics["slos"] = [
        {**row, "lag1_autocorrelation": 0.231, "effective_n": 1812, "block_length": 7}
        if row["name"] == "read_latency_p95"
        else row
        for row in metrics["slos"]
    ]
    page = render_report(dataclasses.replace(text_only, metrics=metrics)).decode()
    table = re.search(r'<table id="diagnostics">(.*?)</table>', page, re.DOTALL).group(1)
    assert "lag1_autocorrelation" in table and "effective_n" in table and "block_length" in table
    assert "0.231" in table and "1812" in table and ">7<" in table


def test_no_diagnostics_section_when_the_metrics_carry_none(text_only):
    page = render_report(dataclasses.replace(text_only, metrics=_without_diagnostics(text_only.metrics)))
    assert b'id="diagnostics"' not in page


def test_diagnostics_read_a_nested_mapping_and_leave_the_figures_out():
    row = {
        "name": "x",
        "value": 1.0,
        "verdict": "PASS",
        "diagnostics": {"dispersion": 1.7},
        "effective_n": None,
    }
    assert diagnostics(row) == {"dispersion": 1.7}


def test_the_same_evidence_renders_the_same_bytes(inputs, report_html):
    assert render_report(inputs) == report_html


def test_text_in_the_evidence_is_escaped_not_markup(text_only):
    scans = {
        "verdict": "PASS",
        "gates": [{"name": "g", "verdict": "PASS", "reason": "<script>alert(1)</script>"}],
    }
    page = render_report(dataclasses.replace(text_only, scan_summary=scans)).decode()
    assert "<script" not in page and "&lt;script&gt;" in page


def test_budget_rows_are_sorted_tightest_first_with_unmeasured_last():
    metrics = {
        "slos": [
            {"name": "a", "verdict": "PASS", "value": 100.0, "threshold": 350, "unit": "ms"},
            {"name": "b", "verdict": "INCONCLUSIVE", "value": None, "threshold": 250, "unit": "ms"},
            {"name": "c", "verdict": "PASS", "value": 0.05, "threshold": 0.1, "unit": "percent"},
        ]
    }
    assert [r.name for r in budget_rows(metrics)] == ["c", "a", "b"]
    assert tightest(metrics).name == "c"
    assert headline("PASS", metrics) == "PASS: tightest: c 0.050 % of 0.100 % (50 % of budget)"
    assert headline("INCONCLUSIVE", {"slos": []}) == "INCONCLUSIVE: no SLO was measured"


def test_figures_are_rounded_for_display():
    assert figure(17.93734130859374, "ms") == "17.9 ms"
    assert figure(0.123456, "percent") == "0.123 %"
    assert figure(None, "ms") == "n/a"


def test_the_budget_table_markdown_has_the_share_of_budget_and_no_long_decimals(sample):
    table = budget_table_markdown(sample["metrics"])
    assert "share of budget used" in table.splitlines()[0]
    assert not re.search(r"\d\.\d{5,}", table)


def test_the_comparison_markdown_embeds_its_charts_or_says_there_is_no_baseline(sample):
    shown = comparison_chart_markdown(sample["baseline"])
    assert shown.startswith("**Against v24.1.0-rc1: WARN**")
    assert shown.count("](data:image/png;base64,") == 3  # the shifts and two overlaid CDFs
    assert comparison_chart_markdown(None).startswith("**No baseline**")
    assert "no earlier RC" in comparison_chart_markdown({"status": "NO_BASELINE", "reason": "no earlier RC"})


def test_the_decision_warns_about_a_dev_key_and_gives_the_verify_command(sample):
    shown = decision_markdown(
        rc="v24.1.0-rc1",
        verdict="PASS",
        why="every gate passed",
        metrics=sample["metrics"],
        bundle_uri="s3://evidence/p/v24.1.0-rc1/run/evidence/v24.1/",
        public_key="/keys/evidence-signing.pub",
        key_fingerprint="ab12",
        dev_key=True,
    )
    assert "**DEV KEY**" in shown
    assert (
        "uv run verification-pipeline verify s3://evidence/p/v24.1.0-rc1/run/evidence/v24.1/ "
        "--public-key /keys/evidence-signing.pub --rc v24.1.0-rc1"
    ) in shown


def test_the_verify_command_quotes_what_a_shell_would_split():
    assert verify_command("s3://b/p q/", "my key.pub", "v1") == (
        "uv run verification-pipeline verify 's3://b/p q/' --public-key 'my key.pub' --rc v1"
    )


def test_a_one_sided_interval_is_drawn_and_shown_open_ended_not_as_zero(inputs):
    # fewer than ~59 values have no upper 95 % bound for a p95 (slo/stats.py quantile_ci)
    metrics = dict(inputs.metrics)
    metrics["slos"] = [
        {**row, "ci_high": None, "verdict": "INCONCLUSIVE"} if row["name"] == "ingest_latency_p95" else row
        for row in metrics["slos"]
    ]
    page = render_report(
        dataclasses.replace(inputs, metrics=metrics, read=inputs.read.head(0), fanout=inputs.fanout.head(0))
    ).decode()
    row = next(r for r in metrics["slos"] if r["name"] == "ingest_latency_p95")
    assert f"interval [{row['ci_low']:.1f}, +inf] ms" in page
    assert '<figure data-chart="cdf-ingest_latency_p95"><svg' in page


def test_what_a_verdict_cannot_exclude_is_listed_under_the_slo_table(text_only):
    """A rate SLO that passed on too few bursts carries in its reason what it could have missed;
    the page lists it under the SLO table (whose rows show no reason), and nothing without one."""
    from verification_pipeline.slo.metrics import CANNOT_EXCLUDE

    # Every latency verdict now says which slow episodes it could have missed (issue 26, round
    # two): here only the first row keeps a limit, so the list holds exactly it.
    slos = [dict(slo, reason="the upper bound is below the threshold") for slo in text_only.metrics["slos"]]
    slos[0]["reason"] = (
        f"the upper bound is below the threshold{CANNOT_EXCLUDE}bursts once every 1,002 requests"
    )
    page = render_report(dataclasses.replace(text_only, metrics={**text_only.metrics, "slos": slos})).decode()
    assert (
        f'<ul id="limits"><li data-limit="{slos[0]["name"]}">{slos[0]["name"]}: '
        "bursts once every 1,002 requests</li></ul>" in page
    )
    assert any(CANNOT_EXCLUDE in str(slo["reason"]) for slo in text_only.metrics["slos"][1:])
    for slo in slos:
        slo["reason"] = "the upper bound is below the threshold"
    page = render_report(dataclasses.replace(text_only, metrics={**text_only.metrics, "slos": slos})).decode()
    assert 'id="limits"' not in page


def _authz(admitted: int) -> dict:
    """policy/authz_under_load.json from raw rows: 40 cross-tenant reads, `admitted` of them let through."""
    from verification_pipeline.authz.document import authz_document
    from verification_pipeline.authz.schema import ROWS_SCHEMA

    rows = pl.DataFrame(
        [
            {
                "seq": i,
                "ts": 1_700_000_000.0 + i,
                "kind": "cross_tenant_read",
                "status": 200 if i < admitted else 403,
                "outcome": "admitted" if i < admitted else "refused",
                "latency_ms": 3.0,
            }
            for i in range(40)
        ],
        schema=ROWS_SCHEMA,
    )
    return authz_document(
        rows,
        tried=["cross_tenant_read"],
        not_tried={"expired": "VP_TARGET_JWT_EXPIRED not given"},
        confidence=0.95,
    )


def test_the_authorization_section_draws_attempts_by_answer_per_kind_and_names_what_was_not_tried(text_only):
    page = render_report(dataclasses.replace(text_only, authz=_authz(admitted=0))).decode()
    section = page[page.index("<h2>Authorization under load</h2>") :]
    assert '<p id="authz-verdict"><b>PASS</b>' in section and "Leak rate below" in section
    row = section[section.index('<tr data-kind="cross_tenant_read">') :].split("</tr>")[0]
    assert [cell.split(">")[-1] for cell in row.split("</td>")[1:6]] == ["40", "40", "0", "0", "0"]
    assert "not tried: VP_TARGET_JWT_EXPIRED not given" in section
    assert "<svg" in section.split("<table")[0]  # the chart, drawn from the same counts


def test_an_admitted_forbidden_request_fails_the_section_and_shows_in_its_row(text_only):
    page = render_report(dataclasses.replace(text_only, authz=_authz(admitted=3))).decode()
    section = page[page.index("<h2>Authorization under load</h2>") :]
    assert '<p id="authz-verdict"><b>FAIL</b>' in section and "Leak rate below" not in section
    row = section[section.index('<tr data-kind="cross_tenant_read">') :].split("</tr>")[0]
    assert [cell.split(">")[-1] for cell in row.split("</td>")[1:4]] == ["40", "37", "3"]
