"""Every upstream fixture parses, with counts worked out from the files themselves.

How the expected numbers were derived (independently of our parsers), in the fixture folder:
- grype: `jq -c '[.matches[] | .vulnerability.severity] | group_by(.) | map({(.[0]): length}) | add'`
  and the same over `.vulnerability.fix.state` (grype's "" state counts as unknown; "fixed" with
  versions stays fixed);
- trivy: the same over `.Results[]?.Vulnerabilities[]?.Severity` and `.Status` (affected ->
  not-fixed, will_not_fix -> wont-fix); misconfigurations from `.Results[].MisconfSummary`;
- SARIF: the `Severity:` / `Fixed Version:` / `Fix Version:` lines of the result messages (trivy)
  or rule help texts (grype), read with `jq -r ... | grep`; conftest SARIF by `level`;
- opa test: `jq '[.[]|select(.fail==true)]|length'`, `select(has("error"))`, `select(.skip==true)`,
  and the rest pass; opa eval: `[.result[]?.expressions[].value]` and `[.errors[]?]|length`;
- conftest: `[.[].successes]|add`, `[.[].failures[]?]|length`, `[.[].warnings[]?]|length`;
- SBOMs: `.artifacts|length`, `.components|length`, SPDX `.packages|length` minus the package the
  document DESCRIBES (the scanned subject, as syft's `source` and CycloneDX's metadata.component).
"""

from __future__ import annotations

import pytest

from tests.scans.conftest import FIXTURES, fixture_bytes
from verification_pipeline.scans import (
    ReportFormat,
    ReportKind,
    component_counts,
    parse_report,
    policy_counts,
    vulnerability_counts,
)


def sev(critical=0, high=0, medium=0, low=0, negligible=0, unknown=0):
    return {
        "Critical": critical,
        "High": high,
        "Medium": medium,
        "Low": low,
        "Negligible": negligible,
        "Unknown": unknown,
    }


def fix(fixed=0, not_fixed=0, wont_fix=0, unknown=0):
    return {"fixed": fixed, "not-fixed": not_fixed, "wont-fix": wont_fix, "unknown": unknown}


def pol(rows, passed=0, failed=0, warnings=0, errors=0, skipped=0):
    return {
        "policies": rows,
        "passed": passed,
        "failed": failed,
        "warnings": warnings,
        "errors": errors,
        "skipped": skipped,
    }


VULNS = {
    "grype/grype_image_critical_low.json": (
        ReportFormat.GRYPE_JSON,
        sev(critical=1, low=1),
        fix(fixed=1, unknown=1),
    ),
    "grype/grype_dir_critical_low.json": (
        ReportFormat.GRYPE_JSON,
        sev(critical=1, low=1),
        fix(fixed=1, unknown=1),
    ),
    "grype/grype_empty.json": (ReportFormat.GRYPE_JSON, sev(), fix()),
    "grype/grype_real_wolfi_high.json": (ReportFormat.GRYPE_JSON, sev(high=3), fix(fixed=2, unknown=1)),
    "grype/grype_real_ghsa_medium.json": (ReportFormat.GRYPE_JSON, sev(medium=2), fix(fixed=1, unknown=1)),
    "grype/grype_real_keycloak_wontfix_low.json": (ReportFormat.GRYPE_JSON, sev(low=6), fix(wont_fix=6)),
    "trivy/trivy_fluentd_os_and_lang.json": (
        ReportFormat.TRIVY_JSON,
        sev(critical=1, high=1, low=1),
        fix(fixed=2, not_fixed=1),
    ),
    "trivy/trivy_centos7_will_not_fix.json": (
        ReportFormat.TRIVY_JSON,
        sev(medium=1, low=2),
        fix(fixed=2, wont_fix=1),
    ),
    "trivy/trivy_gomod_unknown_severity.json": (
        ReportFormat.TRIVY_JSON,
        sev(medium=1, unknown=4),
        fix(fixed=5),
    ),
    "trivy/trivy_dockerfile_misconfig.json": (ReportFormat.TRIVY_JSON, sev(), fix()),
    "sarif/grype_sarif_image.sarif.json": (
        ReportFormat.SARIF,
        sev(critical=1, low=1),
        fix(fixed=1, unknown=1),
    ),
    "sarif/trivy_alpine310.sarif.json": (ReportFormat.SARIF, sev(medium=4), fix(fixed=4)),
}

