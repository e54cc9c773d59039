"""Round two of the hostile reader, beside the tamper suite: a trusted signer's consistent fields
still verify (its contradictions are in test_tamper's CONTRADICTIONS, run through
`verify --rc --require-pass`), a key file holding more than one key, a baseline nobody verified,
and the smaller reading cases (multi-member gzip, capped tar headers, files opened once)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from tests.evidence.conftest import RC, BuildBundle, evidence_files
from tests.evidence.test_tamper import _params, _write, resigned, verify
from verification_pipeline.cli import main
from verification_pipeline.errors import InputError, VerificationFailed
from verification_pipeline.evidence.bundle import EvidenceBundle
from verification_pipeline.evidence.bundle_io import (
    MAX_HEADER_BYTES,
    archive_bytes,
    read_archive,
    read_directory,
    write_directory,
)
from verification_pipeline.evidence.keys import KeyPairFiles, SigningKey, load_public_key_pem
from verification_pipeline.evidence.statements import EXTENSION
from verification_pipeline.evidence.verify import verify_files


def test_a_consistent_service_build_and_commit_verify(
    capsys, bundle: EvidenceBundle, signing_key: SigningKey, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    """The checks above refuse contradictions, not the fields: the same fields, consistent, pass."""

    def consistent(t: dict, p: dict) -> None:
        _params(p).update(
            commit=RC.commit,
            serviceBuild={
                "expectedCommit": RC.commit,
                "reportedCommit": RC.commit,
                "source": "http://x/version",
                "verified": True,
                "waiver": None,
            },
        )
        t["predicate"][EXTENSION]["gates"].append(
            {"name": "service:build", "verdict": "PASS", "reason": "ok"}
        )
        t["predicate"]["passedTests"].append("service:build")
        for statement in (t, p):
            for subject in statement["subject"]:
                data = bundle.files.get(subject["name"])
                if data is not None and subject["name"] != "manifest.json":
                    subject["digest"]["sha512"] = hashlib.sha512(data).hexdigest()

    root = _write(resigned(bundle, signing_key, edit=consistent), tmp_path / "bundle")
    code, out = verify(capsys, root, key_pair.public_key, "--rc", RC.tag, "--require-pass")
    assert code == 0, out


# --- keys -----------------------------------------------------------------------------------------


def test_a_key_file_with_two_keys_is_refused_even_with_the_trusted_one_second(
    capsys, bundle_dir: Path, key_pair: KeyPairFiles, other_key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    both = tmp_path / "keys.pem"
    both.write_bytes(other_key_pair.public_key.read_bytes() + key_pair.public_key.read_bytes())
    with pytest.raises(InputError, match="holds 2 PEM blocks"):
        load_public_key_pem(both.read_bytes(), source=str(both))
    code, out = verify(capsys, bundle_dir, both, "--rc", RC.tag)
    assert code == 2 and "holds 2 PEM blocks" in out and "signed verdict" not in out


def test_a_key_set_names_every_key_and_the_one_that_signed(
    capsys, bundle_dir: Path, key_pair: KeyPairFiles, other_key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    """With --key-set the same file is meant as a set: each key is trusted and named, and the
    output says which one signed, whatever its place in the file."""
    from verification_pipeline.evidence.keys import load_public_key_pem, public_key_fingerprint

    trusted, other = (
        public_key_fingerprint(load_public_key_pem(k.public_key.read_bytes(), source="k"))
        for k in (key_pair, other_key_pair)
    )
    both = tmp_path / "keys.pem"
    both.write_bytes(other_key_pair.public_key.read_bytes() + key_pair.public_key.read_bytes())
    code, out = verify(capsys, bundle_dir, both, "--rc", RC.tag, "--key-set")
    assert code == 0, out
    assert f"trusted key 1 of 2: {other}\n" in out
    assert f"trusted key 2 of 2: {trusted}  <- signed this bundle" in out
    from tests.evidence.conftest import recompute_for_tests
    from verification_pipeline.audit.recompute import audit_path
    from verification_pipeline.evidence.keys import load_public_keys

    report = audit_path(
        bundle_dir, public_key=load_public_keys(both, key_set=True), recompute=recompute_for_tests
    )
    assert report.verification is not None
    assert report.verification.key_set == (other, trusted)
    assert report.verification.key_fingerprint == trusted


def test_a_key_set_without_the_signer_or_with_a_bad_key_is_refused(
    capsys, bundle_dir: Path, key_pair: KeyPairFiles, other_key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    only_other = tmp_path / "other.pem"
    only_other.write_bytes(other_key_pair.public_key.read_bytes() * 1)
    code, out = verify(capsys, bundle_dir, only_other, "--rc", RC.tag, "--key-set")
    assert code == 1 and "signed by none of the key set's keys (SHA256:" in out, out
    twice = tmp_path / "twice.pem"
    twice.write_bytes(key_pair.public_key.read_bytes() * 2)
    code, out = verify(capsys, bundle_dir, twice, "--key-set")
    assert code == 2 and "key 2 is key 1 again" in out, out
    cut = tmp_path / "cut.pem"
    cut.write_bytes(key_pair.public_key.read_bytes() + b"-----BEGIN PUBLIC KEY-----\nAAAA\n")
    code, out = verify(capsys, bundle_dir, cut, "--key-set")
    assert code == 2 and "without its END line" in out, out


# --- a baseline nobody verified -------------------------------------------------------------------


@pytest.fixture
def two_bundles(build_bundle: BuildBundle, tmp_path: Path) -> tuple[Path, Path]:
    from tests.evidence.conftest import OTHER_RC
    from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH

    baseline = write_directory(build_bundle(), tmp_path / "rc1")
    files = evidence_files(OTHER_RC.version)
    spec = {"spec": {"source": "slos.yaml", "yaml": DEFAULT_SLOS_PATH.read_text()}}
    files["slo/metrics.json"] = json.dumps(spec).encode()
    files["slo/baseline.json"] = json.dumps(
        {"rc": OTHER_RC.tag, "status": "COMPARED", "baseline": {"rc": RC.tag, "commit": RC.commit}}
    ).encode()
    current = write_directory(build_bundle(files=files, rc=OTHER_RC), tmp_path / "rc2")
    return current, baseline


@pytest.mark.parametrize(
    "tamper",
    [
        lambda root: (root / "attestations.intoto.jsonl").unlink(),
        lambda root: (root / "slo" / "metrics.json").write_text("{}"),
        lambda root: (root / "raw" / "read.parquet").write_bytes(
            (root / "raw" / "write.parquet").read_bytes()
        ),
    ],
    ids=["attestations-deleted", "metrics-replaced", "raw-rows-edited"],
)
def test_audit_baseline_verifies_the_baseline_and_names_it(
    tamper, capsys, two_bundles: tuple[Path, Path], key_pair: KeyPairFiles
) -> None:
    current, baseline = two_bundles
    tamper(baseline)
    capsys.readouterr()
    code = main(
        ["audit", str(current), "--public-key", str(key_pair.public_key), "--baseline", str(baseline)]
    )
    out = capsys.readouterr()
    assert code == 1, out
    assert f"error: baseline bundle {baseline}: " in out.err, out.err
    assert "every recorded figure matches" not in out.out


# --- reading --------------------------------------------------------------------------------------


def test_a_multi_member_gzip_is_one_stream(bundle: EvidenceBundle, signing_key: SigningKey) -> None:
    tar = gzip.decompress(archive_bytes(bundle))
    half = len(tar) // 2
    two_members = gzip.compress(tar[:half], mtime=0) + gzip.compress(tar[half:], mtime=0)
    read = read_archive(io.BytesIO(two_members), source="pigz.tar.gz")
    assert verify_files(read.files, signing_key.public_key, expected_rc=RC.tag).verdict == "PASS"
    with pytest.raises(VerificationFailed, match="unexpected data after the end of the gzip stream"):
        read_archive(io.BytesIO(two_members + b"\x1f"), source="x.tar.gz")


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK])
def test_an_extended_header_over_the_cap_is_refused_before_it_is_read(kind: bytes) -> None:
    info = tarfile.TarInfo("././@LongLink")
    info.type, info.size = kind, MAX_HEADER_BYTES + 1
    # the header claims more than the cap; its data is not even there, and need not be
    data = gzip.compress(info.tobuf(format=tarfile.USTAR_FORMAT) + bytes(1024), mtime=0)
    with pytest.raises(
        VerificationFailed, match=rf"x\.tar\.gz: an extended tar header .* {MAX_HEADER_BYTES + 1} bytes"
    ):
        read_archive(io.BytesIO(data), source="x.tar.gz")


def test_a_long_name_within_the_cap_still_reads(bundle: EvidenceBundle) -> None:
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        name = "evidence/v24.1/" + "d/" * 150 + "f.json"
        info = tarfile.TarInfo(name)
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    assert list(read_archive(io.BytesIO(raw.getvalue()), source="long.tar.gz").files) == [
        "d/" * 150 + "f.json"
    ]


def test_a_fifo_or_a_link_in_a_bundle_directory_is_refused_without_blocking(
    bundle_dir: Path, tmp_path: Path
) -> None:
    fifo = bundle_dir / "slo" / "read.json"
    fifo.unlink()
    os.mkfifo(fifo)  # nobody writes it: opening it by name would block a reader
    with pytest.raises(VerificationFailed, match=r"slo/read\.json: is not a regular file"):
        read_directory(bundle_dir)
    fifo.unlink()
    shutil.copy(bundle_dir / "slo" / "write.json", tmp_path / "elsewhere.json")
    fifo.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(VerificationFailed, match=r"slo/read\.json: is a symbolic link"):
        read_directory(bundle_dir)
