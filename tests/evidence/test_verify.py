"""Tamper tests: every change to a bundle fails verification and names what failed."""

from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.evidence.conftest import OTHER_RC, RC, BuildBundle, evidence_files, outcomes
from verification_pipeline.errors import InputError, VerificationFailed
from verification_pipeline.evidence.bundle import EvidenceBundle
from verification_pipeline.evidence.bundle_io import ReadLimits, archive_bytes, read_archive, read_bundle
from verification_pipeline.evidence.dsse import sign_envelope
from verification_pipeline.evidence.keys import SigningKey
from verification_pipeline.evidence.layout import expected_files
from verification_pipeline.evidence.statements import EXTENSION, canonical_json
from verification_pipeline.evidence.verify import verify_files, verify_path

ALL_FILES = sorted({*expected_files("v24.1"), "lineage.json", "manifest.json", "attestations.intoto.jsonl"})


@pytest.fixture(scope="module")
def trusted(signing_key: SigningKey) -> Ed25519PublicKey:
    return signing_key.public_key


def _fails(
    path: Path, trusted: Ed25519PublicKey, pattern: str | None = None, **kwargs: object
) -> VerificationFailed:
    with pytest.raises(VerificationFailed, match=pattern) as caught:
        verify_path(path, trusted, **kwargs)  # type: ignore[arg-type]
    assert caught.value.exit_code == 1
    return caught.value


# --- untouched bundles verify ---------------------------------------------------------------------


def test_untouched_bundle_verifies_from_directory_archive_and_mapping(
    bundle: EvidenceBundle, bundle_dir: Path, bundle_archive: Path, trusted: Ed25519PublicKey
) -> None:
    for report in (
        verify_path(bundle_dir, trusted),
        verify_path(bundle_dir.parent.parent, trusted, expected_rc=RC.tag),  # the directory above evidence/
        verify_path(bundle_archive, trusted, expected_rc=RC.tag),
        verify_files(bundle.files, trusted, source="memory"),
    ):
        assert report.release_candidate == RC.as_json()
        assert report.verdict == "PASS" and report.result == "PASSED"
        assert report.files == len(ALL_FILES) - 1
        assert report.run_id == bundle.run_id and not report.dev_key
        assert report.key_fingerprint == bundle.key_fingerprint


def test_incomplete_and_failed_bundles_verify_and_report_their_verdict(
    build_bundle: BuildBundle, trusted: Ed25519PublicKey
) -> None:
    files = evidence_files()
    del files["slo/fanout.json"]
    report = verify_files(build_bundle(files=files).files, trusted)
    assert report.verdict == "INCOMPLETE" and report.missing_files == ("slo/fanout.json",)
    assert any("missing evidence" in line for line in report.summary_lines())
    assert verify_files(build_bundle(gates=outcomes("FAIL")).files, trusted).verdict == "FAIL"


# --- files changed, deleted, added ----------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_FILES)
def test_one_changed_byte_in_any_file_fails_naming_it(
    name: str, bundle_dir: Path, trusted: Ed25519PublicKey
) -> None:
    path = bundle_dir / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    error = _fails(bundle_dir, trusted)
    assert str(error).startswith(name)


@pytest.mark.parametrize("name", ALL_FILES)
def test_deleting_any_file_fails_naming_it(name: str, bundle_dir: Path, trusted: Ed25519PublicKey) -> None:
    (bundle_dir / name).unlink()
    error = _fails(bundle_dir, trusted, "missing")
    assert str(error).startswith(name)


@pytest.mark.parametrize("name", ["notes.txt", "slo/extra.json", "raw/read.parquet.bak"])
def test_an_added_file_fails_as_extra(name: str, bundle_dir: Path, trusted: Ed25519PublicKey) -> None:
    (bundle_dir / name).write_bytes(b"{}")
    _fails(bundle_dir, trusted, f"^{name}: extra file, not a subject")


def test_symlink_in_a_bundle_directory_fails(bundle_dir: Path, trusted: Ed25519PublicKey) -> None:
    (bundle_dir / "slo" / "link.json").symlink_to("/etc/hostname")
    _fails(bundle_dir, trusted, r"slo/link\.json: is a symbolic link")


# --- signatures and the release candidate --------------------------------------------------------


def test_bundle_signed_with_another_key_fails(
    build_bundle: BuildBundle, other_signing_key: SigningKey, trusted: Ed25519PublicKey
) -> None:
    with pytest.raises(VerificationFailed, match="line 1: no signature verifies with the trusted public key"):
        verify_files(build_bundle(key=other_signing_key).files, trusted)


