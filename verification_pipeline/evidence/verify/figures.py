"""Check 5, continued: the scan and baseline gates' verdicts, recomputed from the figures and
thresholds they sign (`gates.GATE_FIGURES_VERSION`, signed as the extension's `gateFigures`).

Written apart from the code that decides them (`scans.summary`, `compare.document`), so a
producer bug and a lying signer are both caught here:
- `scan:sbom_present`: PASS when the SBOM lists at least `min_components` components, else FAIL;
- `scan:vulnerability_policy_met`: breaching = findings of a `fail_on` severity + fixable findings
  of a `fail_on_fixable` one (from the counts by severity); violations = breaching - waived;
  FAIL above `max_violations`, else PASS; no report: INCONCLUSIVE;
- `scan:policies_pass`: FAIL when failed + errors exceed `max_failures`, INCONCLUSIVE with no
  report or nothing passed, else PASS;
- `baseline:no_regression`: NO_BASELINE is WARN; otherwise each SLO's comparison is decided
  again from its samples, interval, ratio and saturation under the signed regression policy, and
  the gate is the worst of them;
- `authz:no_forbidden_admitted`: FAIL with one admitted, WARN or INCONCLUSIVE with none sent,
  INCONCLUSIVE with none answered, else PASS (its counts were signed from the start).
Figures that contradict each other (a waiver count above the breaches, a classification the
interval does not give) are refused with the field named.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.verify.schemas import Gate
from verification_pipeline.gates import AUTHZ_GATE, BASELINE_GROUP, NO_REGRESSION_GATE, SCAN_GROUP
from verification_pipeline.jsonio import shown
from verification_pipeline.verdict import Verdict, worst

_CONTRADICTION = "the producer contradicts itself; do not trust this bundle's verdict"
SBOM_GATE = f"{SCAN_GROUP}:sbom_present"
VULNERABILITY_GATE = f"{SCAN_GROUP}:vulnerability_policy_met"
POLICIES_GATE = f"{SCAN_GROUP}:policies_pass"
BASELINE_GATE = f"{BASELINE_GROUP}:{NO_REGRESSION_GATE}"
FIGURE_KEYS = {
    SBOM_GATE: "components",
    VULNERABILITY_GATE: "by_severity",
    POLICIES_GATE: "counts",
    BASELINE_GATE: "comparisons",
    AUTHZ_GATE: "admitted",
}
"""The figure whose presence says the gate signed its figures (absent: a bundle made before)."""


def carries_figures(gate: Gate) -> bool:
    return FIGURE_KEYS.get(gate.name, "\0") in (gate.model_extra or {})


def needs_figures(gate: Gate) -> bool:
    """A gate whose verdict a bundle of `gateFigures` >= 1 must let `verify` recompute."""
    return gate.name.startswith((f"{SCAN_GROUP}:", f"{BASELINE_GROUP}:"))


def figure_verdicts(gate: Gate, where: str) -> frozenset[Verdict] | None:
    """The verdicts the gate's signed figures allow; None where it signs none (an older bundle)."""
    if not carries_figures(gate):
        return None
    figures = _Figures(gate.model_extra or {}, where)
    rule: Callable[[_Figures], Verdict | frozenset[Verdict]] = _RULES[gate.name]
    allowed = rule(figures)
    return allowed if isinstance(allowed, frozenset) else frozenset({allowed})


_UNSET: Any = object()


class _Figures:
    """The gate's extra fields, read with their type checked and the field named when wrong."""

    def __init__(self, values: Mapping[str, Any], where: str) -> None:
        self.values, self.where = values, where

    def refuse(self, field: str, problem: str) -> VerificationFailed:
        return VerificationFailed(f"{self.where}.{field}]: {problem}", hint=_CONTRADICTION)

    def count(self, field: str, value: Any = _UNSET, *, optional: bool = False) -> int | None:
        value = self.values.get(field) if value is _UNSET else value
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.refuse(field, f"{shown(value)} is not a count")
        return value

    def number(self, field: str, value: Any, *, optional: bool = False) -> float | None:
        if value is None and optional:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
            raise self.refuse(field, f"{shown(value)} is not a number")  # ±inf is one (a ratio to 0 ms)
        return float(value)

    def counts(self, field: str) -> dict[str, int] | None:
        value = self.values.get(field)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self.refuse(field, f"{shown(value)} is not counts by name")
        return {str(k): self.count(f"{field}.{k}", v) or 0 for k, v in value.items()}

    def names(self, field: str, known: Mapping[str, int]) -> set[str]:
        value = self.values.get(field)
        if not isinstance(value, list) or not all(isinstance(v, str) and v in known for v in value):
            raise self.refuse(field, f"{shown(value)} is not a list of the counted severities")
        return set(value)


