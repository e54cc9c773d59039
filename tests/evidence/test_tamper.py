"""The tamper suite: each hostile change to a real bundle makes `verify` exit 1 naming the file or field.

Every case starts from a bundle the pipeline's own code assembled and signed (conftest), is
changed the way an attacker would change it, and goes through the command line (`main`), so
the exit code is the one a person or a CI job sees.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.evidence.conftest import RC, BuildBundle, outcomes
from verification_pipeline.cli import main
from verification_pipeline.evidence.bundle import EvidenceBundle
from verification_pipeline.evidence.bundle_io import archive_bytes, write_directory
from verification_pipeline.evidence.dsse import sign_envelope
from verification_pipeline.evidence.keys import KeyPairFiles, SigningKey
from verification_pipeline.evidence.layout import ATTESTATIONS, sha256_hex
from verification_pipeline.evidence.statements import EXTENSION, canonical_json, subjects


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


# --- a producer that contradicts itself, signed with the trusted key (holes 4, 5) ----------------


def _statements(files: dict[str, bytes]) -> list[dict]:
    return [
        json.loads(base64.b64decode(json.loads(line)["payload"]))
        for line in files[ATTESTATIONS].splitlines()
        if line.strip()
    ]


def resigned(
    bundle: EvidenceBundle,
    key: SigningKey,
    *,
    edit_files: Callable[[dict[str, bytes]], None] = lambda files: None,
    edit: Callable[[dict, dict], None] = lambda test_result, provenance: None,
) -> dict[str, bytes]:
    """The bundle with files and/or statements changed, its subjects recomputed and signed again by
    the trusted key: everything a signature can prove still holds, only the content lies."""
    files = dict(bundle.files)
    edit_files(files)
    changed = {n for n in files if n != "manifest.json" and files[n] != bundle.files[n]}
    if changed:  # a consistent producer lists the changed files' digests in its manifest
        manifest = json.loads(files["manifest.json"])
        for entry in manifest["files"]:
            if entry["name"] in changed:
                entry.update(sha256=sha256_hex(files[entry["name"]]), size=len(files[entry["name"]]))
        files["manifest.json"] = json.dumps(manifest).encode()
    test_result, provenance = _statements(files)
    digests = subjects({n: sha256_hex(d) for n, d in files.items() if n != ATTESTATIONS})
    test_result["subject"] = provenance["subject"] = digests
    edit(test_result, provenance)
    files[ATTESTATIONS] = b"".join(
        canonical_json(sign_envelope(canonical_json(s), key)) + b"\n" for s in (test_result, provenance)
    )
    return files


def _json_edit(name: str, change: Callable[[dict], None]) -> Callable[[dict[str, bytes]], None]:
    def edit(files: dict[str, bytes]) -> None:
        document = json.loads(files[name])
        change(document)
        files[name] = json.dumps(document).encode()

    return edit


def _manifest_size(document: dict) -> None:
    next(e for e in document["files"] if e["name"] == "slo/read.json")["size"] += 1


def _lineage_output(document: dict) -> None:
    next(o for o in document["outputs"] if o["name"] == "slo/read.json")["sha256"] = "0" * 64


def _both_rcs(change: Callable[[dict], None]) -> Callable[[dict, dict], None]:
    def edit(test_result: dict, provenance: dict) -> None:
        change(test_result["predicate"][EXTENSION]["releaseCandidate"])
        change(provenance["predicate"]["buildDefinition"]["externalParameters"]["releaseCandidate"])

    return edit


_BUILD = "buildDefinition"


def _params(provenance: dict) -> dict:
    return provenance["predicate"][_BUILD]["externalParameters"]


def _read_gate(test_result: dict) -> dict:
    return test_result["predicate"][EXTENSION]["gates"][0]


def _sha512_beside(test_result: dict, provenance: dict) -> None:
    for statement in (test_result, provenance):
        for subject in statement["subject"]:
            if subject["name"] == "slo/read.json":
                subject["digest"]["sha512"] = "0" * 128


_SIGNER_CONTRADICTIONS = {
    "commit-parameter": (
        lambda t, p: _params(p).update(commit="a" * 40),
        r"externalParameters\.commit\]: 'aaaa.*' is not the signed RC's commit",
    ),
    "service-build-two-commits-verified": (
        lambda t, p: _params(p).update(
            serviceBuild={
                "expectedCommit": RC.commit,
                "reportedCommit": "b" * 40,
                "source": "http://x/version",
                "verified": True,
                "waiver": None,
            }
        ),
        r"serviceBuild\.verified\]: true, although the service reported 'bbbb",
    ),
    "gate-9999-ms-against-350-pass": (
        lambda t, p: _read_gate(t).update(value=9999.0, ci_low=9000.0, ci_high=10500.0),
        r"gates\.0\.verdict\]: slo:read_p95 is signed PASS, but its signed figures make it FAIL",
    ),
    "gate-value-above-threshold-without-bounds": (
        lambda t, p: (
            [_read_gate(t).pop(k) for k in ("ci_low", "ci_high")] and _read_gate(t).update(value=9999.0)
        ),
        r"slo:read_p95 is signed PASS, but its signed figures make it",
    ),
    "url-of-another-rc": (
        lambda t, p: t["predicate"].update(url="s3://evidence/verification/v24.1.0-rc2/run/evidence/v24.1/"),
        r"\[test-result predicate\.url\]: .* is not the bundle of v24\.1\.0-rc1",
    ),
    "wrong-sha512-beside-right-sha256": (
        _sha512_beside,
        r"slo/read\.json: sha512 .* does not match the signed subject",
    ),
    "unknown-digest-algorithm": (
        lambda t, p: [
            s["digest"].update(whirlpool="ab")
            for statement in (t, p)
            for s in statement["subject"]
            if s["name"] == "slo/read.json"
        ],
        r"slo/read\.json\.digest\.whirlpool: an algorithm this verifier cannot check",
    ),
    "no-release-candidate": (
        lambda t, p: t["predicate"][EXTENSION].pop("releaseCandidate"),
        r"release-verification:v1\.releaseCandidate\]: missing",
    ),
}


CONTRADICTIONS = {
    "pass-with-failed-tests": (
        {"edit": lambda t, p: t["predicate"]["failedTests"].append("slo:read_p95")},
        r"\[test-result predicate\.failedTests\]: .* does not follow from the signed gates",
    ),
    "pass-with-a-failing-gate": (
        {
            "edit": lambda t, p: t["predicate"][EXTENSION]["gates"][0].update(
                verdict="FAIL", value=401.0, ci_low=380.0, ci_high=430.0
            )
        },
        r"verdict\]: PASS although its gates and missing files make it FAIL",
    ),
    "no-configuration": (
        {"edit": lambda t, p: t["predicate"].pop("configuration")},
        r"\[test-result predicate\.configuration\]: missing",
    ),
    "no-extension": (
        {"edit": lambda t, p: t["predicate"].pop(EXTENSION)},
        r"release-verification:v1\]: missing",
    ),
    "no-build-type": (
        {"edit": lambda t, p: p["predicate"]["buildDefinition"].pop("buildType")},
        r"\[provenance predicate\.buildDefinition\.buildType\]: missing",
    ),
    "no-run-details": (
        {"edit": lambda t, p: p["predicate"].pop("runDetails")},
        r"\[provenance predicate\.runDetails\]: missing",
    ),
    "empty-commit": (
        {"edit": _both_rcs(lambda rc: rc.update(commit=""))},
        r"releaseCandidate\]: .*'' is not a full git commit id",
    ),
    "no-commit": (
        {"edit": _both_rcs(lambda rc: rc.pop("commit"))},
        r"releaseCandidate\.commit\]: missing",
    ),
    "commits-differ": (
        {"edit": lambda t, p: t["predicate"][EXTENSION]["releaseCandidate"].update(commit="a" * 40)},
        r"\[releaseCandidate\]: the test result is for .* but the provenance is for",
    ),
    "manifest-size": (
        {"edit_files": _json_edit("manifest.json", _manifest_size)},
        r"manifest\.json \[files\.slo/read\.json\.size\]",
    ),
    "manifest-run-id": (
        {"edit_files": _json_edit("manifest.json", lambda m: m.update(runId="another-run"))},
        r"manifest\.json \[runId\]: 'another-run' is not the signed invocationId",
    ),
    "manifest-signing-key": (
        {
            "edit_files": _json_edit(
                "manifest.json", lambda m: m["signingKey"].update(fingerprint="SHA256:00")
            )
        },
        r"manifest\.json \[signingKey\.fingerprint\]",
    ),
    "manifest-dev-key-flag": (
        {"edit_files": _json_edit("manifest.json", lambda m: m["signingKey"].update(devKey="no"))},
        r"manifest\.json \[signingKey\.devKey\]",
    ),
    "lineage-run-id": (
        {"edit_files": _json_edit("lineage.json", lambda m: m.update(runId="another-run"))},
        r"lineage\.json \[runId\]",
    ),
    "lineage-rc": (
        {"edit_files": _json_edit("lineage.json", lambda m: m["releaseCandidate"].update(tag="v9.9.9-rc1"))},
        r"lineage\.json \[releaseCandidate\]",
    ),
    "lineage-output-digest": (
        {"edit_files": _json_edit("lineage.json", _lineage_output)},
        r"lineage\.json \[outputs\.slo/read\.json\]",
    ),
    "lineage-inputs": (
        {"edit_files": _json_edit("lineage.json", lambda m: m["inputs"].pop())},
        r"lineage\.json \[inputs\]: differ from the signed resolvedDependencies",
    ),
    "lineage-not-an-object": (
        {"edit_files": lambda files: files.update({"lineage.json": b'"a string"'})},
        r"lineage\.json: not a JSON object",
    ),
}


# a trusted signer that contradicts itself elsewhere than in its verdict (round two of the hostile reader)
CONTRADICTIONS.update(
    {name: ({"edit": edit}, message) for name, (edit, message) in _SIGNER_CONTRADICTIONS.items()}
)


@pytest.mark.parametrize(("change", "message"), CONTRADICTIONS.values(), ids=CONTRADICTIONS.keys())
def test_signed_content_that_contradicts_itself_fails_naming_the_field(
    change: dict,
    message: str,
    capsys,
    bundle: EvidenceBundle,
    signing_key: SigningKey,
    key_pair: KeyPairFiles,
    tmp_path: Path,
) -> None:
    files = resigned(bundle, signing_key, **change)
    root = _write(files, tmp_path / "bundle")
    code, out = verify(capsys, root, key_pair.public_key, "--rc", RC.tag, "--require-pass")
    assert code == 1 and "signed verdict" not in out, out
    assert re.search(message, out), out


def _write(files: dict[str, bytes], root: Path) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_the_resigning_helper_itself_leaves_a_verifiable_bundle(
    capsys, bundle: EvidenceBundle, signing_key: SigningKey, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    root = _write(resigned(bundle, signing_key), tmp_path / "bundle")
    assert verify(capsys, root, key_pair.public_key)[0] == 0


# --- hole 6: DSSE and in-toto bundle conformance --------------------------------------------------


def _with_attestations(bundle: EvidenceBundle, tmp_path: Path, change: Callable[[list[bytes]], list[bytes]]):
    files = dict(bundle.files)
    files[ATTESTATIONS] = b"\n".join(change(files[ATTESTATIONS].splitlines())) + b"\n"
    return _write(files, tmp_path / "bundle")


def _malformed_signature_first(lines: list[bytes]) -> list[bytes]:
    out = []
    for line in lines:
        envelope = json.loads(line)
        envelope["signatures"] = [{"keyid": "x", "sig": "%%%"}, {"sig": 7}, *envelope["signatures"]]
        out.append(canonical_json(envelope))
    return out


def _foreign_attestation(key: SigningKey) -> bytes:
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "x", "digest": {"sha256": "0" * 64}}],
        "predicateType": "https://spdx.dev/Document",
        "predicate": {},
    }
    return canonical_json(sign_envelope(canonical_json(statement), key))


def test_conformant_extras_do_not_break_verification(
    capsys, bundle: EvidenceBundle, other_signing_key: SigningKey, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    for change in (
        _malformed_signature_first,
        lambda lines: [b"", lines[0], b"   ", lines[1], b""],
        lambda lines: [_foreign_attestation(other_signing_key), *lines],
    ):
        root = _with_attestations(bundle, tmp_path, change)
        code, out = verify(capsys, root, key_pair.public_key)
        assert code == 0, out
        shutil.rmtree(root)


def test_a_second_statement_of_our_type_fails(
    capsys, bundle: EvidenceBundle, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    root = _with_attestations(bundle, tmp_path, lambda lines: [lines[0], *lines])
    code, out = verify(capsys, root, key_pair.public_key)
    assert code == 1 and "line 2 [predicateType]: a second https://in-toto.io/attestation/test-result" in out


# --- verify --require-pass ------------------------------------------------------------------------


def test_require_pass_accepts_only_a_signed_pass(
    capsys, bundle: EvidenceBundle, build_bundle: BuildBundle, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    passing = write_directory(bundle, tmp_path / "pass")
    code, out = verify(capsys, passing, key_pair.public_key, "--rc", RC.tag, "--require-pass")
    assert code == 0 and out.startswith("signed verdict: PASS")
    failing = write_directory(build_bundle(gates=outcomes("FAIL")), tmp_path / "fail")
    code, out = verify(capsys, failing, key_pair.public_key)
    assert code == 0 and out.startswith("signed verdict: FAIL")  # plain verify: integrity only
    code, out = verify(capsys, failing, key_pair.public_key, "--rc", RC.tag, "--require-pass")
    assert code == 1 and "its signed verdict is FAIL, not PASS" in out


def test_require_pass_without_rc_is_a_usage_error(
    capsys, bundle: EvidenceBundle, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    """Without --rc, rc1's signed PASS stored under rc2's name would pass rc2's release gate."""
    replay = write_directory(bundle, tmp_path / "v24.1.0-rc2")
    code, out = verify(capsys, replay, key_pair.public_key, "--require-pass")
    assert code == 2 and "--require-pass needs --rc" in out and "signed verdict" not in out


