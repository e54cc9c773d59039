"""`policy/authz_under_load.json`: per kind, attempts and answers; the gate; the leak-rate bound.

One admitted forbidden request fails the gate; none sent at all (an imported load) is WARN, said
as NOT MEASURED; sent but none answered (all shed or failed) is INCONCLUSIVE. With none admitted among n answered attempts
(refused or admitted; a 429, a 5xx or a timeout tested nothing), the one-sided upper bound on
the leak rate at confidence c is the exact binomial (Clopper-Pearson) bound for 0 of n,
1 - (1 - c)^(1/n), about 3/n at 95 %. It holds for the conditions the attempts met (the load
they ran under); attempts are treated as independent trials, which is what the bound's
simulation check (tests/authz) draws. The document is computed from the raw rows alone, so
`audit` recomputes it from `raw/authz.parquet` in the bundle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from verification_pipeline.authz.probe import Kind, Outcome
from verification_pipeline.gates import AUTHZ_GATE
from verification_pipeline.verdict import Verdict

GATE = AUTHZ_GATE
EXCLUDED_NOTE = (
    "forbidden requests are their own raw rows, apart from the SLO load's samples, "
    "so the SLO latency and error figures do not include them"
)


def leak_upper_bound(answered: int, confidence: float) -> float | None:
    """Upper bound on the leak rate when 0 of `answered` attempts were admitted; None without attempts."""
    if answered <= 0:
        return None
    return 1.0 - (1.0 - confidence) ** (1.0 / answered)


def authz_document(
    rows: pl.DataFrame, *, tried: list[str], not_tried: Mapping[str, str], confidence: float
) -> dict[str, Any]:
    """The evidence file: per-kind counts, totals, the gate's verdict and reason."""
    kinds: list[dict[str, Any]] = []
    for kind in [k.value for k in Kind]:
        if kind not in tried:
            kinds.append({"kind": kind, "tried": False, "reason": not_tried.get(kind, "not configured")})
            continue
        mine = rows.filter(pl.col("kind") == kind)
        counts = {outcome.value: int((mine["outcome"] == outcome.value).sum()) for outcome in Outcome}
        statuses = mine.group_by("status").len().sort("status")
        kinds.append(
            {
                "kind": kind,
                "tried": True,
                "attempts": mine.height,
                **counts,
                "statuses": {
                    str(s): int(n) for s, n in zip(statuses["status"], statuses["len"], strict=True)
                },
            }
        )
    totals = {outcome.value: int((rows["outcome"] == outcome.value).sum()) for outcome in Outcome}
    answered = totals[Outcome.REFUSED] + totals[Outcome.ADMITTED]
    verdict, reason, bound = _gate(kinds, totals, answered, confidence)
    return {
        "gate": GATE,
        "verdict": verdict.value,
        "reason": reason,
        "confidence": confidence,
        "attempts": rows.height,
        "answered": answered,
        **totals,
        "leak_rate_upper_bound": bound,
        "kinds": kinds,
        "not_tried": dict(sorted(not_tried.items())),
        "excluded_from_slo": True,
        "note": EXCLUDED_NOTE,
    }


def _gate(
    kinds: list[dict[str, Any]], totals: Mapping[str, int], answered: int, confidence: float
) -> tuple[Verdict, str, float | None]:
    skipped = [k["kind"] for k in kinds if not k["tried"]]
    tail = f"; not tried: {', '.join(skipped)}" if skipped else ""
    admitted = totals[Outcome.ADMITTED]
    if admitted:
        which = ", ".join(f"{k['kind']} {k['admitted']}" for k in kinds if k["tried"] and k["admitted"])
        return (
            Verdict.FAIL,
            f"{GATE}: {admitted:,} of {answered:,} forbidden requests were admitted ({which}){tail}",
            None,
        )
    bound = leak_upper_bound(answered, confidence)
    if not any(k["tried"] for k in kinds):
        # an imported load (CI's split jobs) or the probe turned off: not measured, said, never a pass
        return (
            Verdict.WARN,
            f"{GATE}: NOT MEASURED: no forbidden requests were sent during the load{tail}",
            None,
        )
    if bound is None:
        return (
            Verdict.INCONCLUSIVE,
            f"{GATE}: no forbidden request was answered (refused or admitted){tail}",
            None,
        )
    errors = totals[Outcome.ERROR]
    noted = f"; {errors:,} answered with a 5xx or not at all" if errors else ""
    reason = (
        f"{GATE}: 0 of {answered:,} forbidden requests admitted; leak rate < {bound:.3%} at "
        f"{confidence:.0%}{noted}{tail}"
    )
    return Verdict.PASS, reason, bound


def recompute_authz_document(rows: pl.DataFrame, recorded: Mapping[str, Any]) -> dict[str, Any]:
    """The document again from its raw rows; what was tried and the confidence are the recorded inputs."""
    tried = [k["kind"] for k in recorded.get("kinds", []) if isinstance(k, dict) and k.get("tried")]
    not_tried = recorded.get("not_tried") or {}
    return authz_document(rows, tried=tried, not_tried=not_tried, confidence=float(recorded["confidence"]))
