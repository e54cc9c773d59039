"""Measurement health: did the client measure the service, or itself?

Each phase of a run (k6's read and write scripts, the fan-out probe) records what says whether
its client could keep up (`phase_record`): its CPU use and run-queue wait second by second, the
probe's event-loop lag, k6's dropped iterations and warnings, the host's CPU steal and load
average, and the target's CPU when it runs on this host. `assess` compares those figures with
the limits of `slos.yaml` (`measurement_health:`) and says, per phase, whether the client was
saturated and why, in a sentence ("load generator saturated: k6 at 98 % CPU for 12 s").

A saturated client only adds delay (its stamps come late), so it can make a good service look
slow but never a slow one fast. `apply_health` therefore turns a FAIL measured by a saturated
client into INCONCLUSIVE with the reason, and keeps a PASS a PASS, saying it was measured so.
The comparison with a baseline uses `saturated_sources` to refuse calling a change when only
one side was saturated (`compare.document`).

The phase records are the measured inputs and are signed in `slo/metrics.json`; the assessment
is derived from them and the limits, so `audit` recomputes it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from verification_pipeline.gates import UNTRUSTED_MEASUREMENT
from verification_pipeline.health.sampler import HealthSample
from verification_pipeline.slo_row import SloRow
from verification_pipeline.verdict import Verdict

# Which phases measured each SLO source: k6's read and write scripts, and the probe.
PHASES_OF_SOURCE: dict[str, tuple[str, ...]] = {
    "read": ("read",),
    "write": ("write",),
    "ingest": ("write",),
    "all": ("read", "write"),
    "fanout": ("fanout",),
}


class HealthLimits(BaseModel):
    """`measurement_health:` in slos.yaml: past these, the client measured itself.

    On this machine kind (2 cores, shared), the demo beside other sessions' load (load average
    12-17) had k6 using 8-12 % of the cores while its threads waited for one 96-97 % of the time
    they wanted it, and the probe's loop lag p99 at 60 ms (benchmarks/RESULTS.md, "Measurement
    health"). A quiet machine could not be measured in that session: the wait limit sits at half
    the time, far from both a client alone on its cores (near 0) and that starvation; the loop lag
    limit is the probe's warning level (20 ms), four times the lag it should keep (5 ms).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_client_cpu_pct: float = Field(default=90.0, gt=0, le=100)
    """The client's CPU use, percent of all the machine's cores, per second."""
    max_client_wait_pct: float = Field(default=50.0, gt=0, le=100)
    """Of the time the client's threads wanted a core, the percent they waited for one, per second."""
    max_loop_lag_p99_ms: float = Field(default=20.0, gt=0)
    """The probe's event loops: p99 of how late a 10 ms timer fired."""
    max_steal_pct: float = Field(default=10.0, gt=0, le=100)
    """The host's CPU steal (a hypervisor giving our cores to someone else), percent, per second."""
    max_dropped_iterations: int | None = Field(default=None, ge=0)
    """k6 iterations its executor could not start on time (no free VU). Recorded always; a limit
    only when set, because a slow service leaves no VU free as surely as a busy client does (and
    dropped iterations already count as failures of the error rate)."""
    min_saturated_s: float = Field(default=3.0, ge=0)
    saturated_share: float = Field(default=0.1, gt=0, le=1)
    """A per-second limit counts only when exceeded for at least max(min_saturated_s,
    saturated_share x the phase's seconds): one busy second is not a saturated phase."""


def phase_record(
    phase: str,
    client: str,
    samples: Sequence[HealthSample],
    *,
    cores: int,
    loop_lag_p99_ms: float | None = None,
    dropped_iterations: int | None = None,
    k6_warnings: int | None = None,
) -> dict[str, Any]:
    """One phase's measured figures, JSON-ready; `samples` one per second, in time order."""
    return {
        "phase": phase,
        "client": client,
        "cores": cores,
        "seconds": len(samples),
        "samples": [
            {
                "t": round(s.t, 3),
                "client_cpu_pct": round(s.client_cpu_pct, 2),
                "client_wait_pct": round(s.client_wait_pct, 2),
                "steal_pct": round(s.steal_pct, 2),
                "load1": round(s.load1, 2),
                "target_cpu_pct": None if s.target_cpu_pct is None else round(s.target_cpu_pct, 2),
            }
            for s in samples
        ],
        "loop_lag_p99_ms": loop_lag_p99_ms,
        "dropped_iterations": dropped_iterations,
        "k6_warnings": k6_warnings,
    }


MEASURED_KEYS = (
    "phase",
    "client",
    "cores",
    "seconds",
    "samples",
    "loop_lag_p99_ms",
    "dropped_iterations",
    "k6_warnings",
)
"""What a phase record holds as measured; the rest of an assessed phase is derived from it."""


