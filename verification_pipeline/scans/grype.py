"""grype JSON (`grype -o json`) -> the vulnerabilities table (one row per match)."""

from __future__ import annotations

from verification_pipeline.scans.document import Node, empty_to_none
from verification_pipeline.scans.parsed import Parsed, known_version
from verification_pipeline.scans.schemas import FIX_STATES, VULNERABILITY_SCHEMA, frame, normalize_severity


def parse_grype_json(doc: Node) -> Parsed:
    target = _target(doc["source"])
    rows = []
    for match in doc["matches"].items():
        vuln = match["vulnerability"]
        artifact = match["artifact"]
        fixed_versions = vuln["fix"]["versions"].texts()
        locations = list(artifact["locations"].items())
        rows.append(
            {
                "id": vuln["id"].required_text(),
                "severity": normalize_severity(vuln["severity"].text()),
                "package": artifact["name"].required_text(),
                "version": empty_to_none(artifact["version"].text()),
                "package_type": empty_to_none(artifact["type"].text()),
                "purl": empty_to_none(artifact["purl"].text()),
                "fix_state": _fix_state(vuln["fix"]["state"].text(), fixed_versions),
                "fixed_versions": fixed_versions,
                "source_tool": "grype",
                "target": target,
                "location": locations[0]["path"].text() if locations else None,
            }
        )
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
