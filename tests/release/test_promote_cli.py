"""`promote` through the command line: the Dagster record only says where the bundle is.

A release_decision materialization saying PASS is recorded in a real instance, the bundle is
uploaded to a real SeaweedFS store, and the RC tag is in a real repository; what the bundle
signs decides.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import dagster as dg
import pytest

from tests.evidence.conftest import LINEAGE, RC, evidence_files, outcomes, provenance
from tests.gitrepo import git, new_repo
from verification_pipeline.cli import main
from verification_pipeline.evidence.bundle import assemble_bundle
from verification_pipeline.evidence.bundle_io import archive_bytes
from verification_pipeline.evidence.keys import generate_key_pair, load_signing_key_file
from verification_pipeline.evidence.statements import ReleaseCandidate
from verification_pipeline.evidence.upload import upload_bundle


@pytest.fixture
def world(s3_env, s3_stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "dagster"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    repo = new_repo(tmp_path / "service")
    git(repo, "tag", "-a", RC.tag, "-m", "rc1")
    keys = generate_key_pair(tmp_path / "keys")
    key = load_signing_key_file(keys.private_key)

    def publish(verdict: str = "PASS", commit: str | None = None, recorded_sha256: str | None = None) -> str:
        """Upload a signed bundle and record a PASS decision for it, whatever the bundle says."""
        rc = ReleaseCandidate(tag=RC.tag, commit=commit or git(repo, "rev-parse", "HEAD"), version=RC.version)
        bundle = assemble_bundle(
            evidence_files(rc.version),
            release_candidate=rc,
            signing_key=key,
            provenance=provenance(f"run-{uuid.uuid4().hex[:12]}"),
            outcomes=outcomes(verdict),
            lineage=LINEAGE,
        )
        store = s3_stack.store()
        upload_bundle(bundle, store, prefix=f"promote-{uuid.uuid4().hex[:8]}")
        uri = store.uri(
            next(k for k in store.list("") if k.endswith(f"{bundle.run_id}/evidence/v24.1/manifest.json"))
        ).removesuffix("manifest.json")
        with dg.DagsterInstance.get() as instance:
            instance.add_dynamic_partitions("release_candidates", [RC.tag])
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset_key="release_decision",
                    partition=RC.tag,
                    metadata={
                        "verdict": "PASS",
                        "bundle_uri": uri,
                        "bundle_sha256": recorded_sha256 or hashlib.sha256(archive_bytes(bundle)).hexdigest(),
                        "dev_key": False,
                    },
                )
            )
        return uri

    def promote() -> tuple[int, str]:
        code = main(["promote", RC.tag, "--public-key", str(keys.public_key), "--repo", str(repo)])
        return code, git(repo, "tag", "-l", "v24.1.0")

    return publish, promote, repo


def test_a_signed_fail_is_refused_although_the_dagster_record_says_pass(world, capsys) -> None:
    publish, promote, _ = world
    publish("FAIL")
    code, tag = promote()
    assert code == 1 and tag == ""
    assert "its signed verdict is FAIL, not PASS" in capsys.readouterr().err


def test_a_signed_commit_other_than_the_tags_is_refused(world, capsys) -> None:
    publish, promote, repo = world
    (repo / "a.txt").write_text("2")
    git(repo, "commit", "-qam", "two")
    publish("PASS", commit=git(repo, "rev-parse", "HEAD"))  # a real commit, not the RC tag's
    code, tag = promote()
    assert code == 1 and tag == ""
    assert "but the bundle signs commit" in capsys.readouterr().err


def test_a_recorded_digest_other_than_the_verified_bundles_is_refused(world, capsys) -> None:
    publish, promote, _ = world
    publish("PASS", recorded_sha256="ab" * 32)
    code, tag = promote()
    assert code == 1 and tag == ""
    assert "is not the verified bundle's" in capsys.readouterr().err


def test_a_signed_pass_on_the_tags_commit_is_promoted(world) -> None:
    publish, promote, repo = world
    publish("PASS")
    code, tag = promote()
    assert code == 0 and tag == "v24.1.0"
    assert git(repo, "rev-parse", "v24.1.0^{commit}") == git(repo, "rev-parse", f"{RC.tag}^{{commit}}")
