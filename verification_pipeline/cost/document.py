"""`cost/resources.json`: per phase and source the service's CPU per 1,000 requests, peak memory,
cache hit ratio and limiter refusals, compared with the baseline RC's, and the cost gate.

Every figure is a function of the raw samples (raw/cost.parquet): a counter's figure is its
increase over the phase (a drop, a restarted process, counts from zero again, as PromQL's
`increase` does; reads of the source before the counter's first series read 0, as a labelled
counter has none until it first counts), a gauge's its highest value read. The gate compares the preferred source of
each phase (PromQL, which sees every pod, else the scrape) with the baseline's figure for the
same phase: more than `max_cpu_per_request_increase_pct` higher is WARN, or FAIL under
`on_increase: fail`. Nothing read is WARN (NOT MEASURED), never a pass; measured with no
baseline to compare with is PASS, and says so.

The baseline's figure comes from one of two designs (`baseline.design`). Sequential: the
baseline RC's own signed cost/resources.json (`baseline_block`). Concurrent: the baseline
deployment, loaded beside this RC in the same run, had its /metrics read at the same moments
(rows whose source ends in `BASELINE_SIDE`); its figures are computed here from those rows, kept
under `baseline_phases`, and a baseline that could not be read is WARN, never a pass. Documents
made before the field have no `design` (sequential).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import polars as pl

from verification_pipeline.cost.schema import BASELINE_SIDE
from verification_pipeline.cost.spec import COUNTERS, PHASES, CostPolicy

SCHEMA = "urn:verification-pipeline:cost-resources:v1"
SOURCES = ("promql", "scrape")
"""In order of preference: PromQL sums every pod, the scrape sees the one process it reached."""
SEQUENTIAL, CONCURRENT = "sequential", "concurrent"
"""`baseline.design`: the baseline RC's signed figures, or its deployment read beside this RC."""


def increase(values: list[float]) -> float:
    """A counter's increase over consecutive reads; a drop is a restart, counted from zero."""
    total = 0.0
    for before, after in itertools.pairwise(values):
        total += after - before if after >= before else after
    return total


def phase_figures(rows: pl.DataFrame) -> dict[str, Any]:
    """One phase's figures from one source's rows (ts, quantity, value)."""
    series = {
        q: group.sort("ts")["value"].to_list()
        for (q,), group in rows.group_by("quantity", maintain_order=True)
    }
    times = rows["ts"].to_list()
    # a labelled counter has no series until its first count: reads of the source before it appears read 0
    first_seen = {q: group["ts"].min() for (q,), group in rows.group_by("quantity")}
    counted = {
        q: increase([0.0] * sum(1 for t in set(times) if t < first_seen[q]) + series[q])
        for q in COUNTERS
        if q in series and len(set(times)) >= 2
    }
    cpu, requests = counted.get("cpu_seconds"), counted.get("requests")
    hits, misses = counted.get("cache_hits"), counted.get("cache_misses")
    memory = series.get("resident_memory_bytes")
    return {
        "reads": len(set(times)),
        "duration_s": round(max(times) - min(times), 3) if times else 0.0,
        "cpu_seconds": cpu,
        "requests": requests,
        "cpu_seconds_per_1000_requests": cpu / requests * 1000.0 if cpu is not None and requests else None,
        "peak_resident_memory_bytes": max(memory) if memory else None,
        "cache_hits": hits,
        "cache_misses": misses,
        "cache_hit_ratio": hits / (hits + misses)
        if hits is not None and misses is not None and hits + misses
        else None,
        "limiter_refused": counted.get("limiter_refused"),
    }


