"""The three normalized scan tables and the vocabularies their columns use.

Every parser returns frames with exactly these schemas, so the assets, the gates and the CLI
never have to care which scanner produced a row. An empty report gives an empty frame with the
same schema, not a frame without columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl
from polars.datatypes import DataTypeClass

from verification_pipeline.scans.document import Node, empty_to_none

SEVERITIES: tuple[str, ...] = ("Critical", "High", "Medium", "Low", "Negligible", "Unknown")
FIX_STATES: tuple[str, ...] = ("fixed", "not-fixed", "wont-fix", "unknown")

SEVERITY = pl.Enum(list(SEVERITIES))
FIX_STATE = pl.Enum(list(FIX_STATES))


def schema(columns: Mapping[str, pl.DataType | DataTypeClass]) -> pl.Schema:
    """`pl.Schema` of `columns`: typed so that a dict mixing dtype classes (`pl.Utf8`) and
    instances (`pl.List(...)`) checks, which polars' own signature infers as dict[str, object]."""
    return pl.Schema(columns)


COMPONENT_SCHEMA = schema(
    {
        "name": pl.Utf8,
        "version": pl.Utf8,
        "type": pl.Utf8,  # ecosystem where known (apk, python, go-module...), else the SBOM's own kind
        "purl": pl.Utf8,
        "licenses": pl.List(pl.Utf8),
    }
)

VULNERABILITY_SCHEMA = schema(
    {
        "id": pl.Utf8,
        "severity": SEVERITY,
        "package": pl.Utf8,
        "version": pl.Utf8,
        "package_type": pl.Utf8,
        "purl": pl.Utf8,
        "fix_state": FIX_STATE,
        "fixed_versions": pl.List(pl.Utf8),
        "source_tool": pl.Utf8,
        "target": pl.Utf8,  # what was scanned (image, directory, lock file), where the report says
        "location": pl.Utf8,  # where inside the target the package was found
    }
)

POLICY_SCHEMA = schema(
    {
        "policy": pl.Utf8,  # namespace, package.test name, or query text
        "target": pl.Utf8,  # the file or input the policy was evaluated against, where known
        "passed": pl.Int64,
        "failed": pl.Int64,
        "warnings": pl.Int64,
        "errors": pl.Int64,
        "skipped": pl.Int64,  # skipped tests, conftest exceptions and skips
        "messages": pl.List(pl.Utf8),
        "source_tool": pl.Utf8,
    }
)

_SEVERITY_WORDS = {
    "critical": "Critical",
    "high": "High",
    "important": "High",  # Red Hat's word for High
    "medium": "Medium",
    "moderate": "Medium",  # GitHub advisories and Red Hat
    "low": "Low",
    "negligible": "Negligible",
    "info": "Negligible",
    "informational": "Negligible",
    "none": "Negligible",
}


def normalize_severity(value: str | None) -> str:
    """Map a scanner's severity word, in any casing, onto SEVERITIES; anything else is Unknown."""
    if not value:
        return "Unknown"
    return _SEVERITY_WORDS.get(value.strip().lower(), "Unknown")


def severity_from_cvss(score: float) -> str:
    """The CVSS v3 qualitative band, as GitHub code scanning reads SARIF `security-severity`."""
    if score >= 9.0:
        return "Critical"
    if score >= 7.0:
        return "High"
    if score >= 4.0:
        return "Medium"
    if score >= 0.1:
        return "Low"
    return "Negligible"


def frame(rows: Iterable[Mapping[str, Any]], schema: pl.Schema) -> pl.DataFrame:
    """Rows (dicts with exactly the schema's keys) as a frame with that schema, even when empty."""
    return pl.DataFrame(list(rows), schema=schema)


def vulnerability_row(
    fields: Mapping[str, Node],
    fixed_versions: list[str],
    fix_state: str,
    tool: str,
    target: str | None,
    location: str | None,
) -> dict[str, Any]:
    """A row of `VULNERABILITY_SCHEMA` from the report's fields of its text columns (id, severity,
    package, version, package_type, purl): id and package required, the severity word normalized,
    the others None where empty."""
    return {
        "id": fields["id"].required_text(),
        "severity": normalize_severity(fields["severity"].text()),
        "package": fields["package"].required_text(),
        **{column: empty_to_none(fields[column].text()) for column in ("version", "package_type", "purl")},
        "fix_state": fix_state,
        "fixed_versions": fixed_versions,
        "source_tool": tool,
        "target": target,
        "location": location,
    }


def policy_row(policy: str, target: str | None, tool: str) -> dict[str, Any]:
    """A policy's row of `POLICY_SCHEMA` before any result is counted into it."""
    return {
        "policy": policy,
        "target": target,
        "passed": 0,
        "failed": 0,
        "warnings": 0,
        "errors": 0,
        "skipped": 0,
        "messages": [],
        "source_tool": tool,
    }
