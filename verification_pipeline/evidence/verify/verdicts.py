"""Check 5: every verdict `verify` prints is recomputed from what is signed.

A gate's verdict from its signed figures and threshold, where the gate carries them (the SLO
rules of `slo/metrics.py`, the delivery ratio's of `gates.py`), and the service build's from
the signed `serviceBuild`; then the RC's verdict, `result` and passed/warned/failed tests from
the gates and the missing files, as the builder derives them. A signed PASS beside a figure
that breaches its threshold, or on fewer samples than its signed `min_samples`, is refused,
naming the gate. Scan and baseline gates are recomputed from the figures they sign (`figures`);
a bundle made before they signed any (no `gateFigures` marker) has those verdicts taken as signed,
and `verify` says so.
"""

from __future__ import annotations

from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.statements import (
    EXTENSION,
    RESULT_OF_VERDICT,
    build_test_result_statement,
)
from verification_pipeline.evidence.verify.claims import rc_of
from verification_pipeline.evidence.verify.figures import carries_figures, figure_verdicts, needs_figures
from verification_pipeline.evidence.verify.schemas import (
    ExternalParameters,
    Gate,
    TestResultPredicate,
    predicate_where,
)
from verification_pipeline.gates import (
    DELIVERY_RATIO_GATE,
    GATE_FIGURES_VERSION,
    SERVICE_BUILD_GATE,
    SLO_GROUP,
    UNTRUSTED_MEASUREMENT,
    GateOutcome,
    service_build_gate,
)
from verification_pipeline.jsonio import shown
from verification_pipeline.verdict import Verdict

_WHERE = predicate_where("test-result predicate")
_CONTRADICTION = "the producer contradicts itself; do not trust this bundle's verdict"


def check_gates(tested: TestResultPredicate, parameters: ExternalParameters) -> tuple[str, ...]:
    """Every gate's verdict against its signed figures; returns the gates that sign none to
    recompute from (an older bundle's scan and baseline gates), whose verdicts are taken as signed."""
    version = tested.ours.gateFigures
    if version is not None and version > GATE_FIGURES_VERSION:
        raise VerificationFailed(
            f"{_WHERE}.{EXTENSION}.gateFigures]: {version}, newer than this verifier knows ({GATE_FIGURES_VERSION})",
            hint="verify with a newer verification-pipeline; a gate this one cannot recompute is not taken on trust",
        )
    unchecked: list[str] = []
    for index, gate in enumerate(tested.ours.gates):
        where = f"{_WHERE}.{EXTENSION}.gates.{index}"
        if version is not None and needs_figures(gate) and not carries_figures(gate):
            raise VerificationFailed(
                f"{where}]: {gate.name} signs no figures to recompute its verdict from, although the "
                f"bundle says its gates do (gateFigures {version})",
                hint=_CONTRADICTION,
            )
        if (
            version is not None
            and gate.name.startswith(f"{SLO_GROUP}:")
            and gate.threshold is not None
            and (gate.min_samples is None or gate.n is None)
        ):
            raise VerificationFailed(
                f"{where}.{'n' if gate.n is None else 'min_samples'}]: missing; {gate.name} cannot be "
                f"judged against its minimum sample (gateFigures {version})",
                hint=_CONTRADICTION,
            )
        allowed = figure_verdicts(gate, where) or allowed_verdicts(gate, parameters)
        if allowed is None:
            unchecked.append(gate.name)
        if allowed is not None and Verdict(gate.verdict) not in allowed:
            raise VerificationFailed(
                f"{_WHERE}.{EXTENSION}.gates.{index}.verdict]: {gate.name} is signed {gate.verdict}, but its "
                f"signed figures make it {' or '.join(sorted(allowed))} ({_figures(gate)})",
                hint=_CONTRADICTION,
            )
    return tuple(unchecked)