def test_resigned_with_another_key_claiming_the_trusted_keyid_fails(
    bundle: EvidenceBundle, bundle_dir: Path, other_signing_key: SigningKey, trusted: Ed25519PublicKey
) -> None:
    lines = []
    for line in (bundle_dir / "attestations.intoto.jsonl").read_bytes().splitlines():
        envelope = json.loads(line)
        forged = sign_envelope(base64.b64decode(envelope["payload"]), other_signing_key)
        forged["signatures"][0]["keyid"] = bundle.key_fingerprint
        lines.append(canonical_json(forged))
    (bundle_dir / "attestations.intoto.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    _fails(bundle_dir, trusted, "line 1: no signature verifies")


def test_attestations_swapped_in_from_another_rc_fail(
    build_bundle: BuildBundle, bundle_dir: Path, trusted: Ed25519PublicKey
) -> None:
    other = build_bundle(rc=OTHER_RC)
    (bundle_dir / "attestations.intoto.jsonl").write_bytes(other.files["attestations.intoto.jsonl"])
    _fails(bundle_dir, trusted, r"signed for 'v24\.1\.0-rc2', not 'v24\.1\.0-rc1'", expected_rc=RC.tag)
    # Without --rc, the signed subjects still do not match this bundle's files.
    _fails(bundle_dir, trusted, r"^lineage\.json: sha256 .* does not match the signed subject")


def test_one_statement_swapped_in_from_another_rc_fails(
    build_bundle: BuildBundle, bundle_dir: Path, trusted: Ed25519PublicKey
) -> None:
    other_lines = build_bundle(rc=OTHER_RC).files["attestations.intoto.jsonl"].splitlines()
    own_lines = (bundle_dir / "attestations.intoto.jsonl").read_bytes().splitlines()
    (bundle_dir / "attestations.intoto.jsonl").write_bytes(other_lines[0] + b"\n" + own_lines[1] + b"\n")
    _fails(
        bundle_dir,
        trusted,
        r"test result is for 'v24\.1\.0-rc2' .* but the provenance is for 'v24\.1\.0-rc1'",
    )


def test_whole_bundle_of_another_rc_fails_when_the_rc_is_given(
    build_bundle: BuildBundle, trusted: Ed25519PublicKey
) -> None:
    with pytest.raises(VerificationFailed, match=r"releaseCandidate\.tag\]: signed for 'v24\.1\.0-rc2'"):
        verify_files(build_bundle(rc=OTHER_RC).files, trusted, expected_rc=RC.tag)


def test_an_extra_statement_of_another_predicate_type_is_ignored_as_the_bundle_spec_says(
    bundle: EvidenceBundle, signing_key: SigningKey, trusted: Ed25519PublicKey
) -> None:
    extra = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [],
        "predicateType": "https://x/y",
        "predicate": {},
    }
    files = dict(bundle.files)
    files["attestations.intoto.jsonl"] += (
        canonical_json(sign_envelope(canonical_json(extra), signing_key)) + b"\n"
    )
    assert verify_files(files, trusted).verdict == "PASS"


def _resigned(
    bundle: EvidenceBundle, signing_key: SigningKey, edit: Callable[[dict], None]
) -> dict[str, bytes]:
    """The bundle with its test-result statement edited and signed again by the trusted key."""
    files = dict(bundle.files)
    lines = files["attestations.intoto.jsonl"].splitlines()
    statement = json.loads(base64.b64decode(json.loads(lines[0])["payload"]))
    edit(statement["predicate"])
    lines[0] = canonical_json(sign_envelope(canonical_json(statement), signing_key))
    files["attestations.intoto.jsonl"] = b"\n".join(lines) + b"\n"
    return files


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda p: p.update(result="FAILED"),
            r"\[test-result predicate\.result\]: 'FAILED' contradicts the verdict PASS",
        ),
        (lambda p: p.pop("result"), r"\[test-result predicate\.result\]: missing"),
        (lambda p: p.update(result="OK"), r"\[test-result predicate\.result\]: 'OK'"),
        (
            lambda p: p[EXTENSION].update(verdict="MAYBE"),
            r"release-verification:v1\.verdict\]: 'MAYBE'",
        ),
    ],
    ids=["contradicting", "missing", "unknown-result", "unknown-verdict"],
)
def test_a_signed_result_that_contradicts_the_verdict_fails(
    edit: Callable[[dict], None],
    message: str,
    bundle: EvidenceBundle,
    signing_key: SigningKey,
    trusted: Ed25519PublicKey,
) -> None:
    with pytest.raises(VerificationFailed, match=message):
        verify_files(_resigned(bundle, signing_key, edit), trusted)


@pytest.mark.parametrize(
    "line",
    [b"1" * 4301, b"[" * 100_000, b'{"payloadType": "\\ud800"}', b"\xff"],
    ids=["huge-int", "deep", "lone-surrogate", "not-utf8"],
)
def test_an_undecodable_attestation_line_fails_naming_it(
    line: bytes, bundle: EvidenceBundle, trusted: Ed25519PublicKey
) -> None:
    files = dict(bundle.files)
    files["attestations.intoto.jsonl"] = line + b"\n" + files["attestations.intoto.jsonl"]
    with pytest.raises(VerificationFailed, match=r"^attestations\.intoto\.jsonl line 1"):
        verify_files(files, trusted)


