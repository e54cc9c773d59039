"""A saturated client changes what a verdict may claim: FAIL -> INCONCLUSIVE with the reason, PASS
stays PASS and says so; the section is recomputed from the recorded phases, as `audit` does."""

from __future__ import annotations

import random

import polars as pl
import pytest

from tests.slo.test_metrics import requests
from verification_pipeline.fanout.accounting import DELIVERY_SCHEMA
from verification_pipeline.health.assess import HealthLimits, assess, phase_record
from verification_pipeline.health.sampler import HealthSample
from verification_pipeline.slo.document import metrics_document, recompute_bundle_metrics
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH

SPEC = DEFAULT_SLOS_PATH.read_text()


def seconds(count: int, *, cpu: float = 20.0, wait: float = 5.0, steal: float = 0.0) -> list[HealthSample]:
    return [
        HealthSample(
            t=1_700_000_000.0 + i,
            client_cpu_pct=cpu,
            client_wait_pct=wait,
            steal_pct=steal,
            load1=1.0,
            target_cpu_pct=30.0,
        )
        for i in range(count)
    ]


def frames(read_ms: float) -> dict[str, pl.DataFrame]:
    rng = random.Random(3)
    read = requests([rng.uniform(read_ms * 0.8, read_ms * 1.2) for _ in range(2000)])
    write = requests([rng.uniform(5, 60) for _ in range(2000)], op="write").with_columns(
        ingest_ms=pl.Series([rng.uniform(1, 30) for _ in range(2000)])
    )
    return {"read": read, "write": write, "fanout": pl.DataFrame(schema=DELIVERY_SCHEMA)}


def document(read_ms: float, read_phase: list[HealthSample]) -> dict:
    data = frames(read_ms)
    return metrics_document(
        spec_yaml=SPEC,
        spec_source="slos.yaml",
        read=data["read"],
        write=data["write"],
        fanout=data["fanout"],
        health_phases=[
            phase_record("read", "k6", read_phase, cores=2, dropped_iterations=0, k6_warnings=0),
            phase_record("write", "k6", seconds(20), cores=2, dropped_iterations=0, k6_warnings=0),
        ],
    )


def row(doc: dict, name: str) -> dict:
    return next(r for r in doc["slos"] if r["name"] == name)


def test_a_fail_measured_by_a_saturated_k6_is_inconclusive_with_the_reason():
    healthy = document(500.0, seconds(20))
    assert row(healthy, "read_latency_p95")["verdict"] == "FAIL"
    assert healthy["measurement_health"]["saturated"] == []

    saturated = document(500.0, seconds(8) + seconds(12, cpu=98.0))
    read = row(saturated, "read_latency_p95")
    assert read["verdict"] == "INCONCLUSIVE"
    assert {"slo": "read_latency_p95", "from": "FAIL", "to": "INCONCLUSIVE"} in saturated[
        "measurement_health"
    ]["changed"]
    assert "load generator saturated: k6 at 98 % CPU for 12 s" in read["reason"]
    assert "it would have been FAIL" in read["reason"]
    # the write phase was fine: its SLOs keep their verdicts, and the RC is not a FAIL any more
    assert row(saturated, "write_latency_p95")["verdict"] == "PASS"
    assert "measured while" not in row(saturated, "write_latency_p95")["reason"]
    assert saturated["measurement_health"]["saturated"] == ["read"]
    assert saturated["verdict"] == "INCONCLUSIVE" and healthy["verdict"] == "FAIL"


def test_a_pass_measured_by_a_saturated_client_stays_pass_and_says_so():
    doc = document(40.0, seconds(20, wait=80.0))
    read = row(doc, "read_latency_p95")
    assert read["verdict"] == "PASS"
    assert "k6 waited for a CPU up to 80 % of the time for 20 s" in read["reason"]
    assert "saturation only adds delay, so the verdict stands" in read["reason"]


