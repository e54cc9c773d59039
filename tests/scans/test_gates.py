"""Cross-check against the SBOM, and the scan gates' verdicts."""

from __future__ import annotations

import json
from datetime import date

from tests.scans.conftest import fixture_bytes
from verification_pipeline.scans import (
    MISSING_SCHEMA,
    load_vulnerability_policy,
    missing_from_sbom,
    parse_policy_report,
    parse_report,
    parse_sbom,
    parse_vulnerability_report,
    summarize_scans,
)
from verification_pipeline.verdict import Verdict

TODAY = date(2025, 6, 1)


def cyclonedx(*components: dict) -> bytes:
    return json.dumps(
        {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": list(components)}
    ).encode()


def test_scan_of_other_versions_than_the_sbom_is_reported():
    # trivy scanned alpine 3.10 (openssl 1.1.1c-r0); the SBOM is of alpine 3.12 (1.1.1n-r0)
    vulns = parse_vulnerability_report(*fixture_bytes("sarif/trivy_alpine310.sarif.json")).vulnerabilities
    components = parse_sbom(*fixture_bytes("syft/alpine.syft.json")).components
    missing = missing_from_sbom(vulns, components)
    assert missing.schema == MISSING_SCHEMA
    assert missing.select("package", "version", "vulnerability_ids").rows() == [
        ("libcrypto1.1", "1.1.1c-r0", ["CVE-2019-1549", "CVE-2019-1551"]),
        ("libssl1.1", "1.1.1c-r0", ["CVE-2019-1549", "CVE-2019-1551"]),
    ]


def test_packages_match_by_purl_identity_name_or_epochless_version():
    vulns = parse_report(*fixture_bytes("grype/grype_image_critical_low.json")).vulnerabilities
    sbom = cyclonedx(
        {
            "type": "library",
            "name": "package-2",
            "version": "2.2.2",
            "purl": "pkg:deb/package-2@2.2.2?arch=amd64",
        },
        {"type": "library", "name": "Package-1", "version": "1.1.1"},
    )
    assert missing_from_sbom(vulns, parse_sbom(sbom, "bom.json").components).height == 0
    only_two = cyclonedx(
        {"type": "library", "name": "renamed", "version": "0", "purl": "pkg:DEB/package-2@2.2.2"}
    )
    missing = missing_from_sbom(vulns, parse_sbom(only_two, "bom.json").components)
    assert missing["package"].to_list() == ["package-1"]

    centos = parse_report(*fixture_bytes("trivy/trivy_centos7_will_not_fix.json")).vulnerabilities
    rpm_sbom = cyclonedx(
        {"type": "library", "name": "openssl-libs", "version": "1.0.2k-16.el7"},
        {"type": "library", "name": "bash", "version": "4.2.46-31.el7"},
    )
    assert missing_from_sbom(centos, parse_sbom(rpm_sbom, "bom.json").components).height == 0


def test_all_gates_and_the_overall_verdict():
    summary = summarize_scans(
        components=parse_sbom(*fixture_bytes("syft/alpine.syft.json")).components,
        vulnerabilities=parse_report(*fixture_bytes("grype/grype_image_critical_low.json")).vulnerabilities,
        policies=parse_policy_report(*fixture_bytes("opa/opa_test_docs_pass_fail_error.json")).policies,
        today=TODAY,
    )
    assert summary.gate("sbom_present").verdict is Verdict.PASS
    vuln_gate = summary.gate("vulnerability_policy_met")
    assert vuln_gate.verdict is Verdict.FAIL
    assert vuln_gate.reason == (
        "1 findings breach the policy: CVE-1999-0002 in package-2 2.2.2 "
        "(2 vulnerable packages missing from the SBOM)"
    )
    policy_gate = summary.gate("policies_pass")
    assert policy_gate.verdict is Verdict.FAIL
    assert policy_gate.reason == (
        "1 failed and 1 errors in: data.example_test.test_failure, data.example_test.test_error"
    )
    assert summary.verdict is Verdict.FAIL
    document = json.loads(json.dumps(summary.to_dict()))
    assert document["verdict"] == "FAIL"
    assert document["violations"] == [
        {
            "id": "CVE-1999-0002",
            "severity": "Critical",
            "package": "package-2",
            "version": "2.2.2",
            "fix_state": "unknown",
            "rule": "fail_on: Critical",
        }
    ]
    assert [m["package"] for m in document["missing_from_sbom"]] == ["package-1", "package-2"]


def test_passing_scans_with_an_allowlisted_finding():
    policy = load_vulnerability_policy(
        {"allowlist": [{"id": "CVE-1999-0002", "reason": "build stage only", "expires": "2025-12-31"}]},
        "p.yaml",
    )
    summary = summarize_scans(
        components=parse_sbom(*fixture_bytes("syft/alpine.syft.json")).components,
        vulnerabilities=parse_report(*fixture_bytes("grype/grype_image_critical_low.json")).vulnerabilities,
        policies=parse_policy_report(
            *fixture_bytes("conftest/conftest_docs_output_md_warnings.json")
        ).policies,
        vulnerability_policy=policy,
        today=TODAY,
    )
    assert summary.verdict is Verdict.PASS
    assert summary.gate("policies_pass").reason == "4 passed, none failed (1 warnings)"
    assert summary.to_dict()["allowlisted"] == [
        {
            "id": "CVE-1999-0002",
            "package": "package-2",
            "version": "2.2.2",
            "reason": "build stage only",
            "expires": "2025-12-31",
        }
    ]


def test_missing_or_empty_inputs():
    empty_sbom = parse_sbom(cyclonedx(), "bom.json").components
    summary = summarize_scans(components=empty_sbom, vulnerabilities=None, policies=None, today=TODAY)
    assert [(g.name, g.verdict) for g in summary.gates] == [
        ("sbom_present", Verdict.FAIL),
        ("vulnerability_policy_met", Verdict.INCONCLUSIVE),
        ("policies_pass", Verdict.INCONCLUSIVE),
    ]
    assert summary.gate("sbom_present").reason == "the SBOM lists no components"
    assert (
        summarize_scans(components=None, vulnerabilities=None, policies=None).gate("sbom_present").verdict
        is Verdict.FAIL
    )
    clean = summarize_scans(
        components=parse_sbom(*fixture_bytes("syft/alpine.syft.json")).components,
        vulnerabilities=parse_report(*fixture_bytes("grype/grype_empty.json")).vulnerabilities,
        policies=None,
        today=TODAY,
    )
    assert clean.gate("vulnerability_policy_met").verdict is Verdict.PASS
    assert clean.verdict is Verdict.INCONCLUSIVE