# --- the earlier cases, through the command line --------------------------------------------------

FILE_KINDS = [
    "slo/read.json",
    "raw/read.parquet",
    "ops/alerts/slo-burn-rate.yaml",
    "release/PR_BODY_v24.1.md",
    "manifest.json",
    "lineage.json",
    ATTESTATIONS,
]


@pytest.mark.parametrize("name", FILE_KINDS)
def test_a_flipped_byte_in_each_kind_of_file_fails_naming_it(
    name: str, capsys, bundle_dir: Path, key_pair: KeyPairFiles
) -> None:
    data = bytearray((bundle_dir / name).read_bytes())
    data[len(data) // 3] ^= 0x20
    (bundle_dir / name).write_bytes(bytes(data))
    code, out = verify(capsys, bundle_dir, key_pair.public_key)
    assert code == 1 and f"error: {name}" in out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda root: (root / "slo/fanout.json").unlink(), "error: slo/fanout.json: missing"),
        (lambda root: (root / "slo/new.json").write_text("{}"), "error: slo/new.json: extra file"),
        (
            lambda root: (root / "slo/link.json").symlink_to(root / "slo/read.json"),
            "slo/link.json: is a symbolic link",
        ),
    ],
    ids=["missing", "extra", "symlink"],
)
def test_missing_extra_and_linked_files_fail(
    change, message, capsys, bundle_dir: Path, key_pair: KeyPairFiles
):
    change(bundle_dir)
    code, out = verify(capsys, bundle_dir, key_pair.public_key)
    assert code == 1 and message in out