def test_a_short_burst_is_not_a_saturated_phase():
    # 2 busy seconds of 60: under both min_saturated_s (3) and 10 % of the phase
    doc = document(500.0, seconds(58) + seconds(2, cpu=99.0))
    assert row(doc, "read_latency_p95")["verdict"] == "FAIL"
    assert doc["measurement_health"]["phases"][0]["client_cpu_pct_max"] == 99.0


def test_the_audit_recomputes_the_section_and_the_verdicts_from_the_recorded_phases():
    doc = document(500.0, seconds(8) + seconds(12, cpu=98.0))
    again = recompute_bundle_metrics(frames(500.0), doc)
    assert again == doc
    # tampering with a recorded figure shows up in the recomputed verdict
    tampered = {**doc, "measurement_health": {**doc["measurement_health"]}}
    tampered["measurement_health"]["phases"] = [
        {**phase, "samples": [{**s, "client_cpu_pct": 20.0} for s in phase["samples"]]}
        for phase in doc["measurement_health"]["phases"]
    ]
    assert row(recompute_bundle_metrics(frames(500.0), tampered), "read_latency_p95")["verdict"] == "FAIL"


def test_without_health_the_document_keeps_its_shape():
    data = frames(40.0)
    doc = metrics_document(spec_yaml=SPEC, spec_source="slos.yaml", **data)
    assert "measurement_health" not in doc


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (
            phase_record("fanout", "the fan-out probe", seconds(10), cores=2, loop_lag_p99_ms=35.0),
            "lagged 35.0 ms",
        ),
        (phase_record("read", "k6", seconds(10, steal=30.0), cores=2), "host CPU steal up to 30 %"),
        (phase_record("read", "k6", seconds(10), cores=2, dropped_iterations=5), None),
    ],
)
def test_each_limit_names_itself(phase, expected):
    assessed = assess([phase], HealthLimits())["phases"][0]
    if expected is None:  # dropped iterations are recorded, a limit only when slos.yaml sets one
        assert not assessed["saturated"]
        strict = assess([phase], HealthLimits(max_dropped_iterations=0))["phases"][0]
        assert strict["reasons"] == ["k6 dropped 5 iterations it could not start on time"]
    else:
        assert assessed["saturated"] and expected in assessed["reasons"][0]


def test_the_limits_are_read_from_slos_yaml():
    doc = metrics_document(
        spec_yaml=SPEC.replace("max_client_cpu_pct: 90", "max_client_cpu_pct: 99.5"),
        spec_source="slos.yaml",
        **frames(500.0),
        health_phases=[phase_record("read", "k6", seconds(20, cpu=98.0), cores=2)],
    )
    assert doc["measurement_health"]["limits"]["max_client_cpu_pct"] == 99.5
    assert row(doc, "read_latency_p95")["verdict"] == "FAIL"


def test_the_release_notes_and_the_pr_body_say_whether_a_client_was_saturated():
    import datetime as dt

    from verification_pipeline.artifacts.docs import render_release_docs
    from verification_pipeline.slo.metrics import SLO_METRICS_SCHEMA

    for read_phase, expected in (
        (seconds(20), "**Measurement health: OK** (no client saturated; read k6 CPU max 20 %"),
        (
            seconds(20, cpu=98.0),
            "**Measurement health: client saturated** (read: load generator saturated: k6 at 98 %",
        ),
    ):
        doc = document(500.0, read_phase)
        files = render_release_docs(
            pl.DataFrame(doc["slos"], schema=SLO_METRICS_SCHEMA),
            version="v24.1",
            rc="v24.1.0-rc1",
            date=dt.date(2026, 12, 7),
            evidence_uri="s3://bucket/prefix/v24.1.0-rc1/",
            verdict=doc["verdict"],
            measurement_health=doc["measurement_health"],
        )
        assert len(files) == 2
        for text in files.values():
            assert expected in text
