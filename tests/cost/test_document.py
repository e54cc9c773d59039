"""cost/resources.json from raw rows: counter increases (restarts, late series), the comparison
with the baseline and the gate, recomputed the same from the rows and the recorded inputs."""

from __future__ import annotations

import json

import polars as pl
import pytest

from verification_pipeline.cost.document import (
    baseline_block,
    concurrent_baseline_block,
    cost_document,
    increase,
    policy_of,
    recompute_cost_document,
)
from verification_pipeline.cost.schema import ROWS_SCHEMA
from verification_pipeline.cost.spec import CostPolicy

POLICY = policy_of(CostPolicy())


def _rows(
    cpu: list[float], requests: list[float | None], source: str = "scrape", phase: str = "slo_load"
) -> pl.DataFrame:
    rows = []
    for i, (c, r) in enumerate(zip(cpu, requests, strict=True)):
        rows.append(
            {"phase": phase, "source": source, "quantity": "cpu_seconds", "ts": 100.0 + i, "value": c}
        )
        rows.append(
            {
                "phase": phase,
                "source": source,
                "quantity": "resident_memory_bytes",
                "ts": 100.0 + i,
                "value": 1e6 * (i + 1),
            }
        )
        if r is not None:
            rows.append(
                {"phase": phase, "source": source, "quantity": "requests", "ts": 100.0 + i, "value": r}
            )
    frame = pl.DataFrame(rows, schema={k: v for k, v in ROWS_SCHEMA.items() if k != "seq"})
    return frame.with_columns(pl.int_range(pl.len()).cast(pl.Int64).alias("seq")).select(list(ROWS_SCHEMA))


def test_a_counter_that_drops_restarted_and_counts_from_zero():
    assert increase([10.0, 12.0, 1.0, 3.0]) == pytest.approx(2.0 + 1.0 + 2.0)


def test_a_labelled_counter_that_appears_late_counted_from_zero():
    # no requests series at the first read (the service had answered none yet): 0, not left out
    doc = cost_document(_rows([1.0, 1.5, 2.0], [None, 400.0, 1000.0]), policy=POLICY, notes={}, baseline=None)
    figures = doc["phases"]["slo_load"]["sources"]["scrape"]
    assert figures["requests"] == 1000.0 and figures["cpu_seconds"] == pytest.approx(1.0)
    assert figures["cpu_seconds_per_1000_requests"] == pytest.approx(1.0)
    assert figures["peak_resident_memory_bytes"] == 3e6
    assert doc["verdict"] == "PASS" and "not compared: no baseline RC" in doc["reason"]


@pytest.mark.parametrize(
    ("cpu_end", "on_increase", "verdict"),
    [(2.2, "warn", "PASS"), (2.4, "warn", "WARN"), (2.4, "fail", "FAIL")],
)
def test_cpu_per_request_against_the_baseline(cpu_end, on_increase, verdict):
    base = cost_document(_rows([1.0, 2.0], [0.0, 1000.0]), policy=POLICY, notes={}, baseline=None)
    baseline = baseline_block("v1.0.0-rc1", "s3://bucket/rc1", base)
    # 30 % allowed: 1.2 CPU s per 1,000 requests is +20 %, 1.4 is +40 %
    doc = cost_document(
        _rows([1.0, cpu_end], [0.0, 1000.0]),
        policy={**POLICY, "on_increase": on_increase},
        notes={},
        baseline=baseline,
    )
    assert doc["verdict"] == verdict, doc["reason"]
    if verdict != "PASS":
        assert "CPU per request rose 40 % in slo_load" in doc["reason"] and "v1.0.0-rc1" in doc["reason"]
    # the figures are a function of the rows and the recorded inputs: audit gets the same document
    recorded = json.loads(json.dumps(doc))
    assert (
        json.loads(json.dumps(recompute_cost_document(_rows([1.0, cpu_end], [0.0, 1000.0]), recorded)))
        == recorded
    )


def test_nothing_read_is_not_measured_and_a_baseline_without_cost_evidence_is_said():
    empty = _rows([], [])
    doc = cost_document(
        empty, policy=POLICY, notes={"slo_load": {"scrape": "GET x answered HTTP 404"}}, baseline=None
    )
    assert (
        doc["verdict"] == "WARN" and doc["reason"].startswith("NOT MEASURED") and "HTTP 404" in doc["reason"]
    )
    old = baseline_block("v1.0.0-rc1", "s3://bucket/rc1", None)
    measured = cost_document(_rows([1.0, 2.0], [0.0, 100.0]), policy=POLICY, notes={}, baseline=old)
    assert measured["verdict"] == "PASS" and "baseline v1.0.0-rc1 has no cost evidence" in measured["reason"]