def cost_document(
    rows: pl.DataFrame,
    *,
    policy: Mapping[str, Any],
    notes: Mapping[str, Mapping[str, str]],
    baseline: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The document from the raw rows, the policy's figures, why a source was not read, and the
    baseline (`{"rc": ..., "bundle_uri": ..., "design": ..., "phases": {phase: {"source": s, "cpu_seconds_per_1000_requests": x}}}`,
    or `{"rc": ..., "reason": ...}` when it has no cost evidence, or None without a baseline; under
    the concurrent design its phases are computed here from the rows tagged `BASELINE_SIDE`)."""
    beside = pl.col("source").str.ends_with(BASELINE_SIDE)
    phases = _phases(rows.filter(~beside))
    extra: dict[str, Any] = {}
    if baseline is not None and baseline.get("design") == CONCURRENT:
        measured = _phases(rows.filter(beside).with_columns(pl.col("source").str.strip_suffix(BASELINE_SIDE)))
        baseline = _measured_beside(baseline, measured, notes)
        extra["baseline_phases"] = measured
    comparisons = _compare(phases, baseline, policy)
    verdict, reason = _gate(phases, comparisons, baseline, policy, notes)
    return {
        "schema": SCHEMA,
        "verdict": verdict,
        "reason": reason,
        "policy": dict(policy),
        "not_read": {phase: dict(n) for phase, n in notes.items() if n},
        "phases": phases,
        "cpu_seconds_per_1000_requests": _headline(phases),
        "baseline": None if baseline is None else dict(baseline),
        "comparisons": comparisons,
        **extra,
    }


def _phases(rows: pl.DataFrame) -> dict[str, Any]:
    """Per phase (in the order they run) each source's figures and the preferred source."""
    phases: dict[str, Any] = {}
    for phase in [p for p in PHASES if p in set(rows["phase"].to_list())] + sorted(
        set(rows["phase"].to_list()) - set(PHASES)
    ):
        of_phase = rows.filter(pl.col("phase") == phase)
        sources = {
            source: phase_figures(of_phase.filter(pl.col("source") == source))
            for source in SOURCES
            if of_phase.filter(pl.col("source") == source).height
        }
        preferred = next(
            (s for s in SOURCES if sources.get(s, {}).get("cpu_seconds_per_1000_requests") is not None), None
        )
        phases[phase] = {"sources": sources, "preferred_source": preferred}
    return phases


def _measured_beside(
    baseline: Mapping[str, Any], measured: Mapping[str, Any], notes: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    """The concurrent baseline's block: its preferred figure per phase, from its own rows of this run."""
    phases = {
        phase: {
            "source": figures["preferred_source"],
            "cpu_seconds_per_1000_requests": figures["sources"][figures["preferred_source"]][
                "cpu_seconds_per_1000_requests"
            ],
        }
        for phase, figures in measured.items()
        if figures["preferred_source"]
    }
    why = "; ".join(
        f"{phase} {source.removesuffix(BASELINE_SIDE)}: {note}"
        for phase, n in notes.items()
        for source, note in n.items()
        if source.endswith(BASELINE_SIDE)
    )
    reason = (
        None
        if phases
        else f"the resource figures of baseline {baseline['rc']}'s deployment, loaded beside this RC, "
        f"could not be read ({why or 'no CPU seconds per request in its rows'})"
    )
    return {**baseline, "phases": phases, "reason": reason}


def _against(baseline: Mapping[str, Any] | None) -> str:
    """The baseline as the gate's reason names it."""
    if baseline is None:
        return "the baseline"
    if baseline.get("design") == CONCURRENT:
        return f"{baseline['rc']} (measured beside it, concurrent design)"
    return str(baseline["rc"])


def _headline(phases: Mapping[str, Any]) -> float | None:
    """The first phase's preferred figure: what the release notes and the report lead with."""
    for figures in phases.values():
        if figures["preferred_source"]:
            return figures["sources"][figures["preferred_source"]]["cpu_seconds_per_1000_requests"]
    return None


def baseline_block(rc: str, bundle_uri: str, document: Mapping[str, Any] | None) -> dict[str, Any]:
    """What this document keeps of the baseline's own cost/resources.json (None: it has none)."""
    if document is None:
        return {
            "rc": rc,
            "bundle_uri": bundle_uri,
            "design": SEQUENTIAL,
            "reason": f"baseline {rc} has no cost evidence",
            "phases": {},
        }
    phases = {}
    for phase, figures in (document.get("phases") or {}).items():
        source = figures.get("preferred_source")
        if source:
            phases[phase] = {
                "source": source,
                "cpu_seconds_per_1000_requests": figures["sources"][source]["cpu_seconds_per_1000_requests"],
            }
    return {"rc": rc, "bundle_uri": bundle_uri, "design": SEQUENTIAL, "reason": None, "phases": phases}


def concurrent_baseline_block(rc: str) -> dict[str, Any]:
    """The baseline deployment measured beside this RC: its phases are computed from this run's rows."""
    return {"rc": rc, "bundle_uri": "", "design": CONCURRENT, "reason": None, "phases": {}}


def _compare(
    phases: Mapping[str, Any], baseline: Mapping[str, Any] | None, policy: Mapping[str, Any]
) -> list[dict[str, Any]]:
    rows = []
    for phase, figures in phases.items():
        theirs = (baseline or {}).get("phases", {}).get(phase)
        source = figures["preferred_source"]
        if not theirs or not source:
            continue
        # the same source as the baseline's where this RC has it, so like is compared with like
        if figures["sources"].get(theirs["source"], {}).get("cpu_seconds_per_1000_requests") is not None:
            source = theirs["source"]
        ours = figures["sources"][source]["cpu_seconds_per_1000_requests"]
        base = theirs["cpu_seconds_per_1000_requests"]
        change = (ours / base - 1.0) * 100.0 if base else None
        limit = float(policy["max_cpu_per_request_increase_pct"])
        rows.append(
            {
                "phase": phase,
                "source": source,
                "baseline_source": theirs["source"],
                "cpu_seconds_per_1000_requests": ours,
                "baseline_cpu_seconds_per_1000_requests": base,
                "increase_pct": change,
                "max_increase_pct": limit,
                "exceeded": change is not None and change > limit,
            }
        )
    return rows


def _gate(
    phases: Mapping[str, Any],
    comparisons: list[dict[str, Any]],
    baseline: Mapping[str, Any] | None,
    policy: Mapping[str, Any],
    notes: Mapping[str, Mapping[str, str]],
) -> tuple[str, str]:
    measured = [p for p, f in phases.items() if f["preferred_source"]]
    if not measured:
        why = "; ".join(
            f"{phase} {source}: {note}" for phase, n in notes.items() for source, note in n.items()
        )
        return "WARN", f"NOT MEASURED: no CPU seconds per request could be read{f' ({why})' if why else ''}"
    exceeded = [c for c in comparisons if c["exceeded"]]
    if exceeded:
        worst = max(exceeded, key=lambda c: c["increase_pct"])
        verdict = "FAIL" if policy["on_increase"] == "fail" else "WARN"
        return verdict, (
            f"CPU per request rose {worst['increase_pct']:.0f} % in {worst['phase']} "
            f"(from {worst['baseline_cpu_seconds_per_1000_requests']:.3f} to {worst['cpu_seconds_per_1000_requests']:.3f} "
            f"CPU s per 1,000 requests, {worst['source']}) against {_against(baseline)}; "
            f"max_cpu_per_request_increase_pct is {worst['max_increase_pct']:g}"
        )
    figures = ", ".join(
        f"{p} {phases[p]['sources'][phases[p]['preferred_source']]['cpu_seconds_per_1000_requests']:.3f}"
        for p in measured
    )
    if comparisons:
        changes = ", ".join(
            f"{c['phase']} {c['increase_pct']:+.0f} %" for c in comparisons if c["increase_pct"] is not None
        )
        return (
            "PASS",
            f"CPU s per 1,000 requests {figures}; against {_against(baseline)}: {changes} (limit +{comparisons[0]['max_increase_pct']:g} %)",
        )
    if baseline is not None and baseline.get("design") == CONCURRENT:
        # the comparison this run was set up to make was not made: not a pass
        why = baseline.get("reason") or "no phase was measured on both sides"
        return "WARN", f"CPU s per 1,000 requests {figures}; NOT MEASURED against {_against(baseline)}: {why}"
    why = (baseline or {}).get("reason") or "no baseline RC to compare with"
    return "PASS", f"CPU s per 1,000 requests {figures}; not compared: {why}"


def policy_of(policy: CostPolicy) -> dict[str, Any]:
    """The figures of the policy the document records (and audit recomputes with)."""
    return {
        "max_cpu_per_request_increase_pct": policy.max_cpu_per_request_increase_pct,
        "on_increase": policy.on_increase,
        "sample_interval_s": policy.sample_interval_s,
    }


def recompute_cost_document(rows: pl.DataFrame, recorded: Mapping[str, Any]) -> dict[str, Any]:
    """The document again from its raw rows; the policy, the notes and the baseline are the recorded inputs."""
    return cost_document(
        rows,
        policy=recorded["policy"],
        notes=recorded.get("not_read") or {},
        baseline=recorded.get("baseline"),
    )
