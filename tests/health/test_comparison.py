"""The comparison refuses to call a change when only one side's client was saturated."""

from __future__ import annotations

import random

from tests.compare.samples import load_frame, lognormal_ar1
from tests.health.test_verdicts import seconds
from verification_pipeline.compare.document import Samples, comparison_document
from verification_pipeline.health.assess import phase_record
from verification_pipeline.slo.spec import default_slo_spec

INFO = {"rc": "v24.1.0-rc1", "bundle_uri": "s3://b/p", "commit": "c", "verified": True}


def side(seed: int, added_ms: float, *, saturated: bool) -> Samples:
    rng = random.Random(seed)
    read = [v + added_ms for v in lognormal_ar1(rng, 3000, 0.2)]
    write = lognormal_ar1(rng, 3000, 0.2)
    read_phase = seconds(20, cpu=97.0) if saturated else seconds(20)
    return Samples(
        read=load_frame(read, "read"),
        write=load_frame(write, "write"),
        health_phases=[
            phase_record("read", "k6", read_phase, cores=2),
            phase_record("write", "k6", seconds(20), cores=2),
        ],
    )


def read_row(current: Samples, baseline: Samples) -> dict:
    document = comparison_document(
        default_slo_spec(), rc="v24.1.0-rc2", current=current, baseline=baseline, baseline_info=INFO
    )
    return next(row for row in document["slos"] if row["slo"] == "read_latency_p95")


def test_a_slowdown_measured_by_a_saturated_client_on_one_side_only_is_not_called():
    healthy = read_row(side(1, 40.0, saturated=False), side(2, 0.0, saturated=False))
    assert healthy["classification"] == "slower" and healthy["verdict"] == "WARN"
    assert "measurement_health" not in healthy

    one_sided = read_row(side(1, 40.0, saturated=True), side(2, 0.0, saturated=False))
    assert one_sided["classification"] == "slower"  # the figures stay, for the record
    assert one_sided["verdict"] == "WARN"
    assert "not called: only this RC's measurement was saturated" in one_sided["reason"]
    assert "k6 at 97 % CPU for 20 s" in one_sided["reason"]
    assert one_sided["measurement_health"]["baseline"] == []


def test_a_change_with_both_sides_saturated_stands_with_the_note():
    both = read_row(side(1, 40.0, saturated=True), side(2, 0.0, saturated=True))
    assert both["classification"] == "slower"
    assert "not called" not in both["reason"]
    assert both["measurement_health"]["current"] and both["measurement_health"]["baseline"]


def test_no_change_with_one_side_saturated_is_still_no_change():
    row = read_row(side(1, 0.0, saturated=False), side(2, 0.0, saturated=True))
    assert row["classification"] == "no_change" and row["verdict"] == "PASS"
    assert row["measurement_health"]["baseline"]
