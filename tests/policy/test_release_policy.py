"""`verify BUNDLE --public-key PEM --policy release.rego`: Rego on the verified statements and figures.

Bundles built by the pipeline's own bundle code, with realistic signed files (SLO rows, a grype
report, conftest's JSON): the shipped example policy passes a bundle that meets it (once the
signer is allowed), denies with the rule's message one whose figures break it, refuses a policy
with a syntax error by its line (exit 2) before reading any bundle, and never judges a bundle that
does not verify.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.evidence.conftest import LINEAGE, RC, SLOS_YAML, evidence_files, outcomes, provenance
from verification_pipeline.cli import main
from verification_pipeline.evidence.bundle import assemble_bundle
from verification_pipeline.evidence.bundle_io import write_directory
from verification_pipeline.evidence.keys import (
    generate_key_pair,
    load_signing_key_file,
    public_key_fingerprint,
)
from verification_pipeline.evidence.layout import POLICY_REPORT
from verification_pipeline.evidence.statements import resource_descriptor
from verification_pipeline.policy.release import EXAMPLE_POLICY

SCANS = Path(__file__).resolve().parents[1] / "scans" / "fixtures"
SPEC = """version: 1
confidence: 0.95
slos:
  - {name: read_latency_p95, metric: quantile, source: read, quantile: 0.95, threshold: 350, unit: ms, min_samples: 100}
  - {name: error_rate, metric: rate, source: all, threshold: 1, unit: percent, min_samples: 200}
"""


def metrics(read_verdict: str = "PASS", read_n: int = 4000) -> dict:
    return {
        "slos": [
            {
                "name": "read_latency_p95",
                "n": read_n,
                "value": 120.5,
                "verdict": read_verdict,
                "reason": "p95 bound 131 ms",
            },
            {"name": "error_rate", "n": 9000, "value": 0.0, "verdict": "PASS", "reason": "0 of 9000 failed"},
        ],
        "verdict": read_verdict,
        "spec": {"source": "slos.yaml", "yaml": SPEC},
    }


@pytest.fixture
def make_bundle(tmp_path: Path):
    keys = generate_key_pair(tmp_path / "keys")
    key = load_signing_key_file(keys.private_key)

    def make(
        *,
        read_verdict: str = "PASS",
        read_n: int = 4000,
        vulns: str = "grype/grype_empty.json",
        baseline: str = "NO_BASELINE",
        created: dt.datetime | None = None,
    ) -> Path:
        files = evidence_files(RC.version, metrics=metrics(read_verdict, read_n))
        files["security/vulns.grype.json"] = (SCANS / vulns).read_bytes()
        files[POLICY_REPORT] = json.dumps(
            [{"filename": "reference_target/deploy/deployment.yaml", "namespace": "main", "successes": 14}]
        ).encode()
        verdict = {"NO_BASELINE": "WARN", "FAIL": "FAIL"}.get(baseline, "PASS")
        files["slo/baseline.json"] = json.dumps(
            {"status": baseline, "verdict": verdict, "reason": "reads slower by 41 ms, beyond 10 %"}
        ).encode()
        bundle = assemble_bundle(
            files,
            release_candidate=RC,
            signing_key=key,
            provenance=provenance(),
            outcomes=outcomes(),
            configuration=[resource_descriptor("slos.yaml", data=SLOS_YAML)],
            lineage=LINEAGE,
            created_at=created or dt.datetime.now(dt.UTC),
        )
        return write_directory(bundle, tmp_path / f"bundle-{len(list(tmp_path.iterdir()))}")

    make.public_key = keys.public_key  # type: ignore[attr-defined]
    make.fingerprint = public_key_fingerprint(key.public_key)  # type: ignore[attr-defined]
    return make


@pytest.fixture
def policy_allowing(make_bundle, tmp_path: Path) -> Path:
    """The shipped example with this test's signing key allowed, as a release engineer would edit it."""
    text = EXAMPLE_POLICY.read_text().replace(
        "ed25519:replace-with-your-release-key-fingerprint", make_bundle.fingerprint
    )
    path = tmp_path / "release.rego"
    path.write_text(text)
    return path


