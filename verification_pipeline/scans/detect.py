"""Which scanner wrote a report, told from its content (file names in CI lie or say nothing)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from verification_pipeline.errors import FormatError, NoDataError


class ReportFormat(StrEnum):
    SYFT_JSON = "syft-json"
    CYCLONEDX_JSON = "cyclonedx-json"
    SPDX_JSON = "spdx-json"
    GRYPE_JSON = "grype-json"
    TRIVY_JSON = "trivy-json"
    SARIF = "sarif"
    OPA_EVAL = "opa-eval"
    OPA_TEST = "opa-test"
    CONFTEST_JSON = "conftest-json"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    ReportFormat.SYFT_JSON: "syft JSON (syft -o syft-json)",
    ReportFormat.CYCLONEDX_JSON: "CycloneDX JSON",
    ReportFormat.SPDX_JSON: "SPDX 2.x JSON",
    ReportFormat.GRYPE_JSON: "grype JSON (grype -o json)",
    ReportFormat.TRIVY_JSON: "trivy JSON (trivy --format json)",
    ReportFormat.SARIF: "SARIF 2.1.0",
    ReportFormat.OPA_EVAL: "OPA eval JSON (opa eval --format json)",
    ReportFormat.OPA_TEST: "OPA test JSON (opa test --format json)",
    ReportFormat.CONFTEST_JSON: "conftest JSON (conftest test --output json)",
}

ACCEPTED_FORMATS: tuple[ReportFormat, ...] = tuple(ReportFormat)

# Keys `opa eval --format json` may print beside its results.
_OPA_EVAL_KEYS = {"result", "errors", "metrics", "explanation", "profile", "coverage"}


def detect_format(doc: Any, source: str) -> ReportFormat:
    """The format of a decoded report, or a FormatError listing what we read and what we saw."""
    if isinstance(doc, dict):
        if not doc:
            raise NoDataError(
                "the report is an empty JSON object; `opa eval` prints {} for an undefined query, "
                "which cannot tell a pass from a fail",
                source=source,
                hint="query a rule that is always defined, e.g. `count(data.main.deny) == 0`",
            )
        found = _detect_object(doc)
    elif isinstance(doc, list):
        found = _detect_array(doc, source)
    else:
        found = None
    if found is None:
        raise unknown_format(doc, source)
    return found


def _detect_object(doc: dict[str, Any]) -> ReportFormat | None:
    if doc.get("bomFormat") == "CycloneDX":
        return ReportFormat.CYCLONEDX_JSON
    if isinstance(doc.get("spdxVersion"), str) and doc["spdxVersion"].startswith("SPDX-2."):
        return ReportFormat.SPDX_JSON
    if isinstance(doc.get("runs"), list) and (
        str(doc.get("version", "")).startswith("2.1") or "sarif" in str(doc.get("$schema", "")).lower()
    ):
        return ReportFormat.SARIF
    if isinstance(doc.get("matches"), list) and ("descriptor" in doc or "source" in doc):
        return ReportFormat.GRYPE_JSON
    if isinstance(doc.get("artifacts"), list) and ("schema" in doc or "descriptor" in doc):
        return ReportFormat.SYFT_JSON
    if "SchemaVersion" in doc and ("Results" in doc or "ArtifactName" in doc):
        return ReportFormat.TRIVY_JSON
    if doc and set(doc) <= _OPA_EVAL_KEYS and ("result" in doc or "errors" in doc):
        return ReportFormat.OPA_EVAL
    return None


def _detect_array(doc: list[Any], source: str) -> ReportFormat | None:
    if not doc:
        raise NoDataError(
            "the report is an empty JSON array: no test or policy results in it",
            source=source,
            hint="opa test and conftest print at least one result when they find any policy",
        )
    if not all(isinstance(item, dict) for item in doc):
        return None
    if all("package" in item and "name" in item for item in doc):
        return ReportFormat.OPA_TEST
    if all("filename" in item and "successes" in item for item in doc):
        return ReportFormat.CONFTEST_JSON
    return None


def unknown_format(doc: Any, source: str) -> FormatError:
    if isinstance(doc, dict):
        seen = f"top-level keys: {', '.join(sorted(doc)[:20])}"
    elif isinstance(doc, list):
        first = doc[0] if doc else None
        keys = ", ".join(sorted(first)[:20]) if isinstance(first, dict) else type(first).__name__
        seen = f"a top-level array whose first element has keys: {keys}"
    else:
        seen = f"a top-level {type(doc).__name__}, not an object or array"
    accepted = "; ".join(f.label for f in ACCEPTED_FORMATS)
    return FormatError(f"unknown report format; saw {seen}", source=source, hint=f"accepted: {accepted}")
