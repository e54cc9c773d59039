"""Scan reports: SBOMs, vulnerability reports and policy results, normalized into polars tables.

Entry points for the Dagster layer and the CLI (all plain functions on bytes and frames):

- `parse_sbom`, `parse_vulnerability_report`, `parse_policy_report`, `parse_report`
  (bytes + source name -> ScanReport with the tables and the original bytes);
- `run_syft` (directory -> syft JSON bytes), `portable_sbom` (its machine paths named portably), `syft_version`;
- `load_vulnerability_policy`, `evaluate_vulnerability_policy`;
- `missing_from_sbom`; `summarize_scans` (-> ScanSummary with the gate verdicts);
- `report_summary` (counts for one report).
"""

from verification_pipeline.scans.crosscheck import MISSING_SCHEMA, missing_from_sbom
from verification_pipeline.scans.detect import ACCEPTED_FORMATS, ReportFormat
from verification_pipeline.scans.reports import (
    ReportKind,
    ScanReport,
    parse_policy_report,
    parse_report,
    parse_sbom,
    parse_vulnerability_report,
)
from verification_pipeline.scans.schemas import (
    COMPONENT_SCHEMA,
    FIX_STATES,
    POLICY_SCHEMA,
    SEVERITIES,
    VULNERABILITY_SCHEMA,
)
from verification_pipeline.scans.summary import (
    GateResult,
    ScanSummary,
    component_counts,
    policy_counts,
    report_summary,
    summarize_scans,
    vulnerability_counts,
)
from verification_pipeline.scans.syft_runner import portable_sbom, run_syft, syft_version
from verification_pipeline.scans.vuln_policy import (
    ALLOWLISTED_SCHEMA,
    VIOLATION_SCHEMA,
    AllowlistEntry,
    PolicyEvaluation,
    VulnerabilityPolicy,
    evaluate_vulnerability_policy,
    load_vulnerability_policy,
)

__all__ = [
    "ACCEPTED_FORMATS",
    "ALLOWLISTED_SCHEMA",
    "COMPONENT_SCHEMA",
    "FIX_STATES",
    "MISSING_SCHEMA",
    "POLICY_SCHEMA",
    "SEVERITIES",
    "VIOLATION_SCHEMA",
    "VULNERABILITY_SCHEMA",
    "AllowlistEntry",
    "GateResult",
    "PolicyEvaluation",
    "ReportFormat",
    "ReportKind",
    "ScanReport",
    "ScanSummary",
    "VulnerabilityPolicy",
    "component_counts",
    "evaluate_vulnerability_policy",
    "load_vulnerability_policy",
    "missing_from_sbom",
    "parse_policy_report",
    "parse_report",
    "parse_sbom",
    "parse_vulnerability_report",
    "policy_counts",
    "portable_sbom",
    "report_summary",
    "run_syft",
    "summarize_scans",
    "syft_version",
    "vulnerability_counts",
]
