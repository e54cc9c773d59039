"""The release gates of an RC, computed once from its SLO figures and scan verdicts.

The asset checks, the signed bundle, the release documents, `release_decision` and `promote`
all read an RC's gates and verdict from here, so a threshold set in one place (the delivery
ratio the `slo_metrics` asset was configured with, recorded in `slo/metrics.json`) is the
threshold everyone judges by, and a WARN (the baseline comparison's) blocks nobody anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verification_pipeline.config_files import load_yaml
from verification_pipeline.errors import ConfigError
from verification_pipeline.slo_row import SLO_DETAIL_FIELDS, SloRow
from verification_pipeline.verdict import Verdict, worst

SLO_GROUP = "slo"
SCAN_GROUP = "scan"
BASELINE_GROUP = "baseline"
DELIVERY_RATIO_GATE = "fanout_delivery_ratio"
NO_REGRESSION_GATE = "no_regression"
SERVICE_BUILD_GATE = "service:build"
AUTHZ_GATE = "authz:no_forbidden_admitted"
# the overload phase (issue 22): slo/overload.json, one gate each
OVERLOAD_GROUP = "overload"
OVERLOAD_SHED = f"{OVERLOAD_GROUP}:shed_at_limit"
OVERLOAD_REFUSALS = f"{OVERLOAD_GROUP}:refusals_429"
OVERLOAD_ADMITTED_P95 = f"{OVERLOAD_GROUP}:admitted_p95"
OVERLOAD_NEIGHBOUR = f"{OVERLOAD_GROUP}:neighbour"
OVERLOAD_RECOVERY = f"{OVERLOAD_GROUP}:recovery"
COST_GATE = "cost:cpu_per_request"
UNTRUSTED_MEASUREMENT = "measurement not trusted"
"""How an SLO's reason starts when a saturated client made its FAIL INCONCLUSIVE (`health.assess`);
`verify` accepts that verdict beside figures that say FAIL, and no other."""


@dataclass(frozen=True)
class GateOutcome:
    """One gate's result: an SLO ("slo:read_p95") or a scan gate ("scan:policies_pass").

    `detail` is JSON-able: value, threshold, unit, n, confidence interval, reason.
    """

    name: str
    verdict: Verdict
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a verdict given as its word ("PASS") is the same verdict; an unknown word is refused here
        object.__setattr__(self, "verdict", Verdict(self.verdict))

    @property
    def check_name(self) -> str:
        """The asset check that reports this gate: the name without its group."""
        return self.name.partition(":")[2] or self.name

    @property
    def reason(self) -> str:
        return str(self.detail.get("reason", ""))


def delivery_ratio_gate(fanout: Mapping[str, Any] | None, min_delivery_ratio: float) -> GateOutcome:
    """Every (subscriber, event) pair delivered, down to the configured ratio; no figure cannot pass."""
    figures = fanout or {}
    ratio = figures.get("delivery_ratio")
    if ratio is None:
        verdict, reason = Verdict.INCONCLUSIVE, "no fan-out measurement"
    else:
        verdict = Verdict.PASS if ratio >= min_delivery_ratio else Verdict.FAIL
        reason = f"delivery ratio {ratio:.6f} (gate >= {min_delivery_ratio:g})"
    detail = {
        "delivery_ratio": ratio,
        "min_delivery_ratio": min_delivery_ratio,
        "lost": figures.get("lost"),
        "duplicates": figures.get("duplicates"),
        "reason": reason,
    }
    return GateOutcome(f"{SLO_GROUP}:{DELIVERY_RATIO_GATE}", verdict, detail)


def slo_gates(
    rows: Iterable[SloRow],
    fanout: Mapping[str, Any] | None,
    min_delivery_ratio: float,
    min_samples: Mapping[str, int] | None = None,
) -> tuple[GateOutcome, ...]:
    """One gate per SLO row, then the fan-out delivery ratio. `min_samples` (per SLO name, from
    slos.yaml) is signed with its gate, so a PASS on fewer samples is refused by `verify`."""
    outcomes = [
        GateOutcome(
            f"{SLO_GROUP}:{row.name}",
            row.verdict,
            {
                **{k: value for k in SLO_DETAIL_FIELDS if (value := getattr(row, k)) is not None},
                **({"min_samples": min_samples[row.name]} if min_samples and row.name in min_samples else {}),
            },
        )
        for row in rows
    ]
    outcomes.append(delivery_ratio_gate(fanout, min_delivery_ratio))
    return tuple(outcomes)


def scan_gates(
    gates: Iterable[tuple[str, Verdict, str]], figures: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[GateOutcome, ...]:
    """One gate per scan gate (name, verdict, reason), with the figures and thresholds it was
    judged by (`scans.summary`), keyed by gate name, where they are known."""
    return tuple(
        GateOutcome(f"{SCAN_GROUP}:{name}", verdict, {**(figures or {}).get(name, {}), "reason": reason})
        for name, verdict, reason in gates
    )


def service_build_gate(
    *, verified: bool, reported_commit: str | None, expected_commit: str, waiver: str | None
) -> GateOutcome:
    """The build measured was the RC's (PASS); a waived check can never pass (INCONCLUSIVE); another
    build's commit is a FAIL (the run stops before any load then, so only a record can say it)."""
    if verified:
        reason = f"the service reported build {reported_commit}"
        return GateOutcome(SERVICE_BUILD_GATE, Verdict.PASS, {"reason": reason})
    if not waiver:
        reason = f"the service reported build {reported_commit}, not the RC's {expected_commit}"
        return GateOutcome(SERVICE_BUILD_GATE, Verdict.FAIL, {"reason": reason})
    reason = f"NOT CHECKED (waived: {waiver}); the build that was measured is not shown to be this RC"
    return GateOutcome(SERVICE_BUILD_GATE, Verdict.INCONCLUSIVE, {"reason": reason})