def _sbom(f: _Figures) -> Verdict:
    components = f.count("components", optional=True)
    minimum = f.count("min_components")
    return Verdict.PASS if components is not None and components >= (minimum or 0) else Verdict.FAIL


def _vulnerabilities(f: _Figures) -> Verdict:
    by_severity, fixable = f.counts("by_severity"), f.counts("fixable_by_severity")
    if by_severity is None:
        for field in ("fixable_by_severity", "waived", "violations"):
            if f.values.get(field) is not None:
                raise f.refuse(field, f"{shown(f.values[field])}, but no findings are counted (no report)")
        return Verdict.INCONCLUSIVE
    if fixable is None or set(fixable) != set(by_severity):
        raise f.refuse("fixable_by_severity", "does not count the same severities as by_severity")
    for severity, number in fixable.items():
        if number > by_severity[severity]:
            raise f.refuse(
                f"fixable_by_severity.{severity}", f"{number} fixable of {by_severity[severity]} findings"
            )
    fail_on = f.names("fail_on", by_severity)
    fail_on_fixable = f.names("fail_on_fixable", by_severity) - fail_on
    breaching = sum(by_severity[s] for s in fail_on) + sum(fixable[s] for s in fail_on_fixable)
    waived, violations = f.count("waived") or 0, f.count("violations") or 0
    if waived > breaching:
        raise f.refuse("waived", f"{waived} waived, but only {breaching} findings breach the policy")
    if violations != breaching - waived:
        raise f.refuse(
            "violations",
            f"{violations}, but {breaching} findings breach the policy and {waived} are waived "
            f"({breaching - waived} violations)",
        )
    return Verdict.FAIL if violations > (f.count("max_violations") or 0) else Verdict.PASS


def _policies(f: _Figures) -> Verdict:
    maximum = f.count("max_failures") or 0
    counts = f.counts("counts")
    if counts is None:
        return Verdict.INCONCLUSIVE
    for field in ("passed", "failed", "errors"):
        if field not in counts:
            raise f.refuse(f"counts.{field}", "missing")
    if counts["failed"] + counts["errors"] > maximum:
        return Verdict.FAIL
    return Verdict.INCONCLUSIVE if counts["passed"] == 0 else Verdict.PASS


def _baseline(f: _Figures) -> Verdict:
    comparisons = f.values.get("comparisons")
    if not isinstance(comparisons, list):
        raise f.refuse("comparisons", f"{shown(comparisons)} is not a list")
    if f.values.get("status") == "NO_BASELINE":
        if comparisons:
            raise f.refuse("comparisons", "compared, although the status says there was no baseline")
        return Verdict.WARN
    if f.values.get("status") != "COMPARED":
        raise f.refuse("status", f"{shown(f.values.get('status'))} is neither COMPARED nor NO_BASELINE")
    policy = f.values.get("policy")
    if not isinstance(policy, Mapping) or policy.get("on_regression") not in ("warn", "fail"):
        raise f.refuse("policy.on_regression", f"{shown(policy)} names no regression policy")
    fail = policy["on_regression"] == "fail"
    judged = _Policy(
        on_regression=Verdict.FAIL if fail else Verdict.WARN,
        undecided=Verdict.INCONCLUSIVE if fail else Verdict.WARN,
        pct=f.number("policy.max_p95_increase_pct", policy.get("max_p95_increase_pct")) or 0.0,
        pp=f.number("policy.max_error_rate_increase_pp", policy.get("max_error_rate_increase_pp")) or 0.0,
        min_samples=f.count("policy.min_compared_samples", policy.get("min_compared_samples")) or 0,
    )
    verdicts = []
    for index, row in enumerate(comparisons):
        if not isinstance(row, Mapping):
            raise f.refuse(f"comparisons.{index}", f"{shown(row)} is not an object")
        expected = _comparison(f, f"comparisons.{index}", row, judged)
        if row.get("verdict") != expected:
            raise f.refuse(
                f"comparisons.{index}.verdict",
                f"{row.get('slo')!s:.80} is signed {shown(row.get('verdict'))}, but its signed figures make it {expected}",
            )
        verdicts.append(expected)
    return worst(verdicts, empty=Verdict.WARN)


class _Policy:
    def __init__(
        self, *, on_regression: Verdict, undecided: Verdict, pct: float, pp: float, min_samples: int
    ) -> None:
        self.on_regression, self.undecided = on_regression, undecided
        self.pct, self.pp, self.min_samples = pct, pp, min_samples


