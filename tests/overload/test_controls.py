"""slos.yaml's `cost_controls`: validated like the rest of the spec, and the reference target's
default per-tenant limit is the one the packaged file declares."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest

from reference_target.tenant_limits import DEFAULT_TENANT_RPS_LIMIT
from verification_pipeline.errors import ConfigError, FormatError
from verification_pipeline.gates import (
    OVERLOAD_ADMITTED_P95,
    OVERLOAD_RECOVERY,
    OVERLOAD_REFUSALS,
    OVERLOAD_SHED,
)
from verification_pipeline.overload.k6 import read_overload_output
from verification_pipeline.overload.schema import ROWS_SCHEMA
from verification_pipeline.slo.overload import overload_document, phase_inputs, recompute_overload_document
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH, default_slo_spec, load_slo_spec

PACKAGED = DEFAULT_SLOS_PATH.read_text()


def test_the_reference_target_enforces_the_limit_the_packaged_slos_declare():
    controls = default_slo_spec().cost_controls
    assert controls is not None and controls.tenant_rps_limit == DEFAULT_TENANT_RPS_LIMIT
    assert controls.offered_factor == 2 and controls.overload_duration_s == 30


def _line_of(text: str, key: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if line.strip().startswith(f"{key}:"))


@pytest.mark.parametrize(
    ("key", "bad", "field", "words"),
    [
        ("tenant_rps_limit", "0", "cost_controls.tenant_rps_limit", "must be above 0.0, got 0"),
        ("offered_factor", "1", "cost_controls.offered_factor", "must be above 1.0, got 1"),
        ("shed_status", "'429'", "cost_controls.shed_status", "expected a whole number"),
        ("latency_slo", "no_such_slo", "cost_controls.latency_slo", "names no quantile SLO"),
        ("neighbour_rps", "100", "cost_controls", "neighbour_rps must be below tenant_rps_limit"),
    ],
)
def test_a_bad_cost_control_names_the_file_line_and_field(key, bad, field, words):
    lines = PACKAGED.splitlines()
    number = _line_of(PACKAGED, key)
    lines[number - 1] = f"  {key}: {bad}"
    with pytest.raises(ConfigError) as caught:
        load_slo_spec("\n".join(lines), source="my-slos.yaml")
    error = caught.value
    assert error.source == "my-slos.yaml" and error.field == field, str(error)
    assert words in str(error)
    expected_line = number if field.endswith(key) else _line_of(PACKAGED, "cost_controls")
    assert error.line == expected_line, str(error)


def _row(ts: float, scenario: str, status: int, latency: float, retry: float | None = None) -> dict:
    tenant = "b" if scenario == "neighbour" else "a"
    return {
        "ts": ts + latency / 1000,
        "scenario": scenario,
        "tenant": tenant,
        "status": status,
        "latency_ms": latency,
        "retry_after_s": retry,
        "error_code": 0,
        "dropped": False,
    }


def test_recovery_counts_from_the_end_of_the_overload_until_every_later_second_is_good():
    # 10 s of overload at 200/s (limit 100: half refused with 429), then recovery slow for 2 s
    rows = []
    for i in range(2_000):
        t = 1_000.0 + i / 200
        rows.append(_row(t, "overload", 200 if i % 2 else 429, 5.0, None if i % 2 else 1.0))
    for i in range(100 * 10):
        rows.append(_row(1_000.0 + i / 100, "neighbour", 200, 4.0))
    for i in range(50 * 6):
        t = 1_010.0 + i / 50
        rows.append(_row(t, "recovery", 200, 900.0 if t < 1_012.0 else 6.0))
    frame = pl.DataFrame(rows, schema=ROWS_SCHEMA)
    inputs = phase_inputs(default_slo_spec(), overload_s=10, recovery_s=6, tenants={"a": "ta", "b": "tb"})
    document = overload_document(frame, inputs)
    gates = {g["name"]: g for g in document["gates"]}
    assert gates[OVERLOAD_SHED]["verdict"] == "PASS", gates[OVERLOAD_SHED]["reason"]
    assert gates[OVERLOAD_REFUSALS]["verdict"] == "PASS"
    assert document["figures"]["recovery_s"] == 2.0
    assert (
        gates[OVERLOAD_RECOVERY]["verdict"] == "PASS"
        and "2 s after the overload ended" in gates[OVERLOAD_RECOVERY]["reason"]
    )
    assert document["series"][3]["offered"] == 200 and document["series"][3]["refused"] == 100
    # what audit does: the document again from its rows and recorded inputs, identical
    recorded = json.loads(json.dumps(document))
    assert json.loads(json.dumps(recompute_overload_document(frame, recorded))) == recorded
    # a Retry-After missing from a tenth of the refusals fails its gate, saying how many carried one
    missing = frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 20 == 0)
        .then(None)
        .otherwise(pl.col("retry_after_s"))
        .alias("retry_after_s")
    )
    refusals = {g["name"]: g for g in overload_document(missing, inputs)["gates"]}[OVERLOAD_REFUSALS]
    assert (
        refusals["verdict"] == "FAIL"
        and "only 90.00% of 1,000 refusals were 429 with a usable" in refusals["reason"]
    )


def test_k6_points_become_rows_and_a_foreign_line_is_refused():
    point = {
        "metric": "overload_request",
        "type": "Point",
        "data": {
            "time": "2026-12-07T12:00:00.123456789Z",
            "value": 12.5,
            "tags": {
                "scenario": "overload",
                "tenant": "a",
                "status": "429",
                "retry_after": "2",
                "error_code": "0",
            },
        },
    }
    dropped = {
        "metric": "dropped_iterations",
        "type": "Point",
        "data": {"time": "2026-12-07T12:00:01Z", "value": 2, "tags": {"scenario": "neighbour"}},
    }
    data = "\n".join(json.dumps(p, separators=(",", ":")) for p in (point, dropped)).encode()
    rows = read_overload_output(data)
    assert rows.height == 3 and rows["dropped"].to_list() == [False, True, True]
    assert rows.row(0, named=True)["retry_after_s"] == 2.0 and rows.row(1, named=True)["tenant"] == "b"
    point["data"]["tags"]["scenario"] = "elsewhere"
    with pytest.raises(Exception, match="line 1: not a k6 Point of the overload phase"):
        read_overload_output(json.dumps(point, separators=(",", ":")).encode())


def test_the_report_and_the_release_notes_show_the_phase_and_say_when_it_did_not_run():
    import datetime as dt

    from verification_pipeline.artifacts.docs import render_release_docs
    from verification_pipeline.report.overload import overload_section
    from verification_pipeline.slo.overload import not_measured_document
    from verification_pipeline.slo_row import SLO_METRICS_SCHEMA
    from verification_pipeline.textsafe import for_html

    rows = [
        _row(1_000.0 + i / 200, "overload", 200 if i % 2 else 429, 5.0, None if i % 2 else 1.0)
        for i in range(2_000)
    ]
    rows += [_row(1_000.0 + i / 50, "neighbour", 200, 4.0) for i in range(500)]
    rows += [_row(1_010.0 + i / 50, "recovery", 200, 4.0) for i in range(300)]
    inputs = phase_inputs(default_slo_spec(), overload_s=10, recovery_s=6, tenants={"a": "ta", "b": "tb"})
    measured = overload_document(pl.DataFrame(rows, schema=ROWS_SCHEMA), inputs)
    page = overload_section(measured, for_html)
    assert 'data-chart="overload"' in page and "<svg" in page
    assert page.count('<tr data-gate="overload:') == 5 and "against a limit of 100/s" in page
    skipped = overload_section(not_measured_document("slos.yaml declares no cost_controls"), for_html)
    assert "<svg" not in skipped and "NOT MEASURED: slos.yaml declares no cost_controls" in skipped

    slo_rows = pl.DataFrame(
        [
            {
                "name": "read_latency_p95",
                "metric": "quantile",
                "source": "read",
                "n": 10,
                "threshold": 350.0,
                "unit": "ms",
                "confidence": 0.95,
                "verdict": "PASS",
                "reason": "r",
                "value": 5.0,
            }
        ],
        schema=SLO_METRICS_SCHEMA,
    )
    files = render_release_docs(
        slo_rows,
        version="v1.0",
        rc="v1.0.0-rc1",
        date=dt.date(2026, 12, 7),
        evidence_uri="s3://b/p/",
        verdict="PASS",
        overload=measured,
    )
    for text in files.values():
        section = text[text.index("Policy and cost controls under load") :]
        assert "Tenant A offered 200.0 requests/s for 10 s against its limit of 100/s" in section
        assert (
            "\n\n| Overload gate | Verdict | Reason |" in section
            and "| `overload:recovery` | **PASS** |" in section
        )


def test_a_starved_k6_makes_a_latency_fail_inconclusive_and_says_why():
    rows = [
        _row(1_000.0 + i / 200, "overload", 200 if i % 2 else 429, 900.0, None if i % 2 else 1.0)
        for i in range(2_000)
    ]
    rows += [_row(1_000.0 + i / 50, "neighbour", 200, 4.0) for i in range(500)]
    rows += [_row(1_010.0 + i / 50, "recovery", 200, 4.0) for i in range(300)]
    frame = pl.DataFrame(rows, schema=ROWS_SCHEMA)
    sample = {
        "client_cpu_pct": 40.0,
        "client_wait_pct": 95.0,
        "steal_pct": 0.0,
        "load1": 20.0,
        "target_cpu_pct": None,
    }
    starved = {
        "phase": "overload",
        "client": "k6",
        "cores": 2,
        "seconds": 10,
        "samples": [{"t": float(t), **sample} for t in range(10)],
    }
    spec = default_slo_spec()
    plain = overload_document(frame, phase_inputs(spec, overload_s=10, recovery_s=6, tenants={}))
    assert {g["name"]: g["verdict"] for g in plain["gates"]}["overload:admitted_p95"] == "FAIL"
    inputs = phase_inputs(spec, overload_s=10, recovery_s=6, tenants={}, client_health=starved)
    document = overload_document(frame, inputs)
    admitted = {g["name"]: g for g in document["gates"]}["overload:admitted_p95"]
    assert admitted["verdict"] == "INCONCLUSIVE"
    assert admitted["reason"].startswith("measurement not trusted (load generator starved: k6 waited")
    assert "it would have been FAIL" in admitted["reason"] and document["measurement_health"]["saturated"]
    # the shedding gates judge the service's answers, not their timing: unchanged
    assert {g["name"]: g["verdict"] for g in document["gates"]}["overload:shed_at_limit"] == "PASS"
    recorded = json.loads(json.dumps(document))
    assert json.loads(json.dumps(recompute_overload_document(frame, recorded))) == recorded


def test_the_document_records_its_bounds_method_and_an_older_one_recomputes_with_method_2():
    """slo/overload.json's latency gates follow `slo.metrics.BOUNDS_METHOD`, recorded in its
    inputs (issue 26, round three): where the admitted requests' time blocks disagree (a slow
    stretch), method 3 holds the lower bound to the calmest block's and says so; a document
    without the field was made with method 2 and `audit` recomputes it so."""
    rng = random.Random(3)
    rows = [
        _row(
            1_000.0 + i / 500, "overload", 200, rng.lognormvariate(3, 0.5) * (3 if 2_000 <= i < 2_600 else 1)
        )
        for i in range(5_000)
    ]
    frame = pl.DataFrame(rows, schema=ROWS_SCHEMA)
    inputs = phase_inputs(default_slo_spec(), overload_s=10, recovery_s=6, tenants={})
    assert inputs["bounds_method"] == 4
    reason = {g["name"]: g for g in overload_document(frame, inputs)["gates"]}[OVERLOAD_ADMITTED_P95][
        "reason"
    ]
    assert "apart beyond chance" in reason and "at most the calmest block's own" in reason
    older = {key: value for key, value in inputs.items() if key != "bounds_method"}
    before = {g["name"]: g for g in overload_document(frame, older)["gates"]}[OVERLOAD_ADMITTED_P95]["reason"]
    assert "apart beyond chance" in before and "calmest block" not in before
    with pytest.raises(FormatError, match="inputs.bounds_method"):
        overload_document(frame, inputs | {"bounds_method": 1})
