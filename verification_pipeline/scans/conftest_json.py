"""conftest JSON (`conftest test --output json`) -> the policy table, one row per file and namespace."""

from __future__ import annotations

from verification_pipeline.scans.document import Node
from verification_pipeline.scans.parsed import Parsed
from verification_pipeline.scans.schemas import POLICY_SCHEMA, frame


def parse_conftest_json(doc: Node) -> Parsed:
    rows = []
    for check in doc.items():
        messages: list[str] = []
        counts = {}
        for key, label in (
            ("failures", "deny"),
            ("warnings", "warn"),
            ("exceptions", "exception"),
            ("skipped", "skip"),
        ):
            results = list(check[key].items())
            counts[key] = len(results)
            messages += [f"{label}: {_message(result)}" for result in results]
        rows.append(
            {
                # older conftest output has no namespace key; conftest's default namespace is main
                "policy": check["namespace"].text() or "main",
                "target": check["filename"].text() or None,
                "passed": check["successes"].count(),
                "failed": counts["failures"],
                "warnings": counts["warnings"],
                "errors": 0,
                "skipped": counts["exceptions"] + counts["skipped"],
                "messages": messages,
                "source_tool": "conftest",
            }
        )
    return Parsed(tool="conftest", policies=frame(rows, POLICY_SCHEMA))


def _message(result: Node) -> str:
    message = result["msg"].text() or ""
    location = result["loc"]
    if file := location["file"].text():
        line = location["line"].text()
        return f"{message} ({file}:{line})" if line else f"{message} ({file})"
    return message
