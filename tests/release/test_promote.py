"""Promotion: the release tag only on a PASS decision whose bundle verifies, on the verified commit."""

import pytest

from tests.evidence.conftest import LINEAGE, RC, evidence_files, outcomes, provenance
from tests.gitrepo import git, new_repo
from verification_pipeline.errors import PromotionRefused
from verification_pipeline.evidence.bundle import assemble_bundle
from verification_pipeline.evidence.keys import generate_key_pair, load_signing_key_file
from verification_pipeline.evidence.statements import ReleaseCandidate
from verification_pipeline.evidence.verify import verify_files
from verification_pipeline.release.promote import Decision, promote


@pytest.fixture
def repo(tmp_path):
    path = new_repo(tmp_path / "service")
    git(path, "tag", "-a", RC.tag, "-m", "rc1")
    (path / "a.txt").write_text("2")
    git(path, "commit", "-qam", "two, after the RC")
    return path


@pytest.fixture
def signed(tmp_path, repo):
    """A real bundle for the RC's commit, and a verifier bound to the trusted public key."""
    keys = generate_key_pair(tmp_path / "keys")
    key = load_signing_key_file(keys.private_key)
    commit = git(repo, "rev-parse", f"{RC.tag}^{{commit}}")
    rc = ReleaseCandidate(tag=RC.tag, commit=commit, version=RC.version)
    bundle = assemble_bundle(
        evidence_files(rc.version),
        release_candidate=rc,
        signing_key=key,
        provenance=provenance(),
        outcomes=outcomes(),
        lineage=LINEAGE,
    )
    return commit, bundle, key


def decision(commit, verdict="PASS"):
    return Decision(
        rc=RC.tag,
        verdict=verdict,
        commit=commit,
        bundle_uri="s3://b/p/v24.1.0-rc1/run/evidence/v24.1/",
        bundle_sha256="ab" * 32,
        run_id="run-1",
    )


def test_pass_creates_the_annotated_release_tag_on_the_rc_commit(repo, signed):
    commit, bundle, key = signed
    tag = promote(
        str(repo), decision(commit), lambda: verify_files(bundle.files, key.public_key, expected_rc=RC.tag)
    )
    assert tag == "v24.1.0"
    assert git(repo, "rev-parse", "v24.1.0^{commit}") == commit != git(repo, "rev-parse", "HEAD")
    assert git(repo, "cat-file", "-t", "v24.1.0") == "tag"
    message = git(repo, "tag", "-l", "--format=%(contents)", "v24.1.0")
    assert "s3://b/p/v24.1.0-rc1/run/evidence/v24.1/" in message and "ab" * 32 in message


@pytest.mark.parametrize("verdict", ["FAIL", "INCONCLUSIVE", "INCOMPLETE"])
def test_a_decision_other_than_pass_is_refused(repo, signed, verdict):
    commit, bundle, key = signed
    with pytest.raises(PromotionRefused, match=f"its release decision is {verdict}, not PASS"):
        promote(str(repo), decision(commit, verdict), lambda: verify_files(bundle.files, key.public_key))
    assert git(repo, "tag", "-l", "v24.1.0") == ""


def test_a_tampered_bundle_is_refused_naming_the_file(repo, signed):
    commit, bundle, key = signed
    files = dict(bundle.files)
    files["slo/read.json"] = files["slo/read.json"] + b" "
    with pytest.raises(PromotionRefused, match="does not verify: slo/read.json"):
        promote(str(repo), decision(commit), lambda: verify_files(files, key.public_key, expected_rc=RC.tag))
    assert git(repo, "tag", "-l", "v24.1.0") == ""


def test_an_existing_release_tag_is_refused(repo, signed):
    commit, bundle, key = signed
    git(repo, "tag", "v24.1.0")
    with pytest.raises(PromotionRefused, match="tag v24.1.0 already exists"):
        promote(str(repo), decision(commit), lambda: verify_files(bundle.files, key.public_key))


def test_an_rc_tag_moved_since_verification_is_refused(repo, signed):
    commit, bundle, key = signed
    git(repo, "tag", "-f", "-a", RC.tag, "-m", "moved")
    with pytest.raises(PromotionRefused, match="was verified; verify the RC again"):
        promote(str(repo), decision(commit), lambda: verify_files(bundle.files, key.public_key))
