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
from collections.abc import Callable
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


# --- scan, baseline and sample-size verdicts recomputed from their signed figures ------------------


def _gates(t: dict) -> list[dict]:
    return t["predicate"][EXTENSION]["gates"]


def _vulnerabilities(t: dict) -> dict:
    return next(g for g in _gates(t) if g["name"] == "scan:vulnerability_policy_met")


def _add_gate(gate: dict) -> Callable[[dict, dict], None]:
    """Append a gate, and list it where the builder lists a gate of its verdict."""

    def edit(t: dict, p: dict) -> None:
        _gates(t).append(gate)
        listed = {"PASS": "passedTests", "WARN": "warnedTests", "INCONCLUSIVE": "warnedTests"}
        t["predicate"][listed.get(gate["verdict"], "failedTests")].append(gate["name"])

    return edit


def _comparison(**change: object) -> dict:
    row = {
        "slo": "read_p95",
        "kind": "latency",
        "n_current": 500,
        "n_baseline": 480,
        "shift_ms": {"estimate": 40.0, "lower": 31.0, "upper": 52.0},
        "p95_ratio": {"estimate": 1.31, "lower": 1.22, "upper": 1.41},
        "rate_diff_pp": None,
        "classification": "slower",
        "saturated": {"current": False, "baseline": False},
        "verdict": "WARN",
    }
    return row | change


def _baseline_gate(*rows: dict, verdict: str = "WARN", on_regression: str = "warn") -> dict:
    return {
        "name": "baseline:no_regression",
        "verdict": verdict,
        "status": "COMPARED",
        "baseline": "v24.1.0-rc0",
        "reason": "against v24.1.0-rc0",
        "policy": {
            "on_regression": on_regression,
            "max_p95_increase_pct": 10.0,
            "max_error_rate_increase_pp": 0.1,
            "min_compared_samples": 30,
        },
        "comparisons": list(rows),
    }


def _sbom(components: int | None, verdict: str = "PASS") -> dict:
    figures = {"components": components, "min_components": 1, "reason": "r"}
    return {"name": "scan:sbom_present", "verdict": verdict, **figures}


def _policies(verdict: str = "PASS", **counts: int) -> dict:
    figures = {"policies": 4, "passed": 9, "failed": 0, "warnings": 2, "errors": 0, "skipped": 0} | counts
    return {
        "name": "scan:policies_pass",
        "verdict": verdict,
        "counts": figures,
        "max_failures": 0,
        "reason": "r",
    }