def baseline_gate(
    verdict: Verdict | str,
    *,
    status: str,
    baseline_rc: str | None,
    reason: str,
    figures: Mapping[str, Any] | None = None,
) -> GateOutcome:
    """The comparison with the previous verified RC (slo/baseline.json).

    WARN when there is no baseline or a slowdown the regression policy tolerates; FAIL (or
    INCONCLUSIVE) only where slos.yaml says `on_regression: fail`. `figures`
    (`baseline_figures`): what each SLO's verdict was decided from, signed with the gate.
    """
    detail = {"status": status, "baseline": baseline_rc, "reason": reason, **(figures or {})}
    return GateOutcome(f"{BASELINE_GROUP}:{NO_REGRESSION_GATE}", Verdict(verdict), detail)


def authz_gate(document: Mapping[str, Any]) -> GateOutcome:
    """Forbidden requests during the load (policy/authz_under_load.json): one admitted is a FAIL."""
    fields = (
        "attempts",
        "answered",
        "admitted",
        "leak_rate_upper_bound",
        "confidence",
        "not_tried",
        "reason",
    )
    return GateOutcome(AUTHZ_GATE, Verdict(document["verdict"]), {k: document.get(k) for k in fields})


def overload_gates(document: Mapping[str, Any]) -> tuple[GateOutcome, ...]:
    """The overload phase (slo/overload.json): its gates as the document states them, figures kept."""
    return tuple(
        GateOutcome(
            gate["name"],
            Verdict(gate["verdict"]),
            {k: v for k, v in gate.items() if k not in ("name", "verdict")},
        )
        for gate in document.get("gates", [])
    )


def cost_gate(document: Mapping[str, Any]) -> GateOutcome:
    """CPU per request against the baseline RC (cost/resources.json): a rise past the policy is WARN or FAIL."""
    detail = {
        "value": document.get("cpu_seconds_per_1000_requests"),
        "baseline": (document.get("baseline") or {}).get("rc"),
        "max_increase_pct": (document.get("policy") or {}).get("max_cpu_per_request_increase_pct"),
        "reason": document.get("reason"),
    }
    return GateOutcome(COST_GATE, Verdict(document["verdict"]), detail)


