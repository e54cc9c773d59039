"""Promotion: the release tag only on a signed, verified PASS, on the commit the bundle signs.

The decision comes only from the verified bundle: these tests give `promote` nothing else, so
no Dagster record (whatever verdict it says) can make it tag.
"""

import hashlib

import pytest

from tests.evidence.conftest import LINEAGE, RC, evidence_files, outcomes, provenance
from tests.gitrepo import git, new_repo
from verification_pipeline.errors import PromotionRefused
from verification_pipeline.evidence.bundle import assemble_bundle
from verification_pipeline.evidence.bundle_io import archive_bytes, archive_sha256
from verification_pipeline.evidence.keys import generate_key_pair, load_signing_key_file
from verification_pipeline.evidence.statements import COMMIT_FROM_CHECKOUT, ReleaseCandidate
from verification_pipeline.evidence.verify import verify_files
from verification_pipeline.release.promote import promote

URI = "s3://b/p/v24.1.0-rc1/run/evidence/v24.1/"


@pytest.fixture
def repo(tmp_path):
    path = new_repo(tmp_path / "service")
    git(path, "tag", "-a", RC.tag, "-m", "rc1")
    (path / "a.txt").write_text("2")
    git(path, "commit", "-qam", "two, after the RC")
    return path


@pytest.fixture
def key(tmp_path):
    return load_signing_key_file(generate_key_pair(tmp_path / "keys").private_key)


@pytest.fixture
def sign(repo, key):
    """A real bundle signed for the RC: by default its tag's commit and a PASS."""

    def build(commit=None, gates=None, commit_source="git-tag"):
        rc = ReleaseCandidate(
            tag=RC.tag,
            commit=commit or git(repo, "rev-parse", f"{RC.tag}^{{commit}}"),
            version=RC.version,
            commit_source=commit_source,
        )
        return assemble_bundle(
            evidence_files(rc.version),
            release_candidate=rc,
            signing_key=key,
            provenance=provenance(),
            outcomes=outcomes() if gates is None else gates,
            lineage=LINEAGE,
        )

    return build


def _verified(files, key, **expected):
    """What the CLI hands promote: the verified report and the verified bundle's archive digest."""
    report = verify_files(files, key.public_key, **expected)
    return report, archive_sha256(files, f"evidence/{report.release_candidate['version']}")


def _promote(repo, bundle, key, files=None, recorded=None):
    files = files or bundle.files
    return promote(
        str(repo),
        RC.tag,
        lambda: _verified(files, key, expected_rc=RC.tag),
        bundle_uri=URI,
        recorded_sha256=recorded or hashlib.sha256(archive_bytes(bundle)).hexdigest(),
    )


def test_a_signed_pass_creates_the_annotated_release_tag_on_the_signed_commit(repo, sign, key):
    bundle = sign()
    commit = git(repo, "rev-parse", f"{RC.tag}^{{commit}}")
    assert _promote(repo, bundle, key) == "v24.1.0"
    assert git(repo, "rev-parse", "v24.1.0^{commit}") == commit != git(repo, "rev-parse", "HEAD")
    assert git(repo, "cat-file", "-t", "v24.1.0") == "tag"
    message = git(repo, "tag", "-l", "--format=%(contents)", "v24.1.0")
    assert (
        URI in message and hashlib.sha256(archive_bytes(bundle)).hexdigest() in message and commit in message
    )


def test_a_recorded_digest_that_is_not_the_verified_bundles_is_refused(repo, sign, key):
    """The record only says where the bundle is: its digest goes into the tag only once it is the
    digest of the bundle that verified."""
    with pytest.raises(
        PromotionRefused, match=r"recorded bundle sha256 abababab.* is not the verified bundle's"
    ):
        _promote(repo, sign(), key, recorded="ab" * 32)
    assert git(repo, "tag", "-l", "v24.1.0") == ""


@pytest.mark.parametrize("verdict", ["FAIL", "INCONCLUSIVE"])
def test_a_signed_verdict_other_than_pass_is_refused(repo, sign, key, verdict):
    bundle = sign(gates=outcomes(verdict))
    with pytest.raises(PromotionRefused, match=f"its signed verdict is {verdict}, not PASS"):
        _promote(repo, bundle, key)
    assert git(repo, "tag", "-l", "v24.1.0") == ""