FIGURE_CONTRADICTIONS = {
    "vulnerabilities-violated-yet-pass": (
        lambda t, p: _vulnerabilities(t).update(waived=0, violations=1),
        r"gates\.2\.verdict\]: scan:vulnerability_policy_met is signed PASS, but its signed figures make it FAIL",
    ),
    "more-waived-than-breaching": (
        lambda t, p: _vulnerabilities(t).update(waived=5, violations=0),
        r"gates\.2\.waived\]: 5 waived, but only 1 findings breach the policy",
    ),
    "violations-not-breaching-minus-waived": (
        lambda t, p: _vulnerabilities(t)["by_severity"].update(Critical=4),
        r"gates\.2\.violations\]: 0, but 4 findings breach the policy and 1 are waived",
    ),
    "fixable-high-under-fail-on-fixable": (
        lambda t, p: _vulnerabilities(t)["fixable_by_severity"].update(High=2),
        r"gates\.2\.violations\]: 0, but 3 findings breach",
    ),
    "more-fixable-than-found": (
        lambda t, p: _vulnerabilities(t)["fixable_by_severity"].update(Low=1),
        r"gates\.2\.fixable_by_severity\.Low\]: 1 fixable of 0 findings",
    ),
    "sbom-of-no-components-pass": (
        _add_gate(_sbom(0)),
        r"gates\.3\.verdict\]: scan:sbom_present is signed PASS, but its signed figures make it FAIL",
    ),
    "policies-failed-yet-pass": (
        _add_gate(_policies(failed=2)),
        r"gates\.3\.verdict\]: scan:policies_pass is signed PASS, but its signed figures make it FAIL",
    ),
    "scan-gate-without-figures-in-a-marked-bundle": (
        lambda t, p: [_vulnerabilities(t).pop(k) for k in ("by_severity", "fixable_by_severity")],
        r"gates\.2\]: scan:vulnerability_policy_met signs no figures to recompute its verdict from",
    ),
    "regression-row-signed-pass": (
        _add_gate(_baseline_gate(_comparison(verdict="PASS"), verdict="PASS")),
        r"gates\.3\.comparisons\.0\.verdict\]: read_p95 is signed 'PASS', but its signed figures make it WARN",
    ),
    "regression-under-fail-signed-warn": (
        _add_gate(_baseline_gate(_comparison(), on_regression="fail")),
        r"comparisons\.0\.verdict\]: read_p95 is signed 'WARN', but its signed figures make it FAIL",
    ),
    "classification-the-interval-does-not-give": (
        _add_gate(_baseline_gate(_comparison(classification="no_change", verdict="PASS"), verdict="PASS")),
        r"comparisons\.0\.classification\]: 'no_change', but its signed samples and interval make it 'slower'",
    ),
    "rows-warn-gate-pass": (
        _add_gate(_baseline_gate(_comparison(), verdict="PASS")),
        r"gates\.3\.verdict\]: baseline:no_regression is signed PASS, but its signed figures make it WARN",
    ),
    "too-few-samples-compared": (
        _add_gate(
            _baseline_gate(_comparison(n_baseline=12, classification=None, verdict="PASS"), verdict="PASS")
        ),
        r"comparisons\.0\.verdict\]: read_p95 is signed 'PASS', but its signed figures make it WARN",
    ),
    "pass-on-fewer-than-min-samples": (
        lambda t, p: _gates(t)[0].update(min_samples=500),
        r"gates\.0\.verdict\]: slo:read_p95 is signed PASS, but its signed figures make it INCONCLUSIVE \(.*n 6, min_samples 500",
    ),
    "slo-gate-without-min-samples-in-a-marked-bundle": (
        lambda t, p: _gates(t)[1].pop("min_samples"),
        r"gates\.1\.min_samples\]: missing; slo:write_p95 cannot be judged",
    ),
    "forbidden-request-admitted-yet-pass": (
        _add_gate(
            {
                "name": "authz:no_forbidden_admitted",
                "verdict": "PASS",
                "attempts": 40,
                "answered": 38,
                "admitted": 1,
                "reason": "r",
            }
        ),
        r"gates\.3\.verdict\]: authz:no_forbidden_admitted is signed PASS, but its signed figures make it FAIL",
    ),
    "figures-of-a-newer-producer": (
        lambda t, p: t["predicate"][EXTENSION].update(gateFigures=99),
        r"gateFigures\]: 99, newer than this verifier knows",
    ),
}


@pytest.mark.parametrize(
    ("edit", "message"), FIGURE_CONTRADICTIONS.values(), ids=FIGURE_CONTRADICTIONS.keys()
)
def test_a_verdict_its_signed_figures_do_not_give_is_refused_naming_the_field(
    edit, message: str, bundle: EvidenceBundle, signing_key: SigningKey
) -> None:
    files = resigned(bundle, signing_key, edit=edit)
    with pytest.raises(VerificationFailed, match=message):
        verify_files(files, signing_key.public_key, expected_rc=RC.tag)


def test_consistent_scan_and_baseline_figures_verify_and_an_old_bundle_says_what_it_took_as_signed(
    capsys, bundle: EvidenceBundle, signing_key: SigningKey, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    """The same figures, consistent, pass through `verify --rc --require-pass`; a bundle without
    the marker (a previous release's) verifies, and its figure-less gates are named as taken as signed."""

    def consistent(t: dict, p: dict) -> None:
        for gate in (
            _sbom(12),
            _policies(),
            _baseline_gate(
                _comparison(),
                _comparison(
                    slo="error_rate",
                    kind="error_rate",
                    shift_ms=None,
                    p95_ratio=None,
                    classification="higher",
                    rate_diff_pp={"estimate": 0.05, "lower": 0.01, "upper": 0.09},
                    verdict="PASS",
                ),
                _comparison(slo="ingest", saturated={"current": True, "baseline": False}),
            ),
        ):
            _add_gate(gate)(t, p)

    root = _write(resigned(bundle, signing_key, edit=consistent), tmp_path / "bundle")
    code, out = verify(capsys, root, key_pair.public_key, "--rc", RC.tag, "--require-pass")
    assert code == 0, out
    assert "not recomputed" not in out

    def old(t: dict, p: dict) -> None:
        t["predicate"][EXTENSION].pop("gateFigures")
        for key in ("by_severity", "fixable_by_severity", "waived", "violations"):
            _vulnerabilities(t).pop(key)

    report = verify_files(resigned(bundle, signing_key, edit=old), signing_key.public_key, expected_rc=RC.tag)
    assert report.taken_as_signed == ("scan:vulnerability_policy_met",)
    assert any("not recomputed:    scan:vulnerability_policy_met" in line for line in report.summary_lines())
