"""Typed records between assets: stored as the same JSON as before, validated when read back."""

import json

import pytest

from verification_pipeline.compare.document import no_baseline_document
from verification_pipeline.errors import FormatError
from verification_pipeline.evidence.statements import ReleaseCandidate
from verification_pipeline.records import (
    BaselineComparisonRecord,
    LoadPlan,
    ScanSummaryRecord,
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
