"""grype JSON (`grype -o json`) -> the vulnerabilities table (one row per match)."""

from __future__ import annotations

from verification_pipeline.scans.document import Node, empty_to_none
from verification_pipeline.scans.parsed import Parsed, known_version
from verification_pipeline.scans.schemas import FIX_STATES, VULNERABILITY_SCHEMA, frame, vulnerability_row

# Where a grype match holds each text column of the vulnerability table: (its object, the field).
_FIELDS = {
    "id": ("vulnerability", "id"),
    "severity": ("vulnerability", "severity"),
    "package": ("artifact", "name"),
    "version": ("artifact", "version"),
    "package_type": ("artifact", "type"),
    "purl": ("artifact", "purl"),
}


def parse_grype_json(doc: Node) -> Parsed:
    target = _target(doc["source"])
    rows = []
    for match in doc["matches"].items():
        fix = match["vulnerability"]["fix"]
        fixed_versions = fix["versions"].texts()
        locations = list(match["artifact"]["locations"].items())
        location = locations[0]["path"].text() if locations else None
        fields = {column: match[part][field] for column, (part, field) in _FIELDS.items()}
        fix_state = _fix_state(fix["state"].text(), fixed_versions)
        rows.append(vulnerability_row(fields, fixed_versions, fix_state, "grype", target, location))
    return Parsed(
        tool="grype",
        tool_version=known_version(doc["descriptor"]["version"].text()),
        vulnerabilities=frame(rows, VULNERABILITY_SCHEMA),
    )


def _fix_state(state: str | None, fixed_versions: list[str]) -> str:
    # grype writes "" for matches whose fix state it never looked up
    state = (state or "").strip().lower()
    if state in FIX_STATES and state != "unknown":
        return state
    return "fixed" if fixed_versions else "unknown"


def _target(source: Node) -> str | None:
    target = source["target"]
    if isinstance(target.value, dict):  # images: an object with the reference the user gave
        return empty_to_none(target["userInput"].text())
    text = target.text()
    return None if text in (None, "", "unknown") else text
