"""Counts for people and verdicts for the scan gates (what `scan_summary` and the checks carry).

Gates: the SBOM is present and lists components; the vulnerability policy is met; every policy
passes. A gate without the report it needs is INCONCLUSIVE, except the SBOM gate, whose claim
("an SBOM is present") is simply false without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from verification_pipeline.scans.crosscheck import missing_from_sbom
from verification_pipeline.scans.reports import ScanReport
from verification_pipeline.scans.schemas import FIX_STATES, SEVERITIES
from verification_pipeline.scans.vuln_policy import (
    PolicyEvaluation,
    VulnerabilityPolicy,
    evaluate_vulnerability_policy,
)
from verification_pipeline.verdict import Verdict, worst

_LISTED = 5  # findings named in a gate's reason; the tables hold all of them


def vulnerability_counts(vulnerabilities: pl.DataFrame) -> dict[str, Any]:
    """Total, per severity and per fix state, every category present even when zero."""
    by_severity = dict.fromkeys(SEVERITIES, 0)
    by_fix_state = dict.fromkeys(FIX_STATES, 0)
    for severity, fix_state in zip(
        vulnerabilities["severity"].cast(pl.Utf8).to_list(),
        vulnerabilities["fix_state"].cast(pl.Utf8).to_list(),
        strict=True,
    ):
        by_severity[severity] += 1
        by_fix_state[fix_state] += 1
    return {"total": vulnerabilities.height, "by_severity": by_severity, "by_fix_state": by_fix_state}


def policy_counts(policies: pl.DataFrame) -> dict[str, int]:
    totals = {col: int(policies[col].sum()) for col in ("passed", "failed", "warnings", "errors", "skipped")}
    return {"policies": policies.height, **totals}


def component_counts(components: pl.DataFrame) -> dict[str, Any]:
    by_type: dict[str, int] = {}
    for kind in components["type"].to_list():
        by_type[kind or "unknown"] = by_type.get(kind or "unknown", 0) + 1
    return {"total": components.height, "by_type": dict(sorted(by_type.items()))}


def report_summary(report: ScanReport) -> dict[str, Any]:
    """What one report holds, JSON-ready: its identity and the counts of each table it carries."""
    summary: dict[str, Any] = {
        "source": report.source,
        "format": report.format.value,
        "tool": report.tool,
        "tool_version": report.tool_version,
        "sha256": report.sha256,
    }
    if report.components is not None:
        summary["components"] = component_counts(report.components)
    if report.vulnerabilities is not None:
        summary["vulnerabilities"] = vulnerability_counts(report.vulnerabilities)
    if report.policies is not None:
        summary["policies"] = policy_counts(report.policies)
    return summary


@dataclass(frozen=True)
class GateResult:
    name: str
    verdict: Verdict
    reason: str
    figures: dict[str, Any] | None = None
    """The counts and thresholds the verdict follows from, signed with the gate so `verify`
    recomputes it (`evidence/verify/figures.py`); JSON-ready."""


@dataclass(frozen=True)
class ScanSummary:
    gates: tuple[GateResult, ...]
    evaluation: PolicyEvaluation | None
    missing_from_sbom: pl.DataFrame | None

    @property
    def verdict(self) -> Verdict:
        return worst(gate.verdict for gate in self.gates)

    def gate(self, name: str) -> GateResult:
        return next(g for g in self.gates if g.name == name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for asset metadata and the evidence bundle."""
        out: dict[str, Any] = {
            "verdict": self.verdict.value,
            "gates": [
                {"name": g.name, "verdict": g.verdict.value, "reason": g.reason, "figures": g.figures}
                for g in self.gates
            ],
        }
        if self.evaluation is not None:
            out["violations"] = [
                {k: r[k] for k in ("id", "severity", "package", "version", "fix_state", "rule")}
                for r in self.evaluation.violations.cast(
                    {"severity": pl.Utf8, "fix_state": pl.Utf8}
                ).iter_rows(named=True)
            ]
            out["allowlisted"] = [
                {
                    "id": r["id"],
                    "package": r["package"],
                    "version": r["version"],
                    "reason": r["allowlist_reason"],
                    "expires": r["allowlist_expires"].isoformat(),
                }
                for r in self.evaluation.allowlisted.iter_rows(named=True)
            ]
            out["expired_allowlist_entries"] = [
                {"id": e.id, "package": e.package, "expires": e.expires.isoformat()}
                for e in self.evaluation.expired_entries
            ]
        if self.missing_from_sbom is not None:
            out["missing_from_sbom"] = self.missing_from_sbom.to_dicts()
        return out


def _describe(rows: pl.DataFrame) -> str:
    named = [
        f"{r['id']} in {r['package']}" + (f" {r['version']}" if r["version"] else "")
        for r in rows.head(_LISTED).iter_rows(named=True)
    ]
    more = f" and {rows.height - _LISTED} more" if rows.height > _LISTED else ""
    return ", ".join(named) + more


