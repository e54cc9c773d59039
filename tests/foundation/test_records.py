"""Typed records between assets: stored as the same JSON as before, validated when read back."""

import json

import pytest

from verification_pipeline.compare.document import no_baseline_document
from verification_pipeline.errors import FormatError
from verification_pipeline.evidence.statements import ReleaseCandidate
from verification_pipeline.records import (
    BaselineComparisonRecord,
    GateInputs,
    LoadPlan,
    ScanSummaryRecord,
    ServiceBuildRecord,
    SloMetricsRecord,
    SpecSource,
)
from verification_pipeline.storage.serialize import decode, encode
from verification_pipeline.verdict import Verdict


def test_a_record_is_stored_as_plain_json_and_read_back_as_the_same_record():
    rc = ReleaseCandidate(
        tag="v24.1.0-rc1", version="v24.1", release_tag="v24.1.0", commit="a" * 40, commit_source="git-tag"
    )
    stored = encode(rc)
    assert stored.extension == "json"
    assert json.loads(stored.data) == {
        "tag": "v24.1.0-rc1",
        "version": "v24.1",
        "release_tag": "v24.1.0",
        "commit": "a" * 40,
        "commit_source": "git-tag",
        "repository": None,
    }
    assert decode(stored.data, "json", "s3://b/k.json", as_type=ReleaseCandidate) == rc
    assert rc.as_json()["commit"] == "a" * 40


def test_verdicts_are_stored_as_their_words():
    summary = ScanSummaryRecord(
        verdict=Verdict.FAIL, gates=[{"name": "sbom_present", "verdict": "FAIL", "reason": "none"}]
    )
    assert json.loads(encode(summary).data)["gates"][0]["verdict"] == "FAIL"


def test_a_stored_value_that_no_longer_fits_its_type_is_refused_naming_the_field():
    data = json.dumps({"mode": "run", "segments": "three"}).encode()
    with pytest.raises(FormatError, match=r"not a LoadPlan") as refused:
        decode(data, "json", "s3://b/_steps/plan.json", as_type=LoadPlan)
    assert refused.value.field == "segments" and refused.value.source == "s3://b/_steps/plan.json"


def test_json_without_a_record_type_stays_plain_data():
    assert decode(b'{"a": 1}', "json", "x", as_type=dict) == {"a": 1}


def test_the_baseline_comparison_is_stored_as_the_document_it_signs_and_gives_its_gate():
    document = no_baseline_document("v24.1.0-rc1", 0.95, "no earlier RC of the release line is known")
    record = BaselineComparisonRecord.model_validate(document)
    stored = json.loads(encode(record).data)
    assert stored == {**document, "regression_policy": None}  # "schema" keeps its name in the JSON
    assert decode(encode(record).data, "json", "x", as_type=BaselineComparisonRecord) == record
    gate = record.gate()
    assert (gate.name, gate.verdict, gate.detail["status"]) == (
        "baseline:no_regression",
        Verdict.WARN,
        "NO_BASELINE",
    )
    with pytest.raises(FormatError, match="not a BaselineComparisonRecord"):
        decode(
            json.dumps({**document, "verdict": "GREEN"}).encode(),
            "json",
            "x",
            as_type=BaselineComparisonRecord,
        )


# --- GateInputs (issue 28): the gate inputs picked once from an asset's values, by asset name ------


def _gate_values() -> dict:
    return {
        "context": object(),  # an asset's other parameters are passed over
        "slo_metrics": SloMetricsRecord(
            slos=(),
            summaries={},
            fanout=None,
            min_delivery_ratio=0.99,
            verdict=Verdict.INCONCLUSIVE,
            spec=SpecSource(source="slos.yaml", yaml=""),
        ),
        "scan_summary": ScanSummaryRecord(
            verdict=Verdict.FAIL, gates=[{"name": "sbom_present", "verdict": "FAIL", "reason": "none"}]
        ),
        "service_build": ServiceBuildRecord(
            expected_commit="a" * 40, reported_commit="a" * 40, source="test"
        ),
        "baseline_comparison": BaselineComparisonRecord.model_validate(
            no_baseline_document("v24.1.0-rc1", 0.95, "no earlier RC")
        ),
        "authz_under_load": None,
        "overload_phase": None,
        "cost_per_request": None,
    }


def test_gate_inputs_are_picked_from_an_assets_values_by_name_and_give_its_gates_in_signing_order():
    gates = GateInputs.from_asset_values(_gate_values()).gates()
    names = [g.name for g in gates]
    assert names[-3:] == ["scan:sbom_present", "service:build", "baseline:no_regression"]
    assert [g.verdict for g in gates[-3:]] == [Verdict.FAIL, Verdict.PASS, Verdict.WARN]
    # the phases' documents, each under its asset's name: authz, then overload, then cost
    phases = {
        "authz_under_load": {"verdict": "PASS", "reason": "none admitted"},
        "overload_phase": {"gates": [{"name": "overload:recovery", "verdict": "FAIL"}]},
        "cost_per_request": {"verdict": "WARN", "reason": "cpu up"},
    }
    gates = GateInputs.from_asset_values({**_gate_values(), **phases}).gates()
    assert [(g.name, g.verdict) for g in gates[len(names) :]] == [
        ("authz:no_forbidden_admitted", Verdict.PASS),
        ("overload:recovery", Verdict.FAIL),
        ("cost:cpu_per_request", Verdict.WARN),
    ]


def test_gate_inputs_refuse_a_value_that_is_not_its_record_naming_it():
    values = {**_gate_values(), "scan_summary": {"verdict": "PASS"}}
    with pytest.raises(TypeError, match="scan_summary"):
        GateInputs.from_asset_values(values)
    del values["scan_summary"]
    with pytest.raises(TypeError, match="scan_summary"):
        GateInputs.from_asset_values(values)
