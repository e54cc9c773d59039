"""OPA output -> the policy table: `opa test --format json` and `opa eval --format json`.

`opa test`: one row per test; a test passes unless it has `fail`, an `error` (present at all:
OPA omits it when nil, and an error without fields still serializes as `{}`) or `skip`.

`opa eval` only prints values, so the verdict depends on what was queried. We read a value the
way CI gates use it: `true` passes and `false` fails (an `allow` query); a collection is a set of
violations (a `deny` query: empty passes, each element is a failure message); a string or an
object with `msg` is one violation (a `deny[msg]` query prints one result per message); an
object with deny/violation/warn keys (querying a whole package) is read key by key. Any other
value cannot be judged and counts as an error, so an unreadable gate never passes.
"""

from __future__ import annotations

import json
from typing import Any

from verification_pipeline.scans.document import Node
from verification_pipeline.scans.parsed import Parsed
from verification_pipeline.scans.schemas import POLICY_SCHEMA, frame, policy_row

_FAIL_KEYS = ("deny", "violation", "violations")
_WARN_KEYS = ("warn", "warning", "warnings")


def _row(policy: str, target: str | None = None) -> dict[str, Any]:
    return policy_row(policy, target, "opa")


def parse_opa_test(doc: Node) -> Parsed:
    rows = []
    for test in doc.items():
        package = test["package"].text() or ""
        name = test["name"].required_text()
        location = test["location"]
        row = _row(f"{package}.{name}" if package else name, location["file"].text() or None)
        where = _where(location)
        if test.has("error"):
            row["errors"] = 1
            error = test["error"]
            message = error["message"].text() if isinstance(error.value, dict) else error.text()
            row["messages"].append(f"error{where}: {message or 'test raised an error'}")
        elif test["fail"].flag():
            row["failed"] = 1
            failing = _failing_sub_results(test["sub_results"], "")
            detail = f" (failing cases: {', '.join(failing)})" if failing else ""
            row["messages"].append(f"failed{where}{detail}")
        elif test["skip"].flag():
            row["skipped"] = 1
        else:
            row["passed"] = 1
        rows.append(row)
    return Parsed(tool="opa", policies=frame(rows, POLICY_SCHEMA))


def _where(location: Node) -> str:
    file = location["file"].text()
    row = location["row"].value
    if not file:
        return ""
    return f" at {file}:{row}" if isinstance(row, int) and row > 0 else f" in {file}"


def _failing_sub_results(sub_results: Node, prefix: str) -> list[str]:
    """Leaf cases of a table-driven test that failed, as slash paths (`two/foo`)."""
    failing = []
    for key, sub in sub_results.entries():
        path = f"{prefix}/{key}" if prefix else key
        nested = _failing_sub_results(sub["sub_results"], path)
        if nested:
            failing += nested
        elif sub["fail"].flag() and sub["sub_results"].missing:
            failing.append(path)
    return failing


def parse_opa_eval(doc: Node) -> Parsed:
    rows: dict[str, dict[str, Any]] = {}
    errors = list(doc["errors"].items())
    if errors:
        row = rows.setdefault("opa eval", _row("opa eval"))
        for error in errors:
            row["errors"] += 1
            location = error["location"]
            where = _where(location)
            row["target"] = row["target"] or location["file"].text() or None
            row["messages"].append(
                f"{error['code'].text() or 'error'}{where}: {error['message'].text() or ''}"
            )
    for result in doc["result"].items():
        for expression in result["expressions"].items():
            text = expression["text"].text() or "(query)"
            _judge(rows.setdefault(text, _row(text)), expression["value"].value)
    return Parsed(tool="opa", policies=frame(rows.values(), POLICY_SCHEMA))


def _message(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and isinstance(item.get("msg"), str):
        return item["msg"]
    return json.dumps(item, sort_keys=True)


def _judge(row: dict[str, Any], value: Any) -> None:
    if isinstance(value, bool):
        row["passed" if value else "failed"] += 1
        if not value:
            row["messages"].append("query is false")
    elif isinstance(value, list):
        if not value:
            row["passed"] += 1
        row["failed"] += len(value)
        row["messages"] += [_message(item) for item in value]
    elif isinstance(value, str) or (isinstance(value, dict) and "msg" in value):
        row["failed"] += 1
        row["messages"].append(_message(value))
    elif isinstance(value, dict) and any(key in value for key in (*_FAIL_KEYS, *_WARN_KEYS, "allow")):
        _judge_package(row, value)
    else:
        row["errors"] += 1
        row["messages"].append(
            f"cannot judge a value of type {type(value).__name__}: query a boolean (allow) or a set of "
            "violation messages (deny)"
        )


def _judge_package(row: dict[str, Any], value: dict[str, Any]) -> None:
    """A whole package queried at once: {"deny": [...], "warn": [...], "allow": bool}."""
    failures = 0
    for key in _FAIL_KEYS:
        if isinstance(value.get(key), list):
            failures += len(value[key])
            row["messages"] += [f"{key}: {_message(item)}" for item in value[key]]
    for key in _WARN_KEYS:
        if isinstance(value.get(key), list):
            row["warnings"] += len(value[key])
            row["messages"] += [f"{key}: {_message(item)}" for item in value[key]]
    if value.get("allow") is False:
        failures += 1
        row["messages"].append("allow is false")
    # warnings alone never fail a gate, as in conftest
    row["failed"] += failures
    row["passed"] += 1 if failures == 0 else 0