def rc_verdict(gates: Sequence[GateOutcome], missing_files: Sequence[str] = ()) -> Verdict:
    """The RC's verdict: the worst gate; missing evidence is INCOMPLETE; no gates at all is never a pass.

    A WARN gate does not block: when the worst is WARN the RC's verdict is PASS. The WARN stays
    on its gate, where the test result (`warnedTests`), the documents and the UI report it.
    FAIL, INCONCLUSIVE and INCOMPLETE rank above WARN, so they still decide as before.
    """
    verdicts = [gate.verdict for gate in gates]
    if missing_files:
        verdicts.append(Verdict.INCOMPLETE)
    verdict = worst(verdicts, empty=Verdict.INCOMPLETE)
    return Verdict.PASS if verdict is Verdict.WARN else verdict


def findings(gates: Iterable[GateOutcome]) -> list[str]:
    """What kept each gate from passing, one line each, for people."""
    return [
        f"{gate.name}: {gate.verdict}: {gate.reason}" for gate in gates if gate.verdict is not Verdict.PASS
    ]


# --- the figures scan and baseline gates sign (h27) -----------------------------------------------

GATE_FIGURES_VERSION = 1
"""Signed in the test result's extension as `gateFigures`: every scan and baseline gate carries
the figures and thresholds its verdict follows from, every SLO gate its `min_samples`, and
`verify` recomputes those verdicts. A bundle made before (no marker) has its scan and baseline
verdicts taken as signed; figures a gate does carry are checked all the same."""
MIN_COMPARED_SAMPLES = 30
"""The baseline comparison's minimum samples per side (`compare.document`), signed with its gate."""


def baseline_figures(
    regression_policy: Mapping[str, Any] | None, rows: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The inputs of each SLO's comparison verdict (slo/baseline.json's rows), and the policy.

    Per row: samples on each side, the shift interval (latency) or the rate difference in
    percentage points (rates), the quantile ratio, the classification, whether each side's
    client was saturated, and the row's verdict; `verify` decides each row again from them.
    """
    policy = dict(regression_policy or {})
    return {
        "policy": {
            "on_regression": policy.get("on_regression"),
            "max_p95_increase_pct": policy.get("max_p95_increase_pct"),
            "max_error_rate_increase_pp": policy.get("max_error_rate_increase_pp"),
            "min_compared_samples": MIN_COMPARED_SAMPLES,
        },
        "comparisons": [_comparison_figures(row) for row in rows],
    }


def _comparison_figures(row: Mapping[str, Any]) -> dict[str, Any]:
    def side(name: str) -> Any:
        value = row.get(name)
        return value.get("n") if isinstance(value, Mapping) else None

    def interval(name: str) -> dict[str, Any] | None:
        value = row.get(name)
        if not isinstance(value, Mapping):
            return None
        return {k: value.get(k) for k in ("estimate", "lower", "upper")}

    health = row.get("measurement_health")
    saturated = {
        name: bool(health.get(name)) if isinstance(health, Mapping) else False
        for name in ("current", "baseline")
    }
    return {
        "slo": row.get("slo"),
        "kind": row.get("kind"),
        "n_current": side("current"),
        "n_baseline": side("baseline"),
        "shift_ms": interval("shift_ms"),
        "p95_ratio": interval("p95_ratio"),
        "rate_diff_pp": interval("rate_diff"),
        "classification": row.get("classification"),
        "saturated": saturated,
        "verdict": str(Verdict(row["verdict"])) if row.get("verdict") is not None else None,
        # the materiality floor (issue 24, regression method 2) and the p95 difference it also
        # judges; absent before it: floor 0
        **(
            {"min_shift_ms": row["min_shift_ms"], "p95_diff_ms": row.get("p95_diff_ms")}
            if "min_shift_ms" in row
            else {}
        ),
    }


def slo_min_samples(spec_yaml: str | None) -> dict[str, int]:
    """Each SLO's `min_samples` from the slos.yaml text the figures were computed with (signed in
    slo/metrics.json); {} where the text says none. The SLO gates sign it beside `n`."""
    if not spec_yaml:
        return {}
    try:
        document = load_yaml(spec_yaml, source="slos.yaml")
    except ConfigError:
        return {}
    slos = document.get("slos") if isinstance(document, Mapping) else None
    return {
        str(slo["name"]): slo["min_samples"]
        for slo in slos or ()
        if isinstance(slo, Mapping) and isinstance(slo.get("min_samples"), int) and "name" in slo
    }