POLICIES = {
    "opa/opa_eval_boolean.json": (ReportFormat.OPA_EVAL, pol(1, passed=1)),
    "opa/opa_eval_bindings.json": (ReportFormat.OPA_EVAL, pol(1, passed=1)),
    "opa/opa_eval_error.json": (ReportFormat.OPA_EVAL, pol(1, errors=1)),
    "opa/opa_test_docs_pass_fail_error.json": (ReportFormat.OPA_TEST, pol(3, passed=1, failed=1, errors=1)),
    "opa/opa_test_JSONReporter_golden.json": (
        ReportFormat.OPA_TEST,
        pol(7, passed=3, failed=2, errors=1, skipped=1),
    ),
    "conftest/conftest_docs_output_md_warnings.json": (
        ReportFormat.CONFTEST_JSON,
        pol(1, passed=4, warnings=1),
    ),
    "conftest/conftest_docs_options_md_failures.json": (
        ReportFormat.CONFTEST_JSON,
        pol(1, passed=1, failed=4),
    ),
    "conftest/conftest_docs_index_md_loc.json": (ReportFormat.CONFTEST_JSON, pol(1, failed=1)),
    "sarif/conftest_docs_output_md.sarif.json": (ReportFormat.SARIF, pol(1, warnings=1)),
    "trivy/trivy_dockerfile_misconfig.json": (ReportFormat.TRIVY_JSON, pol(1, passed=26, failed=1)),
}

SBOMS = {
    "syft/alpine.syft.json": (ReportFormat.SYFT_JSON, 14, {"apk": 14}),
    "syft/syft-json-schema-11.0.0.json": (ReportFormat.SYFT_JSON, 1, {"go-module": 1}),
    "cyclonedx/cyclonedx_spec_valid-minimal-viable-1.6.json": (
        ReportFormat.CYCLONEDX_JSON,
        1,
        {"library": 1},
    ),
    "cyclonedx/syft_cyclonedx_1.5.json": (ReportFormat.CYCLONEDX_JSON, 1, {"go-module": 1}),
    "cyclonedx/syft_cyclonedx_1.6.json": (ReportFormat.CYCLONEDX_JSON, 1, {"go-module": 1}),
    "spdx/syft_spdx_2.3.json": (ReportFormat.SPDX_JSON, 1, {"golang": 1}),
}


def test_every_fixture_file_has_expectations():
    on_disk = {str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.json")}
    assert on_disk == set(VULNS) | set(POLICIES) | set(SBOMS)


@pytest.mark.parametrize("name", sorted(VULNS))
def test_vulnerability_counts(name):
    fmt, by_severity, by_fix_state = VULNS[name]
    report = parse_report(*fixture_bytes(name))
    assert report.format is fmt
    assert ReportKind.VULNERABILITIES in report.kinds
    counts = vulnerability_counts(report.vulnerabilities)
    assert counts["by_severity"] == by_severity
    assert counts["by_fix_state"] == by_fix_state
    assert counts["total"] == sum(by_severity.values())


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_policy_counts(name):
    fmt, expected = POLICIES[name]
    report = parse_report(*fixture_bytes(name))
    assert report.format is fmt
    assert policy_counts(report.policies) == expected


@pytest.mark.parametrize("name", sorted(SBOMS))
def test_component_counts(name):
    fmt, total, by_type = SBOMS[name]
    report = parse_report(*fixture_bytes(name))
    assert report.format is fmt
    assert report.kinds == (ReportKind.SBOM,)
    assert component_counts(report.components) == {"total": total, "by_type": by_type}


@pytest.mark.parametrize("name", sorted(set(VULNS) | set(POLICIES) | set(SBOMS)))
def test_report_keeps_the_original_bytes(name):
    data, source = fixture_bytes(name)
    report = parse_report(data, source)
    assert report.raw is data
    assert report.source == source