def measured_phases(section: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    """The measured phase records of a `measurement_health` section (for `audit` to assess again)."""
    if not section:
        return None
    return [{key: phase.get(key) for key in MEASURED_KEYS} for phase in section.get("phases", [])]


def assess(phases: Iterable[Mapping[str, Any]], limits: HealthLimits) -> dict[str, Any]:
    """The `measurement_health` section: each phase's figures, whether its client was saturated, why."""
    assessed = [_assess_phase(phase, limits) for phase in phases]
    return {
        "limits": limits.model_dump(mode="json"),
        "phases": assessed,
        "saturated": sorted({p["phase"] for p in assessed if p["saturated"]}),
    }


def _assess_phase(phase: Mapping[str, Any], limits: HealthLimits) -> dict[str, Any]:
    samples = list(phase.get("samples") or [])
    seconds = len(samples)
    needed_s = max(limits.min_saturated_s, limits.saturated_share * seconds)
    client = phase.get("client", "the client")
    reasons: list[str] = []

    def over(key: str, limit: float) -> list[float]:
        return [s[key] for s in samples if s.get(key) is not None and s[key] > limit]

    busy = over("client_cpu_pct", limits.max_client_cpu_pct)
    if busy and len(busy) >= needed_s:
        reasons.append(
            f"load generator saturated: {client} at {max(busy):.0f} % CPU for {len(busy)} s "
            f"(> {limits.max_client_cpu_pct:g} % of the machine's cores)"
        )
    starved = over("client_wait_pct", limits.max_client_wait_pct)
    if starved and len(starved) >= needed_s:
        reasons.append(
            f"load generator starved: {client} waited for a CPU up to {max(starved):.0f} % of the time "
            f"for {len(starved)} s (> {limits.max_client_wait_pct:g} %)"
        )
    stolen = over("steal_pct", limits.max_steal_pct)
    if stolen and len(stolen) >= needed_s:
        reasons.append(
            f"host CPU steal up to {max(stolen):.0f} % for {len(stolen)} s (> {limits.max_steal_pct:g} %)"
        )
    lag = phase.get("loop_lag_p99_ms")
    if isinstance(lag, int | float) and math.isfinite(lag) and lag > limits.max_loop_lag_p99_ms:
        reasons.append(
            f"{client}'s event loop lagged {lag:.1f} ms (p99) > {limits.max_loop_lag_p99_ms:g} ms, "
            "so its stamps include its own delay"
        )
    dropped = phase.get("dropped_iterations")
    if (
        limits.max_dropped_iterations is not None
        and isinstance(dropped, int)
        and dropped > limits.max_dropped_iterations
    ):
        reasons.append(f"{client} dropped {dropped} iterations it could not start on time")
    target = [s["target_cpu_pct"] for s in samples if s.get("target_cpu_pct") is not None]
    loads = [s["load1"] for s in samples if s.get("load1") is not None]
    return {
        **phase,
        "saturated": bool(reasons),
        "reasons": reasons,
        "client_cpu_pct_max": max((s["client_cpu_pct"] for s in samples), default=None),
        "client_wait_pct_max": max((s["client_wait_pct"] for s in samples), default=None),
        "steal_pct_max": max((s["steal_pct"] for s in samples), default=None),
        "load1_max": max(loads, default=None),
        "target_cpu_pct_mean": sum(target) / len(target) if target else None,
    }


def saturated_sources(section: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """SLO source -> the reasons its phases were saturated (sources whose phases were fine are absent)."""
    if not section:
        return {}
    reasons_of = {p["phase"]: p["reasons"] for p in section.get("phases", []) if p.get("saturated")}
    found: dict[str, list[str]] = {}
    for source, phases in PHASES_OF_SOURCE.items():
        reasons = [f"{phase}: {reason}" for phase in phases for reason in reasons_of.get(phase, [])]
        if reasons:
            found[source] = reasons
    return found


def apply_health(rows: Sequence[SloRow], section: dict[str, Any] | None) -> tuple[SloRow, ...]:
    """SLO rows with the verdicts a saturated client cannot support changed, and said so.

    FAIL -> INCONCLUSIVE (the latency may be the client's own); PASS stays (saturation only adds
    delay) with the reason saying it; INCONCLUSIVE stays, with the reason added. The changed
    verdicts are listed in the section (`changed`: slo, from, to).
    """
    saturated = saturated_sources(section)
    changed: list[dict[str, str]] = []
    out: list[SloRow] = []
    for row in rows:
        reasons = saturated.get(row.source)
        if not reasons:
            out.append(row)
            continue
        why = "; ".join(reasons)
        if row.verdict is Verdict.FAIL:
            changed.append({"slo": row.name, "from": Verdict.FAIL.value, "to": Verdict.INCONCLUSIVE.value})
            reason = f"{UNTRUSTED_MEASUREMENT} ({why}); it would have been FAIL: {row.reason}"
            out.append(row.model_copy(update={"verdict": Verdict.INCONCLUSIVE, "reason": reason}))
        elif row.verdict is Verdict.PASS:
            reason = f"{row.reason} (measured while {why}: saturation only adds delay, so the verdict stands)"
            out.append(row.model_copy(update={"reason": reason}))
        else:
            out.append(row.model_copy(update={"reason": f"{row.reason} (measured while {why})"}))
    if section is not None:
        section["changed"] = changed
    return tuple(out)