def verify(capsys, bundle: Path, public_key: Path, policy: Path) -> tuple[int, str, str]:
    code = main(["verify", str(bundle), "--public-key", str(public_key), "--policy", str(policy)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_bundle_that_meets_the_policy_passes(make_bundle, policy_allowing, capsys):
    code, out, _ = verify(capsys, make_bundle(), make_bundle.public_key, policy_allowing)
    assert code == 0, out
    assert "0 denial(s)" in out and "DENY" not in out


def test_the_example_as_shipped_denies_an_unknown_signer(make_bundle, capsys):
    code, out, err = verify(capsys, make_bundle(), make_bundle.public_key, EXAMPLE_POLICY)
    assert code == 1
    assert (
        f"DENY main.deny_signer: signed by {make_bundle.fingerprint}, which is not an allowed release key"
        in out
    )
    assert "the release policy denies this bundle: 1 denial(s)" in err


@pytest.mark.parametrize(
    ("bundle_args", "denial"),
    [
        ({"read_verdict": "INCONCLUSIVE"}, "main.deny_slo: SLO read_latency_p95 is INCONCLUSIVE, not PASS"),
        (
            {"read_n": 60},
            "main.deny_slo: SLO read_latency_p95 judged 60 samples, fewer than its min_samples 100",
        ),
        (
            {"vulns": "grype/grype_dir_critical_low.json"},
            "main.deny_vulnerability: Critical vulnerability CVE-1999-0002 in package-2",
        ),
        ({"baseline": "FAIL"}, "main.deny_baseline: the baseline comparison is FAIL: reads slower by 41 ms"),
        (
            {"created": dt.datetime.now(dt.UTC) - dt.timedelta(days=45)},
            "main.deny_age: the bundle is 45 days old",
        ),
    ],
    ids=["slo-not-pass", "too-few-samples", "critical-vuln", "baseline-fail", "too-old"],
)
def test_figures_that_break_the_policy_are_denied_with_the_rule_message(
    make_bundle, policy_allowing, capsys, bundle_args, denial
):
    code, out, _ = verify(capsys, make_bundle(**bundle_args), make_bundle.public_key, policy_allowing)
    assert code == 1
    denials = [line.strip() for line in out.splitlines() if line.strip().startswith("DENY")]
    assert len(denials) == 1 and denials[0].startswith(f"DENY {denial}"), denials


def test_a_waived_vulnerability_is_not_denied(make_bundle, policy_allowing, capsys):
    waived = policy_allowing.read_text().replace('"CVE-0000-00000"', '"CVE-1999-0002"')
    policy_allowing.write_text(waived)
    code, out, _ = verify(
        capsys,
        make_bundle(vulns="grype/grype_dir_critical_low.json"),
        make_bundle.public_key,
        policy_allowing,
    )
    assert code == 0, out


def test_a_policy_with_a_syntax_error_exits_2_naming_its_line(make_bundle, tmp_path, capsys):
    broken = tmp_path / "broken.rego"
    broken.write_text("package main\nimport rego.v1\n\ndeny contains msg if {\n  msg := \n}\n")
    code, out, err = verify(capsys, tmp_path / "no-such-bundle", make_bundle.public_key, broken)
    assert code == 2
    assert f"{broken}:5: Rego error" in err
    assert out == ""  # nothing verified or printed before the policy compiled


def test_a_bundle_that_does_not_verify_is_never_judged(make_bundle, policy_allowing, capsys):
    bundle = make_bundle(read_verdict="INCONCLUSIVE")
    metrics_file = bundle / "slo" / "metrics.json"
    metrics_file.write_bytes(json.dumps(metrics("PASS")).encode())  # a "better" figure, unsigned
    code, out, err = verify(capsys, bundle, make_bundle.public_key, policy_allowing)
    assert code == 1
    assert "release policy" not in out and "slo/metrics.json" in err