def allowed_verdicts(gate: Gate, parameters: ExternalParameters) -> frozenset[Verdict] | None:
    """The verdicts the gate's signed figures allow; None where it signs no figures to judge by."""
    if gate.name == f"{SLO_GROUP}:{DELIVERY_RATIO_GATE}":
        return _delivery_ratio(gate)
    if gate.name == SERVICE_BUILD_GATE:
        build = parameters.serviceBuild
        if build is None:
            return None
        expected = service_build_gate(
            verified=build.verified,
            reported_commit=build.reportedCommit,
            expected_commit=build.expectedCommit,
            waiver=build.waiver,
        )
        return frozenset({expected.verdict})
    if gate.name.startswith(f"{SLO_GROUP}:") and gate.threshold is not None:
        return _slo(gate, gate.threshold)
    return None


def _slo(gate: Gate, threshold: float) -> frozenset[Verdict]:
    """`slo/metrics.py`'s rule: FAIL when the lower bound is above the threshold, PASS only when
    the upper bound and the value are at or below it, INCONCLUSIVE otherwise (too few samples
    too). A gate that signs no bounds is judged by the figures it does sign."""
    if gate.ci_low is not None and gate.ci_low > threshold:
        # a client that measured itself makes a FAIL INCONCLUSIVE, and the reason says so (never PASS)
        if (gate.reason or "").startswith(UNTRUSTED_MEASUREMENT):
            return frozenset({Verdict.FAIL, Verdict.INCONCLUSIVE})
        return frozenset({Verdict.FAIL})
    allowed = {Verdict.INCONCLUSIVE}
    figures = [figure for figure in (gate.value, gate.ci_high) if figure is not None]
    enough = gate.n is None or gate.min_samples is None or gate.n >= gate.min_samples
    if figures and all(figure <= threshold for figure in figures) and enough:
        allowed.add(Verdict.PASS)
    if gate.ci_low is None and gate.value is not None and gate.value > threshold:
        allowed.add(Verdict.FAIL)
    return frozenset(allowed)


def _delivery_ratio(gate: Gate) -> frozenset[Verdict] | None:
    if gate.min_delivery_ratio is None:
        return None
    if gate.delivery_ratio is None:
        return frozenset({Verdict.INCONCLUSIVE})
    return frozenset({Verdict.PASS if gate.delivery_ratio >= gate.min_delivery_ratio else Verdict.FAIL})


def _figures(gate: Gate) -> str:
    shown_fields = (
        "value",
        "threshold",
        "ci_low",
        "ci_high",
        "n",
        "min_samples",
        "delivery_ratio",
        "min_delivery_ratio",
    )
    return (
        ", ".join(
            f"{name} {getattr(gate, name):g}" for name in shown_fields if getattr(gate, name) is not None
        )
        or "no figures"
    )


def check_result(tested: TestResultPredicate) -> None:
    """The signed verdict, result and test lists are what the builder derives from the signed
    gates and missing files: a PASS cannot sit beside failed tests or failing gates."""
    ours = tested.ours
    if tested.result != RESULT_OF_VERDICT[ours.verdict]:
        raise VerificationFailed(
            f"{_WHERE}.result]: {shown(tested.result)} contradicts the verdict "
            f"{ours.verdict}, which is signed as {RESULT_OF_VERDICT[ours.verdict]!r}",
            hint=_CONTRADICTION,
        )
    expected = build_test_result_statement(
        [],
        rc_of(ours.releaseCandidate),
        [GateOutcome(g.name, Verdict(g.verdict)) for g in ours.gates],
        missing_files=ours.missingFiles,
        configuration=(),
    )["predicate"]
    if expected[EXTENSION]["verdict"] != ours.verdict:
        raise VerificationFailed(
            f"{_WHERE}.{EXTENSION}.verdict]: {ours.verdict} although its gates and missing files make it "
            f"{expected[EXTENSION]['verdict']}",
            hint=_CONTRADICTION,
        )
    for field in ("passedTests", "warnedTests", "failedTests"):
        if getattr(tested, field) != expected[field]:
            raise VerificationFailed(
                f"{_WHERE}.{field}]: {shown(getattr(tested, field))} does not follow from the signed gates "
                f"(expected {expected[field]})",
                hint=_CONTRADICTION,
            )
