"""Cost per request (cost/resources.json) as the rows the release documents show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MIB = 1 << 20


def _number(value: float | None, form: str) -> str:
    return "n/a" if value is None else format(value, form)


def cost_summary(document: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Verdict, reason and one row per (phase, source) with its baseline figure and change; None without a document."""
    if not document:
        return None
    changes = {(c["phase"], c["source"]): c for c in document.get("comparisons") or []}
    rows = []
    for phase, figures in (document.get("phases") or {}).items():
        for source, f in figures["sources"].items():
            compared = changes.get((phase, source))
            rows.append(
                {
                    "phase": phase,
                    "source": "PromQL" if source == "promql" else "/metrics",
                    "cpu": _number(f.get("cpu_seconds_per_1000_requests"), ".3f"),
                    "requests": _number(f.get("requests"), ",.0f"),
                    "baseline": _number(
                        compared and compared["baseline_cpu_seconds_per_1000_requests"], ".3f"
                    ),
                    "change": _number(compared and compared["increase_pct"], "+.0f")
                    + (" %" if compared else ""),
                    "memory": _number(
                        None
                        if f.get("peak_resident_memory_bytes") is None
                        else f["peak_resident_memory_bytes"] / MIB,
                        ".1f",
                    ),
                    "cache": _number(f.get("cache_hit_ratio"), ".3f"),
                    "refused": _number(f.get("limiter_refused"), ",.0f"),
                }
            )
    not_read = [
        f"{phase} {source}: {note}"
        for phase, notes in (document.get("not_read") or {}).items()
        for source, note in notes.items()
    ]
    return {
        "verdict": document["verdict"],
        "reason": document["reason"],
        "rows": rows,
        "not_read": not_read,
        "baseline": _baseline(document.get("baseline")),
    }


def _baseline(baseline: Mapping[str, Any] | None) -> str | None:
    """Where the Baseline column's figures come from (None: no baseline)."""
    if not baseline:
        return None
    if baseline.get("design") == "concurrent":
        return f"{baseline['rc']}'s deployment, read beside this RC in the same run (concurrent design)"
    return f"{baseline['rc']}'s signed cost figures (its bundle)"
