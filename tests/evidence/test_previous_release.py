"""A bundle made by the previous release of the code still verifies, and audits, with this code.

`tests/fixtures/previous_release/bundle.tar.gz` was made by main at 56f0f42 (its README says how):
the bundle format is a contract with every auditor who kept one, so a change that makes an old
bundle fail `verify` or `audit` breaks it, whatever the new code's own bundles look like.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

from typer.testing import CliRunner

from verification_pipeline.cli.evidence import app
from verification_pipeline.errors import PipelineError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "previous_release"
BUNDLE = FIXTURE / "bundle.tar.gz"
PUBLIC_KEY = FIXTURE / "public.pem"
RC = "v24.1.0-rc1"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, PipelineError):
        return result.exception.exit_code, result.output + f"error: {result.exception}"
    return result.exit_code, result.output


def test_the_previous_releases_bundle_verifies_with_this_code() -> None:
    code, output = run("verify", str(BUNDLE), "--public-key", str(PUBLIC_KEY), "--rc", RC)
    assert code == 0, output
    assert "verified:" in output and "INCONCLUSIVE" in output


def test_this_code_recomputes_the_previous_releases_figures() -> None:
    code, output = run("audit", str(BUNDLE), "--public-key", str(PUBLIC_KEY))
    assert code == 0, output
    assert "recomputed slo/metrics.json from raw measurements" in output


def test_a_changed_byte_of_the_previous_releases_bundle_fails(tmp_path: Path) -> None:
    """The check above is not vacuous: the same bundle with one figure changed does not verify."""
    with tarfile.open(BUNDLE, "r:gz") as archive:
        members = [(m, archive.extractfile(m).read() if m.isfile() else b"") for m in archive.getmembers()]  # type: ignore[union-attr]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as out:
        for member, data in members:
            if member.name.endswith("slo/metrics.json"):
                data = data.replace(b'"verdict": "INCONCLUSIVE"', b'"verdict": "PASS"', 1)
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if member.isfile() else None)
    tampered = tmp_path / "bundle.tar.gz"
    tampered.write_bytes(gzip.compress(buffer.getvalue()))
    code, output = run("verify", str(tampered), "--public-key", str(PUBLIC_KEY), "--rc", RC)
    assert code == 1 and "slo/metrics.json" in output, output