def test_promql_is_preferred_and_compared_with_the_same_source_as_the_baseline():
    both = pl.concat([_rows([0.0, 1.0], [0.0, 1000.0], "scrape"), _rows([0.0, 3.0], [0.0, 1000.0], "promql")])
    doc = cost_document(both, policy=POLICY, notes={}, baseline=None)
    assert (
        doc["phases"]["slo_load"]["preferred_source"] == "promql"
        and doc["cpu_seconds_per_1000_requests"] == 3.0
    )
    scrape_only = baseline_block(
        "v1.0.0-rc1",
        "s3://b",
        cost_document(_rows([0.0, 1.0], [0.0, 1000.0]), policy=POLICY, notes={}, baseline=None),
    )
    compared = cost_document(both, policy=POLICY, notes={}, baseline=scrape_only)
    assert compared["comparisons"][0]["source"] == "scrape" and compared["verdict"] == "PASS"


def test_the_release_documents_and_the_report_show_cost_against_the_baseline():
    from tests.artifacts.test_docs import DATE, EVIDENCE, RC, _fanout, _requests
    from verification_pipeline.artifacts.docs import render_release_docs
    from verification_pipeline.report.cost import cost_section
    from verification_pipeline.slo.metrics import compute_slo_metrics
    from verification_pipeline.slo.spec import default_slo_spec

    frame = compute_slo_metrics(
        default_slo_spec(),
        read=_requests(2000, 40, 300),
        write=_requests(2000, 80, 600, seed=2),
        fanout=_fanout(300, 200),
    )
    base = cost_document(_rows([1.0, 2.0], [0.0, 1000.0]), policy=POLICY, notes={}, baseline=None)
    cost = cost_document(
        _rows([1.0, 3.0], [0.0, 1000.0]),
        policy=POLICY,
        notes={"slo_load": {"promql": "VP_PROMETHEUS_URL not set"}},
        baseline=baseline_block("v24.1.0-rc1", "s3://b/rc1", base),
    )
    docs = render_release_docs(
        frame, version="v24.1", rc=RC, date=DATE, evidence_uri=EVIDENCE, verdict="PASS", cost=cost
    )
    for text in docs.values():
        section = text.split("Policy and cost controls under load", 1)[1]
        assert "**WARN**, CPU per request rose 100 % in slo_load" in section
        assert "| slo_load | /metrics | 2.000 | 1.000 | +100 % | 1,000 | 1.9 | n/a | n/a |" in section
        assert "- not read: slo_load promql: VP_PROMETHEUS_URL not set" in section
    html = cost_section(cost)
    assert "<svg" in html and 'data-phase="slo_load"' in html and "CPU per request rose 100 %" in html


def test_a_concurrent_baseline_is_computed_from_its_own_rows_and_recomputed_the_same():
    # this RC: 1.4 CPU s per 1,000 requests; the baseline read beside it: 1.0 (rows tagged @baseline)
    rows = pl.concat([_rows([1.0, 2.4], [0.0, 1000.0]), _rows([5.0, 5.5], [0.0, 500.0], "scrape@baseline")])
    rows = rows.with_columns(pl.int_range(pl.len()).cast(pl.Int64).alias("seq"))
    doc = cost_document(rows, policy=POLICY, notes={}, baseline=concurrent_baseline_block("v1.0.0-rc1"))
    # the baseline's rows are not this RC's: its figures are its own
    assert set(doc["phases"]["slo_load"]["sources"]) == {"scrape"}
    assert doc["phases"]["slo_load"]["sources"]["scrape"]["requests"] == 1000.0
    assert doc["baseline_phases"]["slo_load"]["sources"]["scrape"]["requests"] == 500.0
    assert doc["baseline"]["design"] == "concurrent" and doc["baseline"]["phases"]["slo_load"][
        "cpu_seconds_per_1000_requests"
    ] == pytest.approx(1.0)
    assert doc["verdict"] == "WARN" and "rose 40 %" in doc["reason"] and "concurrent design" in doc["reason"]
    # the report draws the baseline's figure of this run and lists its rows; the release documents say where it is from
    from verification_pipeline.artifacts.cost_lines import cost_summary
    from verification_pipeline.report.cost import cost_section

    html = cost_section(doc)
    assert 'data-side="baseline"' in html and "v1.0.0-rc1, measured beside it (same run)" in html
    summary = cost_summary(doc)
    assert summary is not None and summary["rows"][0]["baseline"] == "1.000"
    assert "read beside this RC in the same run (concurrent design)" in summary["baseline"]
    recorded = json.loads(json.dumps(doc))
    assert json.loads(json.dumps(recompute_cost_document(rows, recorded))) == recorded
    # audit recomputes from the rows: a tampered baseline figure in the document is not carried over
    recorded["baseline"]["phases"]["slo_load"]["cpu_seconds_per_1000_requests"] = 1.4
    assert recompute_cost_document(rows, recorded)["verdict"] == "WARN"