def test_a_dropped_statement_fails(bundle: EvidenceBundle, trusted: Ed25519PublicKey) -> None:
    files = dict(bundle.files)
    files["attestations.intoto.jsonl"] = files["attestations.intoto.jsonl"].splitlines(keepends=True)[0]
    with pytest.raises(VerificationFailed, match="no signed https://slsa.dev/provenance/v1 statement"):
        verify_files(files, trusted)


# --- archives --------------------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, -30, -1])
def test_truncated_archive_fails(keep: float, bundle_archive: Path, trusted: Ed25519PublicKey) -> None:
    data = bundle_archive.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    bundle_archive.write_bytes(data[:cut])
    error = _fails(bundle_archive, trusted)
    assert str(error).startswith(str(bundle_archive))


def test_garbage_after_the_archive_fails(bundle_archive: Path, trusted: Ed25519PublicKey) -> None:
    bundle_archive.write_bytes(bundle_archive.read_bytes() + b"more")
    _fails(bundle_archive, trusted, "unexpected data after the end of the gzip stream")


def _archive_with(bundle: EvidenceBundle, add: Callable[[tarfile.TarFile], None], path: Path) -> Path:
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name in sorted(bundle.files):
            info = tarfile.TarInfo(f"evidence/v24.1/{name}")
            info.size = len(bundle.files[name])
            tar.addfile(info, io.BytesIO(bundle.files[name]))
        add(tar)
    path.write_bytes(raw.getvalue())
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", linkname: str = ""):
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if data else None)

    return add


@pytest.mark.parametrize(
    ("add", "message"),
    [
        (_member("evidence/v24.1/../../../tmp/evil", data=b"x"), r"'\.\.' path segment"),
        (_member("/etc/evil", data=b"x"), "not a relative POSIX path"),
        (
            _member("evidence/v24.1/slo/link.json", tarfile.SYMTYPE, linkname="/etc/passwd"),
            "link or special file",
        ),
        (
            _member("evidence/v24.1/slo/hard.json", tarfile.LNKTYPE, linkname="/etc/passwd"),
            "link or special file",
        ),
        (_member("evidence/v24.1/dev", tarfile.CHRTYPE), "link or special file"),
        (_member("evidence/v24.1/fifo", tarfile.FIFOTYPE), "link or special file"),
        (_member("evidence/v24.1/slo/read.json", data=b"{}"), "appears twice"),
        (_member("elsewhere/file.json", data=b"{}"), r"outside evidence/<version>/"),
        (_member("evidence/v99/file.json", data=b"{}"), r"outside the bundle root evidence/v24\.1/"),
    ],
    ids=["dotdot", "absolute", "symlink", "hardlink", "device", "fifo", "duplicate", "outside", "other-root"],
)
def test_hostile_archive_members_fail_naming_the_member(
    add: Callable[[tarfile.TarFile], None],
    message: str,
    bundle: EvidenceBundle,
    tmp_path: Path,
    trusted: Ed25519PublicKey,
) -> None:
    path = _archive_with(bundle, add, tmp_path / "hostile.tar.gz")
    error = _fails(path, trusted, message)
    assert str(path) in str(error)
    assert not (tmp_path / "evil").exists() and not Path("/tmp/evil").exists()


def test_archive_size_limits_are_enforced(bundle_archive: Path, tmp_path: Path) -> None:
    with pytest.raises(VerificationFailed, match="over the 1000-byte limit per file"):
        read_bundle(bundle_archive, ReadLimits(max_file_bytes=1000))
    with pytest.raises(VerificationFailed, match="more than 5 files"):
        read_bundle(bundle_archive, ReadLimits(max_files=5))
    with pytest.raises(VerificationFailed, match="the bundle exceeds 1000 bytes in total"):
        read_bundle(bundle_archive, ReadLimits(max_total_bytes=1000))


def test_a_gzip_bomb_stops_at_the_limit(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(gzip.compress(b"\0" * (64 << 20)))
    with pytest.raises(VerificationFailed, match="decompresses to more than"):
        read_bundle(bomb, ReadLimits(max_files=10, max_total_bytes=1 << 20))


def test_archive_written_by_us_reads_back_exactly(bundle: EvidenceBundle) -> None:
    read = read_archive(io.BytesIO(archive_bytes(bundle)), source="mem")
    assert read.files == dict(bundle.files) and read.root_version == "v24.1"


# --- bad input is not a failed verification ----------------------------------------------------------


def test_missing_path_and_wrong_kind_of_file_are_bad_input(tmp_path: Path, trusted: Ed25519PublicKey) -> None:
    with pytest.raises(InputError, match="does not exist") as missing:
        verify_path(tmp_path / "nope", trusted)
    assert missing.value.exit_code == 2
    (tmp_path / "bundle.zip").write_bytes(b"PK")
    with pytest.raises(InputError, match="neither a bundle directory nor a .tar.gz"):
        verify_path(tmp_path / "bundle.zip", trusted)
