"""trivy JSON (`trivy --format json`, schema 2): vulnerabilities, and misconfigurations as policy.

A trivy config scan (Dockerfile, Kubernetes, Terraform) reports rego policy results, so its
misconfigurations go to the policy table, not the vulnerability table.
"""

from __future__ import annotations

from verification_pipeline.scans.document import Node, empty_to_none
from verification_pipeline.scans.parsed import Parsed, known_version
from verification_pipeline.scans.schemas import POLICY_SCHEMA, VULNERABILITY_SCHEMA, frame, vulnerability_row

# trivy's Status values (pkg/types/vulnerability.go) onto our fix states
_STATUS = {
    "fixed": "fixed",
    "affected": "not-fixed",
    "fix_deferred": "not-fixed",
    "will_not_fix": "wont-fix",
    "end_of_life": "wont-fix",
    "under_investigation": "unknown",
    "unknown": "unknown",
}

# Where a trivy vulnerability holds the text columns of the vulnerability table (besides its
# PkgIdentifier's PURL, and the package type: its result's Type).
_FIELDS = {
    "id": "VulnerabilityID",
    "severity": "Severity",
    "package": "PkgName",
    "version": "InstalledVersion",
}


def parse_trivy_json(doc: Node) -> Parsed:
    vulns = []
    policies = []
    for result in doc["Results"].items():
        target = empty_to_none(result["Target"].text())
        for vuln in result["Vulnerabilities"].items():
            fixed_versions = [v.strip() for v in (vuln["FixedVersion"].text() or "").split(",") if v.strip()]
            fields = {column: vuln[field] for column, field in _FIELDS.items()}
            fields["purl"] = vuln["PkgIdentifier"]["PURL"]
            fields["package_type"] = result["Type"]
            fix_state = _fix_state(vuln["Status"].text(), fixed_versions)
            location = empty_to_none(vuln["PkgPath"].text())
            vulns.append(vulnerability_row(fields, fixed_versions, fix_state, "trivy", target, location))
        if result.has("MisconfSummary") or result.has("Misconfigurations"):
            policies.append(_misconfig_row(result, target))
    return Parsed(
        tool="trivy",
        tool_version=known_version(doc["Trivy"]["Version"].text()),
        vulnerabilities=frame(vulns, VULNERABILITY_SCHEMA),
        policies=frame(policies, POLICY_SCHEMA) if policies else None,
    )


def _fix_state(status: str | None, fixed_versions: list[str]) -> str:
    if status:
        return _STATUS.get(status.strip().lower(), "unknown")
    # reports from trivy < 0.33 have no Status: a FixedVersion is the only signal
    return "fixed" if fixed_versions else "unknown"


def _misconfig_row(result: Node, target: str | None) -> dict[str, object]:
    failed, passed, skipped, messages = 0, 0, 0, []
    for misconf in result["Misconfigurations"].items():
        status = (misconf["Status"].text() or "FAIL").upper()
        if status == "PASS":
            passed += 1
            continue
        failed += 1
        severity = misconf["Severity"].text() or "UNKNOWN"
        ident = misconf["ID"].text() or misconf["AVDID"].text() or "?"
        messages.append(f"{ident} ({severity}): {misconf['Message'].text() or misconf['Title'].text() or ''}")
    summary = result["MisconfSummary"]
    if not summary.missing:
        # the summary counts successes that --include-non-failures would otherwise list
        passed = max(passed, summary["Successes"].count())
        failed = max(failed, summary["Failures"].count())
        skipped = summary["Exceptions"].count()
    return {
        "policy": result["Type"].text() or "misconfiguration",
        "target": target,
        "passed": passed,
        "failed": failed,
        "warnings": 0,
        "errors": 0,
        "skipped": skipped,
        "messages": messages,
        "source_tool": "trivy",
    }
