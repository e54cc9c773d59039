"""SARIF 2.1.0 -> the vulnerabilities table, or the policy table for conftest's SARIF.

SARIF has no package or fix fields, so scanners put them in text: grype and trivy both write
`Key: value` lines (`Package:`, `Installed Version:`/`Version:`, `Fixed Version:`/`Fix Version:`,
`Severity:`, `Vulnerability`) into the result message or the rule's help. We read those, and
fall back to the rule's `security-severity` (a CVSS score, as GitHub code scanning does) for
the severity. A result with neither is Unknown: SARIF's `level` says how loud a tool is, not
how severe a vulnerability is.
"""

from __future__ import annotations

import re
from typing import Any

from verification_pipeline.scans.document import Node, empty_to_none
from verification_pipeline.scans.parsed import Parsed, known_version
from verification_pipeline.scans.purl import purl_type
from verification_pipeline.scans.schemas import (
    POLICY_SCHEMA,
    VULNERABILITY_SCHEMA,
    frame,
    normalize_severity,
    policy_row,
    severity_from_cvss,
)

_POLICY_TOOLS = {"conftest"}
_KEY_LINE = re.compile(
    r"^[ \t]*(Package|Installed Version|Version|Fixed Version|Fix Version|Severity|Type)[ \t]*:[ \t]*(.*?)[ \t]*$",
    re.MULTILINE,
)
_VULNERABILITY_LINE = re.compile(r"^[ \t]*Vulnerability[ \t]+(\S+)", re.MULTILINE)
_KNOWN_ID = re.compile(r"CVE-\d{4}-\d{4,}|GHSA(?:-[0-9a-z]{4}){3}", re.IGNORECASE)
_NOT_FINDINGS = {"pass", "notapplicable", "informational"}


def parse_sarif(doc: Node) -> Parsed:
    vulns: list[dict[str, Any]] = []
    policies: dict[tuple[str, str | None], dict[str, Any]] = {}
    tools: list[tuple[str, str | None]] = []
    for run in doc["runs"].items():
        driver = run["tool"]["driver"]
        tool = (driver["name"].text() or "sarif").strip().lower()
        tools.append((tool, known_version(driver["version"].text())))
        rules = _RuleIndex(run)
        for result in run["results"].items():
            if _suppressed(result):
                continue
            if tool in _POLICY_TOOLS:
                _add_policy_result(policies, result, tool)
            elif (result["kind"].text() or "fail").lower() not in _NOT_FINDINGS:
                vulns.append(_vulnerability(result, rules.lookup(result), tool))
    tool, version = tools[0] if tools else ("sarif", None)
    return Parsed(
        tool=tool,
        tool_version=version,
        vulnerabilities=frame(vulns, VULNERABILITY_SCHEMA) if vulns or not policies else None,
        policies=frame(policies.values(), POLICY_SCHEMA) if policies else None,
    )


class _RuleIndex:
    """A run's rules, found by a result's ruleIndex (when it agrees) or its rule id."""

    def __init__(self, run: Node) -> None:
        self.ordered = list(run["tool"]["driver"]["rules"].items())
        self.by_id: dict[str, Node] = {}
        extension_rules = [rule for ext in run["tool"]["extensions"].items() for rule in ext["rules"].items()]
        for rule in self.ordered + extension_rules:
            if rule_id := rule["id"].text():
                self.by_id.setdefault(rule_id, rule)

    def lookup(self, result: Node) -> Node | None:
        rule_id = _rule_id(result)
        index = result["ruleIndex"].value
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(self.ordered):
            rule = self.ordered[index]
            if rule_id is None or rule["id"].text() == rule_id:
                return rule
        return self.by_id.get(rule_id) if rule_id else None


def _rule_id(result: Node) -> str | None:
    return result["ruleId"].text() or result["rule"]["id"].text()


def _suppressed(result: Node) -> bool:
    # a suppression without a status is accepted (SARIF 2.1.0 §3.35.3)
    return any((s["status"].text() or "accepted") == "accepted" for s in result["suppressions"].items())


def _texts(result: Node, rule: Node | None) -> list[str]:
    texts = [result["message"]["text"].text() or ""]
    if rule is not None:
        texts += [rule["help"]["text"].text() or "", rule["fullDescription"]["text"].text() or ""]
    return texts


def _fields(texts: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for text in texts:
        for key, value in _KEY_LINE.findall(text):
            found.setdefault(key, value)
    return found


def _vulnerability(result: Node, rule: Node | None, tool: str) -> dict[str, Any]:
    rule_id = _rule_id(result)
    texts = _texts(result, rule)
    fields = _fields(texts)
    fixed = fields.get("Fixed Version") or fields.get("Fix Version") or ""
    fixed_versions = [v.strip() for v in fixed.split(",") if v.strip()]
    purls = rule["properties"]["purls"].texts() if rule is not None else []
    purl = purls[0] if purls else None
    location = None
    for loc in result["locations"].items():
        location = loc["physicalLocation"]["artifactLocation"]["uri"].text()
        break
    return {
        "id": _vulnerability_id(rule_id, texts, result),
        "severity": _severity(fields.get("Severity"), result, rule),
        "package": empty_to_none(fields.get("Package")),
        "version": empty_to_none(fields.get("Installed Version") or fields.get("Version")),
        "package_type": empty_to_none(fields.get("Type")) or purl_type(purl),
        "purl": purl,
        # SARIF cannot say "won't fix" or "not fixed": without a fixed version we do not know
        "fix_state": "fixed" if fixed_versions else "unknown",
        "fixed_versions": fixed_versions,
        "source_tool": tool,
        "target": None,
        "location": empty_to_none(location),
    }


def _vulnerability_id(rule_id: str | None, texts: list[str], result: Node) -> str:
    for text in texts:
        if match := _VULNERABILITY_LINE.search(text):
            return match.group(1)
    if rule_id:
        # grype's rule ids are "<vulnerability>-<package>"
        match = _KNOWN_ID.match(rule_id)
        return match.group(0).upper() if match else rule_id
    raise result.error("result has neither ruleId nor rule.id")


def _severity(stated: str | None, result: Node, rule: Node | None) -> str:
    if stated and normalize_severity(stated) != "Unknown":
        return normalize_severity(stated)
    for props in (result["properties"], rule["properties"] if rule is not None else None):
        if props is not None and (score := props["security-severity"].number()) is not None:
            return severity_from_cvss(score)
    return "Unknown"


def _add_policy_result(
    policies: dict[tuple[str, str | None], dict[str, Any]], result: Node, tool: str
) -> None:
    # conftest's rule ids are "<namespace>/<deny|warn|allow|success|skip>"
    namespace, _, kind = (_rule_id(result) or "").rpartition("/")
    target = None
    for loc in result["locations"].items():
        target = empty_to_none(loc["physicalLocation"]["artifactLocation"]["uri"].text())
        break
    row = policies.setdefault(
        (namespace or kind, target),
        policy_row(namespace or kind, target, tool),
    )
    level = (result["level"].text() or "warning").lower()
    message = result["message"]["text"].text() or ""
    if level == "error":
        row["failed"] += 1
        row["messages"].append(f"deny: {message}")
    elif level == "warning":
        row["warnings"] += 1
        row["messages"].append(f"warn: {message}")
    elif level == "none" and kind == "success":
        row["passed"] += 1
    else:  # note = exception, none/skip = skipped
        row["skipped"] += 1
        row["messages"].append(f"{'exception' if level == 'note' else 'skip'}: {message}")
