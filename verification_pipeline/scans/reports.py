"""Entry points: report bytes in, a ScanReport with normalized tables and the original bytes out.

Parsers take bytes and a source name (a path or an s3:// URI) so the same code reads a local
file, an object from the store or a test literal; the original bytes stay in the report because
the evidence bundle keeps the scanner's own file, not our rendering of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from verification_pipeline.errors import FormatError
from verification_pipeline.jsonio import decode_json
from verification_pipeline.scans.conftest_json import parse_conftest_json
from verification_pipeline.scans.detect import ReportFormat, detect_format
from verification_pipeline.scans.document import Node
from verification_pipeline.scans.grype import parse_grype_json
from verification_pipeline.scans.opa import parse_opa_eval, parse_opa_test
from verification_pipeline.scans.parsed import Parsed
from verification_pipeline.scans.sarif import parse_sarif
from verification_pipeline.scans.sbom import parse_cyclonedx_json, parse_spdx_json, parse_syft_json
from verification_pipeline.scans.trivy import parse_trivy_json


class ReportKind(StrEnum):
    SBOM = "sbom"
    VULNERABILITIES = "vulnerabilities"
    POLICY = "policy"


_PARSERS: dict[ReportFormat, Callable[[Node], Parsed]] = {
    ReportFormat.SYFT_JSON: parse_syft_json,
    ReportFormat.CYCLONEDX_JSON: parse_cyclonedx_json,
    ReportFormat.SPDX_JSON: parse_spdx_json,
    ReportFormat.GRYPE_JSON: parse_grype_json,
    ReportFormat.TRIVY_JSON: parse_trivy_json,
    ReportFormat.SARIF: parse_sarif,
    ReportFormat.OPA_EVAL: parse_opa_eval,
    ReportFormat.OPA_TEST: parse_opa_test,
    ReportFormat.CONFTEST_JSON: parse_conftest_json,
}

# Which formats can carry each kind (for the message when a file of the wrong kind is given).
FORMATS_BY_KIND: dict[ReportKind, tuple[ReportFormat, ...]] = {
    ReportKind.SBOM: (ReportFormat.SYFT_JSON, ReportFormat.CYCLONEDX_JSON, ReportFormat.SPDX_JSON),
    ReportKind.VULNERABILITIES: (ReportFormat.GRYPE_JSON, ReportFormat.TRIVY_JSON, ReportFormat.SARIF),
    ReportKind.POLICY: (
        ReportFormat.OPA_EVAL,
        ReportFormat.OPA_TEST,
        ReportFormat.CONFTEST_JSON,
        ReportFormat.SARIF,  # conftest --output sarif
        ReportFormat.TRIVY_JSON,  # trivy config scans (misconfigurations)
    ),
}


@dataclass(frozen=True)
class ScanReport:
    """One scanner report: where it came from, its bytes, and the tables it holds.

    A table is None when the report cannot carry it (a grype report has no policy results);
    an empty frame means the report carries it and it is empty (grype found nothing).
    """

    source: str
    format: ReportFormat
    tool: str
    tool_version: str | None
    raw: bytes
    components: pl.DataFrame | None = None
    vulnerabilities: pl.DataFrame | None = None
    policies: pl.DataFrame | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def kinds(self) -> tuple[ReportKind, ...]:
        present = {
            ReportKind.SBOM: self.components,
            ReportKind.VULNERABILITIES: self.vulnerabilities,
            ReportKind.POLICY: self.policies,
        }
        return tuple(kind for kind, table in present.items() if table is not None)


def parse_report(data: bytes, source: str) -> ScanReport:
    """Detect the format of report bytes by content and normalize them.

    Raises FormatError (empty, not JSON, truncated, unknown format, wrong field types) or
    NoDataError (a report that holds nothing to judge), naming `source` and the position.
    """
    doc = decode_json(data, source, expected="a JSON scan report", hint=_hint_for, utf16=True)
    fmt = detect_format(doc, source)
    parsed = _PARSERS[fmt](Node.root(doc, source))
    # what the parser read (the tool, its version, the tables) under the same names
    return ScanReport(source=source, format=fmt, raw=data, **vars(parsed))


def _hint_for(text: str) -> str:
    start = text.lstrip()
    if not start:
        return "check that the scanner ran and wrote its report to this file"
    if start.startswith("<"):
        return "this looks like XML; have the scanner write JSON (e.g. syft -o cyclonedx-json)"
    if start.startswith(("SPDXVersion:", "##")):
        return "this looks like SPDX tag-value; have the scanner write SPDX JSON (e.g. syft -o spdx-json)"
    return "re-run the scanner or re-download the report"


def _require(data: bytes, source: str, kind: ReportKind) -> ScanReport:
    report = parse_report(data, source)
    if kind not in report.kinds:
        accepted = "; ".join(f.label for f in FORMATS_BY_KIND[kind])
        raise FormatError(
            f"expected a {kind.value} report but this is {report.format.label} with no {kind.value} results",
            source=source,
            hint=f"accepted for {kind.value}: {accepted}",
        )
    return report


def parse_sbom(data: bytes, source: str) -> ScanReport:
    """An SBOM (syft JSON, CycloneDX JSON, SPDX 2.x JSON); `.components` is set."""
    return _require(data, source, ReportKind.SBOM)


def parse_vulnerability_report(data: bytes, source: str) -> ScanReport:
    """A vulnerability report (grype JSON, trivy JSON, SARIF); `.vulnerabilities` is set."""
    return _require(data, source, ReportKind.VULNERABILITIES)


def parse_policy_report(data: bytes, source: str) -> ScanReport:
    """A policy report (opa eval/test, conftest JSON or SARIF, trivy config); `.policies` is set."""
    return _require(data, source, ReportKind.POLICY)