def _sbom_gate(components: pl.DataFrame | None) -> GateResult:
    figures = {"components": None if components is None else components.height, "min_components": 1}
    if components is None:
        return GateResult("sbom_present", Verdict.FAIL, "no SBOM was produced or imported", figures)
    if components.height == 0:
        return GateResult("sbom_present", Verdict.FAIL, "the SBOM lists no components", figures)
    return GateResult("sbom_present", Verdict.PASS, f"the SBOM lists {components.height} components", figures)


def _vulnerability_figures(
    vulnerabilities: pl.DataFrame | None, evaluation: PolicyEvaluation | None, policy: VulnerabilityPolicy
) -> dict[str, Any]:
    """Findings by severity (all, and those with a fix), the policy's severities, the waived
    (allowlisted) breaches and the violations left: violations = breaching - waived, where
    breaching counts the findings of a `fail_on` severity plus the fixable ones of a
    `fail_on_fixable` severity."""
    figures: dict[str, Any] = {
        "fail_on": list(policy.fail_on),
        "fail_on_fixable": list(policy.fail_on_fixable),
        "max_violations": 0,
    }
    if vulnerabilities is None or evaluation is None:
        return figures | {
            "by_severity": None,
            "fixable_by_severity": None,
            "waived": None,
            "violations": None,
        }
    fixable = vulnerabilities.filter(pl.col("fix_state").cast(pl.Utf8) == "fixed")
    return figures | {
        "by_severity": vulnerability_counts(vulnerabilities)["by_severity"],
        "fixable_by_severity": vulnerability_counts(fixable)["by_severity"],
        "waived": evaluation.allowlisted.height,
        "violations": evaluation.violations.height,
    }


def _vulnerability_gate(
    evaluation: PolicyEvaluation | None, missing: pl.DataFrame | None, figures: dict[str, Any] | None = None
) -> GateResult:
    name = "vulnerability_policy_met"
    if evaluation is None:
        return GateResult(name, Verdict.INCONCLUSIVE, "no vulnerability report to judge", figures)
    notes = []
    if evaluation.allowlisted.height:
        notes.append(f"{evaluation.allowlisted.height} allowlisted")
    if evaluation.expired_entries:
        notes.append(f"{len(evaluation.expired_entries)} allowlist entries expired")
    if missing is not None and missing.height:
        notes.append(f"{missing.height} vulnerable packages missing from the SBOM")
    suffix = f" ({'; '.join(notes)})" if notes else ""
    if evaluation.violations.height:
        return GateResult(
            name,
            Verdict.FAIL,
            f"{evaluation.violations.height} findings breach the policy: {_describe(evaluation.violations)}{suffix}",
            figures,
        )
    return GateResult(name, Verdict.PASS, f"no finding breaches the policy{suffix}", figures)


def _policies_gate(policies: pl.DataFrame | None) -> GateResult:
    name = "policies_pass"
    if policies is None:
        figures: dict[str, Any] = {"counts": None, "max_failures": 0}
        return GateResult(name, Verdict.INCONCLUSIVE, "no policy report to judge", figures)
    counts = policy_counts(policies)
    figures = {"counts": counts, "max_failures": 0}
    if counts["failed"] or counts["errors"]:
        failing = policies.filter((pl.col("failed") > 0) | (pl.col("errors") > 0))["policy"].to_list()
        shown = ", ".join(failing[:_LISTED]) + (
            f" and {len(failing) - _LISTED} more" if len(failing) > _LISTED else ""
        )
        return GateResult(
            name,
            Verdict.FAIL,
            f"{counts['failed']} failed and {counts['errors']} errors in: {shown}",
            figures,
        )
    if counts["passed"] == 0:
        return GateResult(
            name, Verdict.INCONCLUSIVE, "the policy report holds no passing or failing result", figures
        )
    warnings = f" ({counts['warnings']} warnings)" if counts["warnings"] else ""
    return GateResult(name, Verdict.PASS, f"{counts['passed']} passed, none failed{warnings}", figures)


def summarize_scans(
    *,
    components: pl.DataFrame | None,
    vulnerabilities: pl.DataFrame | None,
    policies: pl.DataFrame | None,
    vulnerability_policy: VulnerabilityPolicy | None = None,
    today: date | None = None,
) -> ScanSummary:
    """Judge the three scan gates from the normalized tables (None = that report is absent)."""
    evaluation = None
    policy = vulnerability_policy or VulnerabilityPolicy()
    if vulnerabilities is not None:
        evaluation = evaluate_vulnerability_policy(vulnerabilities, policy, today=today)
    missing = None
    if vulnerabilities is not None and components is not None:
        missing = missing_from_sbom(vulnerabilities, components)
    return ScanSummary(
        gates=(
            _sbom_gate(components),
            _vulnerability_gate(
                evaluation, missing, _vulnerability_figures(vulnerabilities, evaluation, policy)
            ),
            _policies_gate(policies),
        ),
        evaluation=evaluation,
        missing_from_sbom=missing,
    )
