"""The tamper suite: each hostile change to a real bundle makes `verify` exit 1 naming the file or field.

Every case starts from a bundle the pipeline's own code assembled and signed (conftest), is
changed the way an attacker would change it, and goes through the command line (`main`), so
the exit code is the one a person or a CI job sees.
"""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
from pathlib import Path

import pytest

from tests.evidence.conftest import RC
from verification_pipeline.cli import main
from verification_pipeline.evidence.bundle import EvidenceBundle
from verification_pipeline.evidence.bundle_io import archive_bytes, write_directory
from verification_pipeline.evidence.keys import KeyPairFiles


def verify(capsys: pytest.CaptureFixture[str], path: Path, key: Path, *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["verify", str(path), "--public-key", str(key), *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _tar_gz(members: list[tuple[str, bytes]], *, after_end: list[tuple[str, bytes]] = ()) -> bytes:
    """A tar.gz of `members`; `after_end` members are appended after the end-of-archive marker,
    as `cat bundle.tar extra.tar` or a hand-edited archive would put them."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    raw = tar_bytes.getvalue()
    if after_end:
        extra = io.BytesIO()
        with tarfile.open(fileobj=extra, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in after_end:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        raw += extra.getvalue()
    return gzip.compress(raw, mtime=0)


def _members(bundle: EvidenceBundle, root: str = "evidence/v24.1") -> list[tuple[str, bytes]]:
    return [(f"{root}/{name}", bundle.files[name]) for name in sorted(bundle.files)]


# --- hole 1: the directory given is the bundle ----------------------------------------------------


def test_an_untouched_nested_copy_does_not_hide_changed_outer_files(
    capsys, bundle: EvidenceBundle, tmp_path: Path, key_pair: KeyPairFiles
) -> None:
    outer = write_directory(bundle, tmp_path / "outer")
    shutil.copytree(outer, outer / "evidence" / "v24.1")  # the untouched copy, inside the bundle
    (outer / "slo" / "read.json").write_bytes(b'{"p95_ms": 1}\n')  # what a reader sees
    code, out = verify(capsys, outer, key_pair.public_key)
    assert code == 1
    assert "slo/read.json: sha256" in out or "evidence/v24.1/" in out


def test_a_directory_holding_only_evidence_version_is_read_from_there(
    capsys, bundle: EvidenceBundle, tmp_path: Path, key_pair: KeyPairFiles
) -> None:
    write_directory(bundle, tmp_path / "above")
    assert verify(capsys, tmp_path / "above", key_pair.public_key, "--rc", RC.tag)[0] == 0


def test_a_directory_with_anything_beside_evidence_is_taken_as_the_bundle_itself(
    capsys, bundle: EvidenceBundle, tmp_path: Path, key_pair: KeyPairFiles
) -> None:
    write_directory(bundle, tmp_path / "above")
    (tmp_path / "above" / "notes.txt").write_text("hello")
    code, out = verify(capsys, tmp_path / "above", key_pair.public_key)
    assert code == 1 and "attestations.intoto.jsonl: missing" in out


# --- hole 2: nothing after the tar end-of-archive marker ------------------------------------------


def test_a_member_appended_after_the_end_of_archive_marker_fails(
    capsys, bundle: EvidenceBundle, tmp_path: Path, key_pair: KeyPairFiles
) -> None:
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(
        _tar_gz(_members(bundle), after_end=[("evidence/v24.1/slo/read.json", b'{"p95_ms": 1}\n')])
    )
    with tarfile.open(path, ignore_zeros=True) as tar:  # what GNU tar lists and extracts
        assert tar.getnames().count("evidence/v24.1/slo/read.json") == 2
    code, out = verify(capsys, path, key_pair.public_key)
    assert code == 1 and f"{path}: data after the tar end-of-archive marker" in out


def test_zero_padding_after_the_end_of_archive_marker_is_fine(
    capsys, bundle: EvidenceBundle, tmp_path: Path, key_pair: KeyPairFiles
) -> None:
    path = tmp_path / "bundle.tar.gz"
    raw = gzip.decompress(archive_bytes(bundle)) + b"\0" * 20480
    path.write_bytes(gzip.compress(raw, mtime=0))
    assert verify(capsys, path, key_pair.public_key)[0] == 0


# --- hole 3: the stored version is the signed version ---------------------------------------------


def test_an_archive_under_another_version_root_fails(
    capsys, bundle: EvidenceBundle, tmp_path: Path, key_pair: KeyPairFiles
) -> None:
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(_tar_gz(_members(bundle, root="evidence/v99")))
    code, out = verify(capsys, path, key_pair.public_key)
    assert code == 1 and "stored under evidence/v99/ but signed for version 'v24.1'" in out


def test_a_directory_under_another_version_fails(
    capsys, bundle: EvidenceBundle, tmp_path: Path, key_pair: KeyPairFiles
) -> None:
    root = write_directory(bundle, tmp_path / "above")
    root.rename(root.parent / "v99")
    code, out = verify(capsys, tmp_path / "above", key_pair.public_key)
    assert code == 1 and "stored under evidence/v99/ but signed for version 'v24.1'" in out


# --- hole 9: bombs are refused from the member header, before any of the data is unpacked ---------


def test_a_member_claiming_gigabytes_is_refused_before_its_data_is_read(
    capsys, bundle: EvidenceBundle, tmp_path: Path, key_pair: KeyPairFiles
) -> None:
    header = tarfile.TarInfo("evidence/v24.1/slo/huge.json")
    header.size = 3 << 30
    raw = header.tobuf(format=tarfile.PAX_FORMAT) + b"\0" * (1 << 20)  # the rest never arrives
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(gzip.compress(raw, mtime=0))
    code, out = verify(capsys, path, key_pair.public_key)
    assert code == 1 and "slo/huge.json: 3221225472 bytes is over the 268435456-byte limit per file" in out
