"""`slo/overload.json`: whether the declared per-tenant limit holds when a tenant goes past it.

Computed from the raw rows of the overload phase (`overload.schema.ROWS_SCHEMA`, kept in the
bundle as `raw/overload.parquet`) and the inputs the document records (slos.yaml's
`cost_controls`, the latency SLO it names, how long the phase ran), so `audit` recomputes it.
Times are when a request was sent (answer time minus latency); the overload window starts at
tenant A's first request and lasts the phase's `overload_s`. Five gates, each PASS / FAIL /
INCONCLUSIVE with its reason (WARN, said as NOT MEASURED, when the phase did not run):

- `overload:shed_at_limit`: A's requests admitted (2xx) during the window are at most the limit
  x (window + one second's burst) x (1 + `max_admitted_excess_pct`), and some were refused; a
  limiter that queues admits them all, late, and fails here;
- `overload:refusals_429`: every refusal is `shed_status` with a usable Retry-After (at least
  `min_retry_after_share` of them) and none is a 5xx or a timeout (a failure, not shedding);
- `overload:admitted_p95`: A's admitted latencies against the latency SLO, with the SLO
  verdict's dependence-aware bounds (`slo.metrics.evaluate_quantile`);
- `overload:neighbour`: tenant B during the window, p95 against the same SLO and error rate
  against `neighbour_max_error_rate_pct` (`evaluate_rate`): noisy-neighbour isolation;
- `overload:recovery`: seconds from the end of the window until every later second of A's
  recovery traffic (below the limit) is answered, with p95 at or under the SLO's threshold: 2xx, or
  shed while the bucket the overload emptied refills (at most half of that second; a failure,
  a timeout or a request k6 could not send makes the second bad).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import polars as pl

from verification_pipeline.evidence.layout import OVERLOAD_DOCUMENT
from verification_pipeline.formatting import significant
from verification_pipeline.gates import (
    OVERLOAD_ADMITTED_P95,
    OVERLOAD_NEIGHBOUR,
    OVERLOAD_RECOVERY,
    OVERLOAD_REFUSALS,
    OVERLOAD_SHED,
    UNTRUSTED_MEASUREMENT,
)
from verification_pipeline.health.assess import HealthLimits, assess
from verification_pipeline.overload.limits import CostControls
from verification_pipeline.overload.schema import ROWS_SCHEMA
from verification_pipeline.quantile import quantile_type7
from verification_pipeline.slo.metrics import (
    BOUNDS_METHOD,
    evaluate_quantile,
    evaluate_rate,
    recorded_bounds_method,
)
from verification_pipeline.slo.spec import Slo, SloSpec
from verification_pipeline.verdict import Verdict, worst

VERSION = 1
_TIMED = (OVERLOAD_ADMITTED_P95, OVERLOAD_NEIGHBOUR, OVERLOAD_RECOVERY)
GATES = (OVERLOAD_SHED, OVERLOAD_REFUSALS, OVERLOAD_ADMITTED_P95, OVERLOAD_NEIGHBOUR, OVERLOAD_RECOVERY)


def phase_inputs(
    spec: SloSpec,
    *,
    overload_s: float,
    recovery_s: float,
    tenants: Mapping[str, str],
    client_health: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What the document is computed from besides the rows, recorded in it for `audit`;
    `client_health`: k6's phase record (`health.assess.phase_record`) while it ran, when sampled."""
    controls = spec.cost_controls
    if controls is None:
        raise ValueError("slos.yaml declares no cost_controls: there is no overload phase")
    slo = latency_slo(spec, controls)
    return {
        "cost_controls": controls.model_dump(mode="json"),
        "latency_slo": slo.model_dump(mode="json"),
        "confidence": spec.confidence,
        "overload_s": overload_s,
        "recovery_s": recovery_s,
        "tenants": dict(tenants),
        "client_health": dict(client_health) if client_health is not None else None,
        "measurement_health": spec.measurement_health.model_dump(mode="json"),
        # The bounds' rules (`slo.metrics.BOUNDS_METHOD`), so `audit` recomputes with them; a
        # document without it was made with method 2 (the overload phase came after it).
        "bounds_method": BOUNDS_METHOD,
    }