def test_resigned_with_another_key_fails(
    capsys, bundle: EvidenceBundle, other_signing_key: SigningKey, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    root = _write(resigned(bundle, other_signing_key), tmp_path / "bundle")
    code, out = verify(capsys, root, key_pair.public_key)
    assert code == 1 and "line 1: no signature verifies with the trusted public key" in out


def test_statements_mixed_from_two_runs_fail(
    capsys, bundle: EvidenceBundle, build_bundle: BuildBundle, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    other = build_bundle(run_id="9c1d0e2f-2222-4e3b-8c1d-7e6f5d4c3b21")
    files = dict(bundle.files)
    files[ATTESTATIONS] = (
        bundle.files[ATTESTATIONS].splitlines()[0] + b"\n" + other.files[ATTESTATIONS].splitlines()[1] + b"\n"
    )
    code, out = verify(capsys, _write(files, tmp_path / "b"), key_pair.public_key)
    assert code == 1 and "the two statements list different subjects" in out


def _tar_member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", linkname: str = ""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, len(data)
    return info, data


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (_tar_member("evidence/v24.1/../../x", data=b"x"), r"'\.\.' path segment"),
        (_tar_member("/abs/x", data=b"x"), "not a relative POSIX path"),
        (
            _tar_member("evidence/v24.1/h", tarfile.LNKTYPE, linkname="evidence/v24.1/slo/read.json"),
            "link or special",
        ),
        (_tar_member("evidence/v24.1/slo/read.json", data=b"{}"), "appears twice"),
    ],
    ids=["dotdot", "absolute", "hardlink", "duplicate"],
)
def test_hostile_tar_members_fail(member, message, capsys, bundle, key_pair, tmp_path):
    info, data = member
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in _members(bundle):
            entry = tarfile.TarInfo(name)
            entry.size = len(content)
            tar.addfile(entry, io.BytesIO(content))
        tar.addfile(info, io.BytesIO(data) if data else None)
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    code, out = verify(capsys, path, key_pair.public_key)
    assert code == 1 and re.search(message, out), out


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.99])
def test_a_truncated_archive_fails(keep, capsys, bundle_archive: Path, key_pair: KeyPairFiles):
    data = bundle_archive.read_bytes()
    bundle_archive.write_bytes(data[: int(len(data) * keep)])
    code, out = verify(capsys, bundle_archive, key_pair.public_key)
    assert code == 1 and str(bundle_archive) in out


