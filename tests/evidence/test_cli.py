"""`keygen`, `verify`, `audit` through typer, with the root's error-to-exit-code mapping."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.evidence.conftest import RC, BuildBundle, evidence_files, raw_frames, recompute_for_tests
from verification_pipeline.cli.evidence import app
from verification_pipeline.errors import PipelineError
from verification_pipeline.evidence.bundle_io import write_directory
from verification_pipeline.evidence.keys import KeyPairFiles, resolve_signing_key


def run(*args: str) -> tuple[int, str]:
    """Exit code and output as the root command reports them (PipelineError -> its exit code)."""
    result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, PipelineError):
        return result.exception.exit_code, result.output + f"error: {result.exception}"
    return result.exit_code, result.output


def test_keygen_writes_a_0600_key_and_prints_only_public_facts(tmp_path: Path) -> None:
    code, output = run("keygen", "--out", str(tmp_path / "keys"))
    assert code == 0
    private = tmp_path / "keys" / "evidence-signing.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "fingerprint: SHA256:" in output
    body = b"".join(private.read_bytes().splitlines()[1:-1]).decode()
    assert body not in output and "PRIVATE KEY" not in output
    assert run("keygen", "--out", str(tmp_path / "keys"))[0] == 2  # never overwrites


def test_verify_exit_codes(
    bundle_dir: Path, bundle_archive: Path, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    public = str(key_pair.public_key)
    code, output = run("verify", str(bundle_dir), "--public-key", public, "--rc", RC.tag)
    assert code == 0 and "verified:" in output and "verdict:           PASS" in output
    assert run("verify", str(bundle_archive), "--public-key", public)[0] == 0

    code, output = run("verify", str(bundle_dir), "--public-key", public, "--rc", "v24.1.0-rc9")
    assert code == 1 and "not 'v24.1.0-rc9'" in output

    (bundle_dir / "slo" / "read.json").write_bytes(b"{}")
    code, output = run("verify", str(bundle_dir), "--public-key", public)
    assert code == 1 and "error: slo/read.json: sha256" in output

    assert run("verify", str(bundle_dir), "--public-key", str(key_pair.private_key))[0] == 2
    assert run("verify", str(tmp_path / "missing"), "--public-key", public)[0] == 2
    assert run("verify", str(bundle_dir))[0] == 2  # --public-key is required


def test_verify_warns_about_a_dev_key(build_bundle: BuildBundle, tmp_path: Path) -> None:
    dev_key = resolve_signing_key(environ={}, dev_key_dir=tmp_path / "dev")
    root = write_directory(build_bundle(key=dev_key), tmp_path / "out")
    code, output = run("verify", str(root), "--public-key", str(tmp_path / "dev" / "evidence-signing.pub"))
    assert code == 0 and "WARNING: signed with a DEV key" in output


@pytest.fixture
def slo_metrics_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's audit on these synthetic bundles recomputes with the tests' small stand-in."""
    monkeypatch.setattr("verification_pipeline.audit.recompute.recompute_bundle_metrics", recompute_for_tests)


@pytest.mark.usefixtures("slo_metrics_module")
def test_audit_prints_lineage_and_exits_0_when_figures_match(bundle_dir: Path) -> None:
    code, output = run("audit", str(bundle_dir))
    assert code == 0, output
    assert output.startswith("WARNING: NOT VERIFIED: no --public-key given")
    assert f"\nlineage of {RC.tag}" in output
    assert "fanout: 5 rows, read: 6 rows, write: 4 rows" in output
    assert "every recorded figure matches" in output


@pytest.mark.usefixtures("slo_metrics_module")
def test_audit_with_a_public_key_verifies_the_signatures_first(
    bundle_dir: Path, key_pair: KeyPairFiles, other_key_pair: KeyPairFiles
) -> None:
    code, output = run("audit", str(bundle_dir), "--public-key", str(key_pair.public_key))
    assert code == 0, output
    assert "NOT VERIFIED" not in output and "signed verdict PASS" in output
    code, output = run("audit", str(bundle_dir), "--public-key", str(other_key_pair.public_key))
    assert code == 1 and "no signature verifies with the trusted public key" in output
    assert "every recorded figure matches" not in output


@pytest.mark.usefixtures("slo_metrics_module")
def test_audit_exits_1_naming_the_first_differing_figure(build_bundle: BuildBundle, tmp_path: Path) -> None:
    metrics = recompute_for_tests(raw_frames())
    metrics["write"]["count"] = 5
    root = write_directory(build_bundle(files=evidence_files(metrics=metrics)), tmp_path)
    code, output = run("audit", str(root))
    assert code == 1
    assert "write.count: recorded 5, recomputed 4" in output
    assert "error: slo/metrics.json [write.count]: 1 figure(s) differ" in output


def test_verify_covers_slo_baseline_json_and_refuses_a_tampered_one(
    bundle_dir: Path, key_pair: KeyPairFiles
) -> None:
    public = str(key_pair.public_key)
    assert (bundle_dir / "slo" / "baseline.json").is_file()
    assert run("verify", str(bundle_dir), "--public-key", public, "--rc", RC.tag)[0] == 0
    (bundle_dir / "slo" / "baseline.json").write_bytes(b'{"status": "COMPARED", "verdict": "PASS"}\n')
    code, output = run("verify", str(bundle_dir), "--public-key", public)
    assert code == 1 and "error: slo/baseline.json: sha256" in output


def test_a_bundle_without_slo_baseline_json_is_incomplete(build_bundle: BuildBundle) -> None:
    files = evidence_files()
    del files["slo/baseline.json"]
    bundle = build_bundle(files=files)
    assert bundle.verdict == "INCOMPLETE" and bundle.missing_files == ("slo/baseline.json",)