def latency_slo(spec: SloSpec, controls: CostControls) -> Slo:
    """The quantile SLO `cost_controls.latency_slo` names (SloSpec checked that it exists)."""
    return next(slo for slo in spec.slos if slo.name == controls.latency_slo)


def not_measured_document(why: str) -> dict[str, Any]:
    """The phase did not run (no cost_controls, an imported load, no tokens): WARN, never a pass."""
    reason = f"NOT MEASURED: {why}"
    return {
        "version": VERSION,
        "measured": False,
        "verdict": Verdict.WARN.value,
        "reason": reason,
        "gates": [{"name": name, "verdict": Verdict.WARN.value, "reason": reason} for name in GATES],
        "inputs": None,
        "figures": {},
        "series": [],
    }


def overload_document(rows: pl.DataFrame, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The evidence file from the phase's raw rows and its recorded inputs."""
    controls = CostControls.model_validate(inputs["cost_controls"])
    slo = Slo.model_validate(inputs["latency_slo"])
    confidence = float(inputs["confidence"])
    overload_s, recovery_s = float(inputs["overload_s"]), float(inputs["recovery_s"])
    # 2 for a document made before it recorded it
    method = recorded_bounds_method(inputs, default=2, source=OVERLOAD_DOCUMENT, field="inputs.bounds_method")
    rows = _with_send_time(rows)
    a_over = rows.filter(pl.col("scenario") == "overload")
    if a_over.is_empty():
        document = not_measured_document("k6 recorded no request of tenant A's overload")
        return {**document, "inputs": dict(inputs)}
    start = float(a_over["sent"].min())  # type: ignore[arg-type]
    end = start + overload_s
    neighbour = rows.filter(
        (pl.col("scenario") == "neighbour") & pl.col("sent").is_between(start, end, "left")
    )
    recovery = rows.filter(pl.col("scenario") == "recovery")
    shed, shed_figures = _shed_at_limit(a_over, controls, overload_s)
    refusals, refusal_figures = _refusals(a_over, controls)
    admitted = _admitted_p95(a_over, slo, confidence, method)
    isolation, neighbour_figures = _neighbour(neighbour, slo, controls, confidence, method)
    recovered, recovery_figures = _recovery(recovery, slo, controls, end)
    gates = [shed, refusals, admitted, isolation, recovered]
    health = _health(gates, inputs)
    return {
        "version": VERSION,
        "measured": True,
        "verdict": worst(gate["verdict"] for gate in gates).value,
        "reason": "; ".join(f"{g['name']}: {g['verdict']}" for g in gates),
        "gates": gates,
        "inputs": dict(inputs),
        "figures": {
            "limit_rps": controls.tenant_rps_limit,
            "started_at": start,
            "ended_at": end,
            **shed_figures,
            **refusal_figures,
            "admitted_p95_ms": admitted.get("value"),
            **neighbour_figures,
            **recovery_figures,
        },
        "series": _series(rows, controls, start, overload_s + recovery_s),
        "measurement_health": health,
    }


def recompute_overload_document(rows: pl.DataFrame, recorded: Mapping[str, Any]) -> dict[str, Any]:
    """The document again from its raw rows and recorded inputs (a not-measured one is itself)."""
    if not recorded.get("measured") or not recorded.get("inputs"):
        return not_measured_document(str(recorded.get("reason", "")).removeprefix("NOT MEASURED: "))
    return overload_document(rows, recorded["inputs"])


def _health(gates: list[dict[str, Any]], inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """k6's health while it ran (`health.assess`): a saturated or starved client makes a latency
    gate's FAIL (admitted p95, neighbour, recovery) INCONCLUSIVE, said; None when not sampled."""
    record = inputs.get("client_health")
    if not record:
        return None
    limits = HealthLimits.model_validate(inputs.get("measurement_health") or {})
    phase = assess([record], limits)["phases"][0]
    if phase["saturated"]:
        why = "; ".join(phase["reasons"])
        for gate in gates:
            if gate["name"] in _TIMED and gate["verdict"] == Verdict.FAIL.value:
                gate["verdict"] = Verdict.INCONCLUSIVE.value
                gate["reason"] = f"{UNTRUSTED_MEASUREMENT} ({why}); it would have been FAIL: {gate['reason']}"
    return {"saturated": phase["saturated"], "reasons": phase["reasons"]}


def _with_send_time(rows: pl.DataFrame) -> pl.DataFrame:
    """`sent`: epoch seconds the request went out (a dropped one: when k6 gave up on it)."""
    rows = rows.select([pl.col(name).cast(kind) for name, kind in ROWS_SCHEMA.items()])
    return rows.with_columns(
        (pl.col("ts") - pl.col("latency_ms").fill_null(0.0) / 1000.0).alias("sent")
    ).sort("sent")


def _kinds(rows: pl.DataFrame, controls: CostControls) -> pl.DataFrame:
    """Each row's kind: admitted (2xx), shed (`shed_status` with a usable Retry-After), unusable
    (`shed_status` without one), failed (5xx other than `shed_status`, no answer), other, dropped."""
    usable = pl.col("retry_after_s").is_between(1.0, controls.max_retry_after_s)
    status = pl.col("status")
    kind = (
        pl.when(pl.col("dropped"))
        .then(pl.lit("dropped"))
        .when(status.is_between(200, 299))
        .then(pl.lit("admitted"))
        .when((status == controls.shed_status) & usable)
        .then(pl.lit("shed"))
        .when(status == controls.shed_status)
        .then(pl.lit("unusable"))
        .when((status == 0) | (status >= 500))
        .then(pl.lit("failed"))
        .otherwise(pl.lit("other"))
    )
    return rows.with_columns(kind.alias("kind"))


def _count(rows: pl.DataFrame, kind: str) -> int:
    return int((rows["kind"] == kind).sum())


def _gate(name: str, verdict: Verdict, reason: str, **figures: Any) -> dict[str, Any]:
    return {"name": name, "verdict": verdict.value, "reason": f"{name}: {reason}", **figures}


def _shed_at_limit(
    a_over: pl.DataFrame, controls: CostControls, overload_s: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    rows = _kinds(a_over, controls)
    offered, dropped = rows.height, _count(rows, "dropped")
    sent = offered - dropped
    admitted = _count(rows, "admitted")
    failed = _count(rows, "failed")
    refused = sent - admitted - failed
    limit = controls.tenant_rps_limit
    allowed = limit * (overload_s + 1.0) * (1 + controls.max_admitted_excess_pct / 100)
    figures = {
        "offered": offered,
        "offered_rps": offered / overload_s,
        "sent": sent,
        "dropped": dropped,
        "admitted": admitted,
        "admitted_rps": admitted / overload_s,
        "refused": refused,
        "refused_rps": refused / overload_s,
        "failed": failed,
        "max_admitted": allowed,
    }
    rates = (
        f"offered {offered / overload_s:,.1f}/s for {overload_s:g} s to a tenant limited to {limit:g}/s; "
        f"admitted {admitted / overload_s:,.1f}/s, refused {refused / overload_s:,.1f}/s"
        + (f", {failed:,} failed or timed out" if failed else "")
        + (f", {dropped:,} never sent (k6 had no free VU)" if dropped else "")
    )
    if admitted > allowed:
        verdict, why = (
            Verdict.FAIL,
            (
                f"{admitted:,} admitted, above the {allowed:,.0f} the limit allows (one second's burst and "
                f"{controls.max_admitted_excess_pct:g} % over): the limiter let the overload in (it queues or "
                "does not limit)"
            ),
        )
    elif offered <= allowed:
        verdict, why = (
            Verdict.INCONCLUSIVE,
            (
                f"only {offered:,} requests were offered, not past the {allowed:,.0f} the limit allows: the "
                "phase did not drive the tenant over its limit"
            ),
        )
    elif refused == 0:
        verdict, why = (
            Verdict.FAIL,
            (
                "nothing above the limit was refused: the rest failed, timed out or could not be sent because "
                "answers were slow (the limiter queues instead of shedding)"
            ),
        )
    else:
        verdict, why = Verdict.PASS, f"the limiter shed {refused:,} requests and admitted within the limit"
    return _gate(OVERLOAD_SHED, verdict, f"{rates}: {why}", **figures), figures


def _refusals(a_over: pl.DataFrame, controls: CostControls) -> tuple[dict[str, Any], dict[str, Any]]:
    rows = _kinds(a_over, controls).filter(~pl.col("kind").is_in(["admitted", "dropped"]))
    shed, failed = _count(rows, "shed"), _count(rows, "failed")
    share = shed / rows.height if rows.height else None
    statuses = rows.group_by("status").len().sort("status")
    by_status = {str(s): int(n) for s, n in zip(statuses["status"], statuses["len"], strict=True)}
    retry = rows.filter(pl.col("kind") == "shed")["retry_after_s"]
    figures = {
        "refusal_statuses": by_status,
        "retry_after_share": share,
        "retry_after_s_range": [float(retry.min()), float(retry.max())] if retry.len() else None,  # type: ignore[arg-type]
    }
    shown = ", ".join(f"{'no answer' if s == '0' else s} x{n:,}" for s, n in by_status.items())
    wanted = f"{controls.shed_status} with a usable Retry-After (1-{controls.max_retry_after_s:g} s)"
    if failed:
        verdict, why = (
            Verdict.FAIL,
            (
                f"{failed:,} of tenant A's {rows.height:,} refusals were a 5xx or no answer ({shown}): "
                f"a failure under overload, not shedding (wanted {wanted})"
            ),
        )
    elif rows.is_empty():
        verdict, why = Verdict.INCONCLUSIVE, "tenant A was never refused, so no refusal could be checked"
    elif share is not None and share < controls.min_retry_after_share:
        verdict, why = (
            Verdict.FAIL,
            (
                f"only {share:.2%} of {rows.height:,} refusals were {wanted} ({shown}; "
                f"at least {controls.min_retry_after_share:.2%} must be)"
            ),
        )
    else:
        verdict, why = Verdict.PASS, f"{shed:,} of {rows.height:,} refusals were {wanted} ({shown})"
    return _gate(OVERLOAD_REFUSALS, verdict, why, **figures), figures


def _admitted_p95(a_over: pl.DataFrame, slo: Slo, confidence: float, method: int) -> dict[str, Any]:
    admitted = a_over.filter(pl.col("status").is_between(200, 299) & ~pl.col("dropped")).sort("ts")
    row = evaluate_quantile(slo, admitted["latency_ms"], confidence, method=method)
    return _gate(
        OVERLOAD_ADMITTED_P95,
        row.verdict,
        f"tenant A's admitted requests under overload: {row.reason}",
        **_slo_figures(row.model_dump(mode="json")),
    )


def _neighbour(
    rows: pl.DataFrame, slo: Slo, controls: CostControls, confidence: float, method: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    rows = _kinds(rows, controls).sort("ts")
    answered = rows.filter(pl.col("kind") == "admitted")
    latency = evaluate_quantile(slo, answered["latency_ms"], confidence, method=method)
    failure = (
        pl.when(pl.col("kind") == "admitted")
        .then(None)
        .when(pl.col("kind") == "dropped")
        .then(pl.lit("dropped"))
        .when(pl.col("status") == 0)
        .then(pl.lit("timeout"))
        .otherwise(pl.lit("http"))
    )
    requests = rows.with_columns((pl.col("kind") == "admitted").alias("ok"), failure.alias("failure"))
    error_slo = Slo(
        name="neighbour_error_rate",
        metric="rate",
        source="read",
        threshold=controls.neighbour_max_error_rate_pct,
        unit="percent",
        min_samples=1,
    )
    errors = evaluate_rate(error_slo, requests, confidence, method=method)
    verdict = worst([latency.verdict, errors.verdict])
    figures = {
        "neighbour_requests": rows.height,
        "neighbour_p95_ms": latency.value,
        "neighbour_error_rate_pct": errors.value,
    }
    reason = f"tenant B beside the overload: latency: {latency.reason}; errors: {errors.reason}"
    gate = _gate(
        OVERLOAD_NEIGHBOUR,
        verdict,
        reason,
        latency=_slo_figures(latency.model_dump(mode="json")),
        errors=_slo_figures(errors.model_dump(mode="json")),
    )
    return gate, figures


def _recovery(
    rows: pl.DataFrame, slo: Slo, controls: CostControls, end: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    q, threshold = slo.quantile or 0.95, slo.threshold
    rows = _kinds(rows, controls).with_columns(
        ((pl.col("sent") - end).floor().cast(pl.Int64)).alias("second")
    )
    seconds: list[dict[str, Any]] = []
    bad: list[int] = []
    for second in sorted(int(s) for s in rows["second"].unique()):
        bucket = rows.filter(pl.col("second") == second)
        latencies = bucket.filter(pl.col("kind") == "admitted")["latency_ms"].sort()
        p = quantile_type7(latencies, q) if latencies.len() else None
        # answered: admitted, or shed while the bucket the overload emptied refills (at most half)
        shed = _count(bucket, "shed")
        good = (
            latencies.len() + shed == bucket.height
            and 2 * shed <= bucket.height
            and p is not None
            and p <= threshold
        )
        seconds.append({"second": second, "requests": bucket.height, "p95_ms": p, "good": good})
        if not good:
            bad.append(second)
    figures: dict[str, Any] = {"recovery_seconds": seconds, "recovery_s": None}
    label = f"p{q * 100:g}"
    if not seconds:
        why = "no request of tenant A's recovery traffic was recorded"
        return _gate(
            OVERLOAD_RECOVERY, Verdict.INCONCLUSIVE, why, max_recovery_s=controls.max_recovery_s
        ), figures
    recovered_at = 0 if not bad else bad[-1] + 1
    window = int(seconds[-1]["second"]) + 1
    if recovered_at >= window:
        why = (
            f"tenant A's {label} was not back at or under {significant(threshold)} ms, every request answered, "
            f"within the {window} s recovery window after the overload"
        )
        return _gate(OVERLOAD_RECOVERY, Verdict.FAIL, why, max_recovery_s=controls.max_recovery_s), figures
    figures["recovery_s"] = float(recovered_at)
    verdict = Verdict.PASS if recovered_at <= controls.max_recovery_s else Verdict.FAIL
    why = (
        f"tenant A's {label} back at or under {significant(threshold)} ms (every request answered) "
        f"{recovered_at} s after the overload ended (at most {controls.max_recovery_s:g} s)"
    )
    return _gate(
        OVERLOAD_RECOVERY,
        verdict,
        why,
        recovery_s=float(recovered_at),
        max_recovery_s=controls.max_recovery_s,
    ), figures


def _slo_figures(row: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("n", "value", "threshold", "unit", "ci_low", "ci_high", "confidence", "failures")
    return {k: row.get(k) for k in keep if row.get(k) is not None}


def _series(
    rows: pl.DataFrame, controls: CostControls, start: float, length_s: float
) -> list[dict[str, Any]]:
    """Per second from the overload's start (by send time): tenant A's offered, admitted, refused and
    failed requests, and tenant B's requests and failures; the chart's data."""
    kinds = _kinds(rows, controls)
    kinds = kinds.with_columns(((pl.col("sent") - start).floor().cast(pl.Int64)).alias("second"))
    seconds = max(1, math.ceil(length_s))
    counts = {
        (int(s), str(t), str(k)): int(n)
        for s, t, k, n in kinds.group_by("second", "tenant", "kind").len().iter_rows()
    }

    def n(second: int, tenant: str, *which: str) -> int:
        return sum(counts.get((second, tenant, kind), 0) for kind in which)

    return [
        {
            "second": s,
            "offered": n(s, "a", "admitted", "shed", "unusable", "failed", "other", "dropped"),
            "admitted": n(s, "a", "admitted"),
            "refused": n(s, "a", "shed", "unusable", "other"),
            "failed": n(s, "a", "failed", "dropped"),
            "neighbour": n(s, "b", "admitted", "shed", "unusable", "failed", "other", "dropped"),
            "neighbour_failed": n(s, "b", "shed", "unusable", "failed", "other", "dropped"),
        }
        for s in range(seconds)
    ]
