"""The baseline: the newest earlier RC of the line whose bundle verifies; anything else is passed over, with why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.evidence.conftest import evidence_files, outcomes, provenance
from verification_pipeline.compare.baseline import earlier_in_line, find_baseline
from verification_pipeline.evidence.bundle import assemble_bundle
from verification_pipeline.evidence.keys import generate_key_pair, load_signing_key_file
from verification_pipeline.evidence.statements import ReleaseCandidate


def test_earlier_in_line_is_semantic_newest_first_and_stays_in_the_release_line() -> None:
    known = [
        "v24.1.0-rc1",
        "v24.1.0-rc10",
        "v24.1.0-rc9",
        "v24.2.0-rc1",
        "v24.0.9-rc3",
        "v24.1.0-rc11",
        "main",
    ]
    assert earlier_in_line("v24.1.0-rc10", known) == ["v24.1.0-rc9", "v24.1.0-rc1"]
    assert earlier_in_line("v24.1.1-rc1", known) == [
        "v24.1.0-rc11",
        "v24.1.0-rc10",
        "v24.1.0-rc9",
        "v24.1.0-rc1",
    ]
    assert earlier_in_line("v24.1.0-rc1", known) == []


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory):
    trusted = load_signing_key_file(generate_key_pair(tmp_path_factory.mktemp("trusted")).private_key)
    other = load_signing_key_file(generate_key_pair(tmp_path_factory.mktemp("other")).private_key)
    return trusted, other


def _bundle(tag: str, key) -> dict[str, bytes]:
    rc = ReleaseCandidate(tag=tag, commit="c0ffee" + tag[-1] * 34, version="v24.1")
    return dict(
        assemble_bundle(
            evidence_files(rc.version),
            release_candidate=rc,
            signing_key=key,
            provenance=provenance(),
            outcomes=outcomes(),
        ).files
    )


def test_candidates_that_are_missing_untrusted_or_for_another_rc_are_passed_over_with_the_reason(
    keys, tmp_path: Path
):
    trusted, other = keys
    store = {
        "s3://b/rc4/": _bundle("v24.1.0-rc3", trusted),  # rc4's pointer leads to rc3's bundle
        "s3://b/rc3/": _bundle("v24.1.0-rc3", other),  # signed by a key nobody trusts
        "s3://b/rc2/": _bundle("v24.1.0-rc2", trusted),
    }
    tampered = dict(_bundle("v24.1.0-rc1", trusted))
    tampered["raw/read.parquet"] = b"PAR1 not the signed rows"
    store["s3://b/rc1/"] = tampered
    where = {"v24.1.0-rc4": "s3://b/rc4/", "v24.1.0-rc3": "s3://b/rc3/", "v24.1.0-rc2": "s3://b/rc2/"}
    search = find_baseline(
        ["v24.1.0-rc5", "v24.1.0-rc4", "v24.1.0-rc3", "v24.1.0-rc2"],
        locate=where.get,
        read=store.__getitem__,
        public_key=trusted.public_key,
    )
    assert search.baseline is not None and search.baseline.rc == "v24.1.0-rc2"
    assert search.baseline.bundle_uri == "s3://b/rc2/" and search.baseline.commit == "c0ffee" + "2" * 34
    assert search.baseline.frames["read"].height == 6
    assert search.baseline.info()["verified"] is True
    notes = search.passed_over
    assert notes[0] == "v24.1.0-rc5: no bundle recorded"
    assert notes[1].startswith("v24.1.0-rc4: ") and "v24.1.0-rc3" in notes[1]
    assert notes[2].startswith("v24.1.0-rc3: ") and "signature" in notes[2]

    tampered_only = find_baseline(
        ["v24.1.0-rc1"],
        locate=lambda rc: "s3://b/rc1/",
        read=store.__getitem__,
        public_key=trusted.public_key,
    )
    assert tampered_only.baseline is None
    assert "raw/read.parquet" in tampered_only.passed_over[0]
    assert tampered_only.reason("v24.1.0-rc2").startswith(
        "no earlier RC of the release line of v24.1.0-rc2 has a bundle that verifies (v24.1.0-rc1: "
    )


def test_with_no_earlier_rc_the_reason_says_there_is_nothing_to_compare_with(keys) -> None:
    search = find_baseline([], locate=lambda rc: None, read=dict, public_key=keys[0].public_key)
    assert search.baseline is None and search.passed_over == ()
    assert search.reason("v24.1.0-rc1") == (
        "no earlier RC of the release line of v24.1.0-rc1 is known: there is nothing to compare with"
    )


def test_records_that_disagree_a_failed_baseline_and_a_bundle_moved_to_another_run_are_passed_over(
    keys,
) -> None:
    """latest.json can be rewritten by whoever can write the bucket: it must agree with the
    instance's record; a baseline is a signed PASS stored under its own run."""
    trusted, _ = keys
    passing = _bundle("v24.1.0-rc2", trusted)
    run = json.loads(passing["manifest.json"])["runId"]
    here = f"s3://b/v/v24.1.0-rc2/{run}/evidence/v24.1/"
    store = {here: passing, "s3://b/v/v24.1.0-rc2/other-run/evidence/v24.1/": passing}

    def search(located):
        return find_baseline(
            ["v24.1.0-rc2"], locate=lambda rc: located, read=store.__getitem__, public_key=trusted.public_key
        )

    assert search([here, here.rstrip("/")]).baseline is not None  # the same bundle, spelled twice
    disagreeing = search([here, "s3://b/v/v24.1.0-rc2/older-run/evidence/v24.1/"])
    assert disagreeing.baseline is None and "its records name different bundles" in disagreeing.passed_over[0]
    moved = search("s3://b/v/v24.1.0-rc2/other-run/evidence/v24.1/")
    assert moved.baseline is None and f"signed by run {run}" in moved.passed_over[0]
    failed = dict(
        assemble_bundle(
            evidence_files("v24.1"),
            release_candidate=ReleaseCandidate(
                tag="v24.1.0-rc2", commit="c0ffee" + "2" * 34, version="v24.1"
            ),
            signing_key=trusted,
            provenance=provenance(),
            outcomes=outcomes("FAIL"),
        ).files
    )
    store[here] = failed
    refused = search(here)
    assert (
        refused.baseline is None
        and "its signed verdict is FAIL; only a PASS is a baseline" in refused.passed_over[0]
    )
