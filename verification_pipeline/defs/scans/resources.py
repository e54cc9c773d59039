"""Where the scan reports come from, for a deployment."""

import dagster as dg


class ScanInputsResource(dg.ConfigurableResource):
    """Where CI's reports are, for a deployment; an asset's run config overrides each per run."""

    sbom_scan_dir: str = ""
    """Directory syft catalogs (VP_SBOM_SCAN_DIR); empty: the reference target's source plus the installed environment."""
    sbom_report: str = ""
    """An SBOM to import (VP_SBOM_REPORT)."""
    vulnerability_report: str = ""
    """grype/trivy/SARIF report (VP_VULN_REPORT)."""
    policy_report: str = ""
    """OPA/conftest report (VP_POLICY_REPORT): import mode. Empty: the policies are evaluated on the RC's commit."""
    policy_dir: str = ""
    """Rego policies the gate evaluates (VP_POLICY_DIR); empty: the RC's release line's (policy_lines)."""
    policy_files: str = ""
    """Comma-separated globs of repository paths the policies judge (VP_POLICY_FILES); empty: the release line's."""
    policy_lines: str = ""
    """The policies of each release line (VP_POLICY_LINES), a file in policy/lines.yaml's shape; empty: that file."""
    vulnerability_policy: str = ""
    """YAML vulnerability policy (VP_VULN_POLICY); empty: the built-in policy."""