# --- audit on hostile content: an error naming the file, exit 2, never a traceback ---------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("slo/metrics.json", b"null", "error: slo/metrics.json: holds a JSON NoneType, not an object"),
        ("slo/metrics.json", b"[" * 100_000, "error: slo/metrics.json: nested too deeply"),
        ("lineage.json", b'"a string"', "error: lineage.json: holds a JSON str, not an object"),
        ("raw/read.parquet", b"PAR1 nope", r"error: raw/read.parquet: not a readable Parquet file"),
    ],
    ids=["metrics-null", "metrics-deep", "lineage-string", "parquet-garbage"],
)
def test_audit_of_hostile_content_names_the_file_without_a_traceback(
    name: str, content: bytes, message: str, capsys, bundle: EvidenceBundle, tmp_path: Path
) -> None:
    files = dict(bundle.files)
    files[name] = content
    manifest = json.loads(files["manifest.json"])
    next(e for e in manifest["files"] if e["name"] == name)["sha256"] = sha256_hex(content)
    files["manifest.json"] = json.dumps(manifest).encode()
    capsys.readouterr()
    code = main(["audit", str(_write(files, tmp_path / "bundle"))])
    captured = capsys.readouterr()
    assert code == 2 and message in captured.err and "Traceback" not in captured.err + captured.out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"edit": lambda t, p: t["predicate"][EXTENSION]["gates"][0].update(verdict=["PASS"])},
            r"gates\.0\.verdict\]: \['PASS'\]",
        ),
        (
            {"edit_files": _json_edit("lineage.json", lambda m: m["outputs"][0].update(name=["x"]))},
            r"lineage\.json \[outputs\]: not a list of objects with a name",
        ),
    ],
    ids=["unhashable-gate-verdict", "unhashable-lineage-name"],
)
def test_unhashable_values_where_names_belong_fail_cleanly(
    change: dict,
    message: str,
    capsys,
    bundle: EvidenceBundle,
    signing_key: SigningKey,
    key_pair: KeyPairFiles,
    tmp_path: Path,
) -> None:
    root = _write(resigned(bundle, signing_key, **change), tmp_path / "bundle")
    code, out = verify(capsys, root, key_pair.public_key)
    assert code == 1 and re.search(message, out), out