def test_an_incomplete_bundle_is_refused(repo, sign, key):
    files = evidence_files(RC.version)
    del files["slo/fanout.json"]
    bundle = sign()
    incomplete = assemble_bundle(
        files,
        release_candidate=bundle.release_candidate,
        signing_key=key,
        provenance=provenance(),
        outcomes=outcomes(),
        lineage=LINEAGE,
    )
    with pytest.raises(PromotionRefused, match="its signed verdict is INCOMPLETE, not PASS"):
        _promote(repo, incomplete, key)


def test_a_signed_commit_other_than_the_tags_is_refused(repo, sign, key):
    head = git(repo, "rev-parse", "HEAD")  # a real commit of the repo, but not the RC's
    bundle = sign(commit=head, commit_source=COMMIT_FROM_CHECKOUT)
    with pytest.raises(PromotionRefused, match=r"but the bundle signs commit .* \(checkout's HEAD"):
        _promote(repo, bundle, key)
    assert git(repo, "tag", "-l", "v24.1.0") == ""


def test_a_bundle_that_signs_an_empty_commit_does_not_verify_so_is_refused(repo, sign, key):
    import base64
    import json

    from verification_pipeline.evidence.dsse import sign_envelope
    from verification_pipeline.evidence.statements import EXTENSION, canonical_json

    bundle = sign()
    files = dict(bundle.files)
    lines = []
    for line in files["attestations.intoto.jsonl"].splitlines():
        statement = json.loads(base64.b64decode(json.loads(line)["payload"]))
        predicate = statement["predicate"]
        if EXTENSION not in predicate and "buildDefinition" not in predicate:
            lines.append(line)  # the verification summary names the commit only as its subject
            continue
        rc = predicate[EXTENSION]["releaseCandidate"] if EXTENSION in predicate else None
        rc = rc or predicate["buildDefinition"]["externalParameters"]["releaseCandidate"]
        rc["commit"] = ""
        lines.append(canonical_json(sign_envelope(canonical_json(statement), key)))
    files["attestations.intoto.jsonl"] = b"\n".join(lines) + b"\n"
    with pytest.raises(
        PromotionRefused, match=r"does not verify: .*releaseCandidate\]: .*'' is not a full git commit"
    ):
        _promote(repo, bundle, key, files)
    assert git(repo, "tag", "-l", "v24.1.0") == ""


def test_a_tampered_bundle_is_refused_naming_the_file(repo, sign, key):
    bundle = sign()
    files = dict(bundle.files)
    files["slo/read.json"] = files["slo/read.json"] + b" "
    with pytest.raises(PromotionRefused, match="does not verify: slo/read.json"):
        _promote(repo, bundle, key, files)
    assert git(repo, "tag", "-l", "v24.1.0") == ""


def test_an_existing_release_tag_is_refused(repo, sign, key):
    git(repo, "tag", "v24.1.0")
    with pytest.raises(PromotionRefused, match="tag v24.1.0 already exists"):
        _promote(repo, sign(), key)


def test_an_rc_tag_moved_since_verification_is_refused(repo, sign, key):
    bundle = sign()
    git(repo, "tag", "-f", "-a", RC.tag, "-m", "moved")
    with pytest.raises(PromotionRefused, match="verify the RC again"):
        _promote(repo, bundle, key)


def test_a_dev_key_bundle_is_refused_unless_allowed(repo, tmp_path, sign):
    from verification_pipeline.evidence.keys import resolve_signing_key

    dev = resolve_signing_key(environ={}, dev_key_dir=tmp_path / "dev")
    rc = sign().release_candidate
    bundle = assemble_bundle(
        evidence_files(rc.version),
        release_candidate=rc,
        signing_key=dev,
        provenance=provenance(),
        outcomes=outcomes(),
        lineage=LINEAGE,
    )
    with pytest.raises(PromotionRefused, match="signed with a DEV key"):
        _promote(repo, bundle, dev)
    assert (
        promote(
            str(repo),
            RC.tag,
            lambda: _verified(bundle.files, dev),
            bundle_uri=URI,
            recorded_sha256=hashlib.sha256(archive_bytes(bundle)).hexdigest(),
            allow_dev_key=True,
        )
        == "v24.1.0"
    )