def _comparison(f: _Figures, at: str, row: Mapping[str, Any], policy: _Policy) -> Verdict:
    """One SLO's comparison verdict from its figures, as `compare.document` decides it."""
    n_current = f.count(f"{at}.n_current", row.get("n_current"))
    n_baseline = f.count(f"{at}.n_baseline", row.get("n_baseline"))
    kind = row.get("kind")
    if kind not in ("latency", "error_rate"):
        raise f.refuse(f"{at}.kind", f"{shown(kind)} is neither latency nor error_rate")
    if min(n_current or 0, n_baseline or 0) < policy.min_samples:
        classification, verdict = None, policy.undecided
    elif kind == "latency":
        shift = _interval(f, f"{at}.shift_ms", row.get("shift_ms"))
        ratio = _interval(f, f"{at}.p95_ratio", row.get("p95_ratio"))
        # a shift below the row's materiality floor is no change (issue 24); no floor signed: 0
        floor = f.number(f"{at}.min_shift_ms", row.get("min_shift_ms"), optional=True) or 0.0
        if floor < 0:
            raise f.refuse(f"{at}.min_shift_ms", f"{floor:g} is below 0 ms")
        estimate = shift["estimate"] or 0.0
        tail = f.number(f"{at}.p95_diff_ms", row.get("p95_diff_ms"), optional=True) or 0.0
        classification = (
            "slower"
            if shift["lower"] is not None and shift["lower"] > 0 and max(estimate, tail) >= floor
            else "faster"
            if shift["upper"] is not None and shift["upper"] < 0 and min(estimate, tail) <= -floor
            else "no_change"
        )
        limit = 1.0 + policy.pct / 100.0
        if classification == "slower" and ratio["lower"] is not None and ratio["lower"] > limit:
            verdict = policy.on_regression
        elif classification == "slower" and (ratio["upper"] is None or (ratio["estimate"] or 0) > limit):
            verdict = policy.undecided
        else:
            verdict = Verdict.PASS
    else:
        pp = _interval(f, f"{at}.rate_diff_pp", row.get("rate_diff_pp"), bounded=True)
        lower, upper, estimate = pp["lower"] or 0.0, pp["upper"] or 0.0, pp["estimate"] or 0.0
        classification = "higher" if lower > 0 else "lower" if upper < 0 else "no_change"
        if classification == "higher" and lower > policy.pp:
            verdict = policy.on_regression
        elif classification == "higher" and estimate > policy.pp:
            verdict = policy.undecided
        else:
            verdict = Verdict.PASS
    if row.get("classification") != classification:
        raise f.refuse(
            f"{at}.classification",
            f"{shown(row.get('classification'))}, but its signed samples and interval make it {shown(classification)}",
        )
    saturated = row.get("saturated")
    if not isinstance(saturated, Mapping) or not all(
        isinstance(saturated.get(side), bool) for side in ("current", "baseline")
    ):
        raise f.refuse(f"{at}.saturated", f"{shown(saturated)} is not {{current, baseline}} true/false")
    if saturated["current"] != saturated["baseline"] and classification not in (None, "no_change"):
        verdict = policy.undecided  # only one side's client saturated: the change may be its own delay
    return verdict


def _interval(f: _Figures, at: str, value: Any, *, bounded: bool = False) -> dict[str, float | None]:
    if not isinstance(value, Mapping):
        raise f.refuse(at, f"{shown(value)} is not an interval {{estimate, lower, upper}}")
    figures = {
        name: f.number(f"{at}.{name}", value.get(name), optional=not bounded and name != "estimate")
        for name in ("estimate", "lower", "upper")
    }
    low, high = figures["lower"], figures["upper"]
    if low is not None and high is not None and low > high:
        raise f.refuse(at, f"its lower bound {low:g} is above its upper bound {high:g}")
    return figures


def _authz(f: _Figures) -> Verdict | frozenset[Verdict]:
    """Forbidden requests under load (`authz.document`): one admitted is a FAIL; none sent is
    not measured (WARN), or none answered (INCONCLUSIVE); otherwise PASS."""
    attempts, answered, admitted = (f.count(k) or 0 for k in ("attempts", "answered", "admitted"))
    if answered > attempts:
        raise f.refuse("answered", f"{answered} answered of {attempts} attempts")
    if admitted > answered:
        raise f.refuse("admitted", f"{admitted} admitted of {answered} answered")
    if admitted:
        return Verdict.FAIL
    if attempts == 0:  # none tried (WARN), or tried without a request recorded (INCONCLUSIVE)
        return frozenset({Verdict.WARN, Verdict.INCONCLUSIVE})
    return Verdict.INCONCLUSIVE if answered == 0 else Verdict.PASS


_RULES: dict[str, Callable[[_Figures], Verdict | frozenset[Verdict]]] = {
    SBOM_GATE: _sbom,
    VULNERABILITY_GATE: _vulnerabilities,
    POLICIES_GATE: _policies,
    BASELINE_GATE: _baseline,
    AUTHZ_GATE: _authz,
}
assert set(_RULES) == set(FIGURE_KEYS)
