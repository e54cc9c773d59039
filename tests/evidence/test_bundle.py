"""Bundle assembly: layout, manifest, subjects, determinism, and signatures checked independently."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.evidence.conftest import FINISHED, LINEAGE, RC, BuildBundle, evidence_files, outcomes, provenance
from verification_pipeline.errors import ConfigError, InputError
from verification_pipeline.evidence.bundle import EvidenceBundle, LineageStep, assemble_bundle
from verification_pipeline.evidence.bundle_io import archive_bytes, write_archive, write_directory
from verification_pipeline.evidence.keys import KeyPairFiles, SigningKey, resolve_signing_key
from verification_pipeline.evidence.layout import expected_files
from verification_pipeline.evidence.statements import EXTENSION

TEST_RESULT = "https://in-toto.io/attestation/test-result/v0.1"
PROVENANCE = "https://slsa.dev/provenance/v1"
VSA = "https://slsa.dev/verification_summary/v1"


def independent_statements(attestations: bytes, public_pem: bytes) -> dict[str, dict[str, Any]]:
    """Verify the envelopes WITHOUT our dsse module: PAE built here, plain `cryptography` Ed25519."""
    public_key = serialization.load_pem_public_key(public_pem)
    assert isinstance(public_key, Ed25519PublicKey)
    statements = {}
    for line in attestations.decode().splitlines():
        envelope = json.loads(line)
        body = base64.b64decode(envelope["payload"])
        payload_type = envelope["payloadType"].encode()
        assert payload_type == b"application/vnd.in-toto+json"
        message = b"DSSEv1 " + str(len(payload_type)).encode() + b" " + payload_type + b" "
        message += str(len(body)).encode() + b" " + body
        (signature,) = envelope["signatures"]
        public_key.verify(base64.b64decode(signature["sig"]), message)  # raises InvalidSignature
        statement = json.loads(body)
        statements[statement["predicateType"]] = statement
    return statements


def test_signatures_verify_with_an_independent_implementation(
    bundle: EvidenceBundle, key_pair: KeyPairFiles
) -> None:
    statements = independent_statements(
        bundle.files["attestations.intoto.jsonl"], key_pair.public_key.read_bytes()
    )
    assert set(statements) == {TEST_RESULT, PROVENANCE, VSA}
    every_file = {
        n: hashlib.sha256(d).hexdigest() for n, d in bundle.files.items() if n != "attestations.intoto.jsonl"
    }
    for kind in (TEST_RESULT, PROVENANCE):
        assert statements[kind]["_type"] == "https://in-toto.io/Statement/v1"
        assert {s["name"]: s["digest"]["sha256"] for s in statements[kind]["subject"]} == every_file
    # the summary is about the RC's commit, from the exact payloads of the other two
    assert statements[VSA]["subject"] == [
        {"name": f"urn:verification-pipeline:release-candidate:{RC.tag}", "digest": {"gitCommit": RC.commit}}
    ]
    payloads = [
        base64.b64decode(json.loads(line)["payload"])
        for line in bundle.files["attestations.intoto.jsonl"].splitlines()
    ]
    assert [a["digest"]["sha256"] for a in statements[VSA]["predicate"]["inputAttestations"]] == [
        hashlib.sha256(p).hexdigest() for p in payloads[:2]
    ]
    assert statements[VSA]["predicate"]["verificationResult"] == "PASSED"
    assert statements[VSA]["predicate"]["verifiedLevels"] == ["SLSA_BUILD_LEVEL_UNEVALUATED"]
    assert statements[TEST_RESULT]["predicate"][EXTENSION]["releaseCandidate"]["tag"] == RC.tag
    assert statements[PROVENANCE]["predicate"]["buildDefinition"]["externalParameters"][
        "releaseCandidate"
    ] == {
        "tag": RC.tag,
        "commit": RC.commit,
        "commitSource": "git-tag",
        "version": RC.version,
    }


def test_complete_passing_bundle_has_the_seed_layout_and_a_full_manifest(bundle: EvidenceBundle) -> None:
    assert bundle.verdict == "PASS" and bundle.missing_files == ()
    assert bundle.root == "evidence/v24.1"
    names = set(bundle.files)
    assert (
        set(expected_files("v24.1")) | {"lineage.json", "manifest.json", "attestations.intoto.jsonl"} == names
    )
    assert {"release/PR_BODY_v24.1.md", "release/RELEASE_NOTES_v24.1.md"} <= names
    manifest = json.loads(bundle.files["manifest.json"])
    assert manifest["releaseCandidate"] == RC.as_json()
    assert manifest["runId"] == bundle.run_id and manifest["createdAt"] == "2025-03-01T12:04:30Z"
    assert manifest["verdict"] == "PASS" and manifest["missingFiles"] == []
    assert manifest["signingKey"] == {"fingerprint": bundle.key_fingerprint, "devKey": False}
    listed = {e["name"]: (e["sha256"], e["size"]) for e in manifest["files"]}
    assert listed == {
        n: (hashlib.sha256(d).hexdigest(), len(d))
        for n, d in bundle.files.items()
        if n not in ("manifest.json", "attestations.intoto.jsonl")
    }


def test_missing_evidence_makes_the_bundle_incomplete_never_pass(build_bundle: BuildBundle) -> None:
    files = evidence_files()
    del files["raw/fanout.parquet"], files["security/sbom.syft.json"]
    incomplete = build_bundle(files=files)  # every gate passed
    assert incomplete.verdict == "INCOMPLETE"
    assert incomplete.missing_files == ("security/sbom.syft.json", "raw/fanout.parquet")
    manifest = json.loads(incomplete.files["manifest.json"])
    assert manifest["verdict"] == "INCOMPLETE"
    assert manifest["missingFiles"] == ["security/sbom.syft.json", "raw/fanout.parquet"]
    predicate = _predicate(incomplete, TEST_RESULT)
    assert predicate["result"] == "FAILED" and "evidence:complete" in predicate["failedTests"]


def test_failed_rc_still_gets_a_complete_signed_bundle_that_says_failed(
    build_bundle: BuildBundle, key_pair: KeyPairFiles
) -> None:
    failed = build_bundle(gates=outcomes("FAIL"))
    assert failed.verdict == "FAIL" and failed.missing_files == ()
    statements = independent_statements(
        failed.files["attestations.intoto.jsonl"], key_pair.public_key.read_bytes()
    )
    predicate = statements[TEST_RESULT]["predicate"]
    assert predicate["result"] == "FAILED" and predicate["failedTests"] == ["slo:read_p95"]
    assert statements[VSA]["predicate"]["verificationResult"] == "FAILED"
    assert statements[VSA]["predicate"]["verifiedLevels"] == ["FAILED"]


def test_same_inputs_give_byte_identical_bundle_and_archive(
    build_bundle: BuildBundle, tmp_path: Path
) -> None:
    first, second = build_bundle(), build_bundle()
    assert dict(first.files) == dict(second.files)
    assert archive_bytes(first) == archive_bytes(second)
    path = write_archive(first, tmp_path / "bundle.tar.gz")
    with tarfile.open(path) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(f"evidence/v24.1/{n}" for n in first.files)
    assert all(m.isreg() and m.mtime == 0 and m.uid == 0 and m.mode == 0o644 for m in members)


def test_a_different_rc_or_run_changes_the_signed_bytes(build_bundle: BuildBundle) -> None:
    base = build_bundle()
    other_run = build_bundle(run_id="another-run")
    assert base.files["attestations.intoto.jsonl"] != other_run.files["attestations.intoto.jsonl"]


def test_private_key_never_appears_in_any_bundle_byte(
    bundle: EvidenceBundle, signing_key: SigningKey, key_pair: KeyPairFiles
) -> None:
    raw = signing_key.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pem_body = b"".join(key_pair.private_key.read_bytes().splitlines()[1:-1])
    needles = [raw, raw.hex().encode(), base64.b64encode(raw), pem_body]
    haystacks = [*bundle.files.values(), archive_bytes(bundle), gzip.decompress(archive_bytes(bundle))]
    for haystack in haystacks:
        for needle in needles:
            assert needle not in haystack


def test_dev_key_is_declared_in_the_signed_manifest(build_bundle: BuildBundle, tmp_path: Path) -> None:
    dev_key = resolve_signing_key(environ={}, dev_key_dir=tmp_path)
    bundle = build_bundle(key=dev_key)
    manifest = json.loads(bundle.files["manifest.json"])
    assert bundle.dev_key and manifest["signingKey"]["devKey"] is True
    assert "DEV key" in manifest["signingKey"]["warning"]


def test_lineage_links_outputs_to_inputs_with_digests(bundle: EvidenceBundle) -> None:
    lineage = json.loads(bundle.files["lineage.json"])
    assert lineage["runId"] == bundle.run_id and lineage["releaseCandidate"]["tag"] == RC.tag
    assert [i["name"] for i in lineage["inputs"]] == ["slos.yaml", "k6/graphql_read.js", "k6", "syft"]
    outputs = {o["name"]: o for o in lineage["outputs"]}
    read = outputs["slo/read.json"]
    assert read["derivedFrom"] == ["raw/read.parquet"] and read["runId"] == "run-a"
    assert read["sha256"] == hashlib.sha256(bundle.files["slo/read.json"]).hexdigest()
    assert outputs["slo/metrics.json"]["derivedFrom"][-1] == "slos.yaml"


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (LineageStep("slo/nope.json", ("raw/read.parquet",)), "not a file of this bundle"),
        (
            LineageStep("slo/read.json", ("raw/ghost.parquet",)),
            "neither a bundle file nor a resolved dependency",
        ),
    ],
)
def test_lineage_steps_must_name_real_files_or_inputs(
    signing_key: SigningKey, step: LineageStep, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        assemble_bundle(
            evidence_files(),
            release_candidate=RC,
            signing_key=signing_key,
            provenance=provenance(),
            outcomes=outcomes(),
            lineage=[*LINEAGE, step],
            created_at=FINISHED,
        )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("manifest.json", "written by the bundle itself"),
        ("attestations.intoto.jsonl", "written by the bundle itself"),
        ("../outside.json", r"'\.\.' path segment"),
        ("/etc/passwd", "not a relative POSIX path"),
        ("slo\\read.json", "not a relative POSIX path"),
    ],
)
def test_unsafe_or_reserved_names_are_refused(build_bundle: BuildBundle, name: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        build_bundle(files={**evidence_files(), name: b"x"})


def test_rc_tag_that_cannot_be_a_path_segment_is_refused(build_bundle: BuildBundle) -> None:
    with pytest.raises(ConfigError, match="cannot be a path segment"):
        build_bundle(rc=RC.__class__(tag="../v24.1.0-rc1", commit=RC.commit, version=RC.version))


def test_write_directory_is_write_once(bundle: EvidenceBundle, tmp_path: Path) -> None:
    root = write_directory(bundle, tmp_path)
    assert root == tmp_path / "evidence" / "v24.1"
    assert (root / "raw" / "read.parquet").read_bytes() == bundle.files["raw/read.parquet"]
    assert stat.S_ISREG((root / "attestations.intoto.jsonl").stat().st_mode)
    with pytest.raises(InputError, match="write-once"):
        write_directory(bundle, tmp_path)
    with pytest.raises(InputError, match="write-once"):
        write_archive(bundle, write_archive(bundle, tmp_path / "b.tar.gz"))


def _predicate(bundle: EvidenceBundle, predicate_type: str) -> dict[str, Any]:
    for line in bundle.files["attestations.intoto.jsonl"].splitlines():
        statement = json.loads(base64.b64decode(json.loads(line)["payload"]))
        if statement["predicateType"] == predicate_type:
            return statement["predicate"]
    raise AssertionError(predicate_type)


def test_archive_round_trips_through_tarfile(bundle: EvidenceBundle) -> None:
    with tarfile.open(fileobj=io.BytesIO(archive_bytes(bundle))) as tar:
        read = {m.name.removeprefix("evidence/v24.1/"): tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    assert read == dict(bundle.files)
