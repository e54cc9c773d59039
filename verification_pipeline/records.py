"""What the assets hand each other, as typed records instead of dicts with string keys.

Records are pydantic models: the IO manager stores them as JSON (the same JSON a dict of
their fields made before) and validates them on load, so a stored value that no longer fits
its type fails where it is read, naming the field. A record changes only with a new run: frozen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from verification_pipeline.gates import (
    GateOutcome,
    authz_gate,
    baseline_figures,
    baseline_gate,
    cost_gate,
    overload_gates,
    scan_gates,
    service_build_gate,
    slo_gates,
    slo_min_samples,
)
from verification_pipeline.jsonio import camel_case_fields
from verification_pipeline.slo_row import SloRow
from verification_pipeline.verdict import Verdict


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def as_json(self) -> dict[str, Any]:
        """The JSON-ready form: what the IO manager stores and the demo prints."""
        return self.model_dump(mode="json")


class SloSpecRecord(Record):
    """slos.yaml as read: where from, its digest, its text and its validated form."""

    source: str
    sha256: str
    yaml: str
    spec: dict[str, Any]


class LoadPlan(Record):
    """One load step's work: one execution segment to run, or CI's files to import."""

    mode: Literal["run", "import"]
    read_files: tuple[str, ...] = ()
    write_files: tuple[str, ...] = ()
    index: int = 0
    segment: str = "0:1"
    sequence: str = ""
    duration: str = ""
    timeout: str = ""
    executor: str = ""
    vus: dict[str, int] = {}
    rate: dict[str, float] = {}
    segments: int = 1
    start_at: float | None = None
    """Epoch seconds at which split segments start together; None starts at once."""

    def files(self, role: str) -> tuple[str, ...]:
        return self.read_files if role == "read" else self.write_files


class SpecSource(Record):
    source: str
    yaml: str


class SloMetricsRecord(Record):
    """`slo/metrics.json`: the SLO table, k6-shaped summaries, fan-out figures and the verdict."""

    slos: tuple[SloRow, ...]
    summaries: dict[str, Any]
    fanout: dict[str, Any] | None
    min_delivery_ratio: float
    verdict: Verdict
    spec: SpecSource
    measurement_health: dict[str, Any] | None = None
    """Whether each phase's client measured the service or itself (`health.assess`)."""
    bounds_method: int | None = None
    """The rules of the bounds (`slo.metrics.BOUNDS_METHOD`); None: method 1, made before it was recorded."""

    def gates(self) -> tuple[GateOutcome, ...]:
        return slo_gates(self.slos, self.fanout, self.min_delivery_ratio, slo_min_samples(self.spec.yaml))


class ScanGate(Record):
    name: str
    verdict: Verdict
    reason: str
    figures: dict[str, Any] | None = None
    """The counts and thresholds the verdict follows from (`scans.summary`); None in older records."""


class ScanSummaryRecord(Record):
    """The scan gates' verdicts, and the findings behind them."""

    verdict: Verdict
    gates: tuple[ScanGate, ...]
    violations: list[dict[str, Any]] | None = None
    allowlisted: list[dict[str, Any]] | None = None
    expired_allowlist_entries: list[dict[str, Any]] | None = None
    missing_from_sbom: list[dict[str, Any]] | None = None

    def gate_outcomes(self) -> tuple[GateOutcome, ...]:
        return scan_gates(
            ((g.name, g.verdict, g.reason) for g in self.gates),
            {g.name: g.figures for g in self.gates if g.figures is not None},
        )


class ComparisonRow(BaseModel):
    """One SLO of `slo/baseline.json` (`compare.document`); its figures and intervals ride along."""

    model_config = ConfigDict(frozen=True, extra="allow")

    slo: str
    kind: Literal["latency", "error_rate"]
    classification: str | None
    verdict: Verdict
    reason: str


class BaselineComparisonRecord(Record):
    """`slo/baseline.json`: this RC against the previous verified RC of its release line."""

    model_config = ConfigDict(frozen=True, extra="forbid", serialize_by_alias=True, validate_by_name=True)

    document_schema: str = Field(alias="schema")
    rc: str
    status: Literal["COMPARED", "NO_BASELINE"]
    reason: str
    confidence: float
    baseline: dict[str, Any] | None
    """rc, bundle_uri, commit, verified, bundle_verdict, key_fingerprint of the baseline; None: none found."""
    regression_policy: dict[str, Any] | None = None
    verdict: Verdict
    slos: tuple[ComparisonRow, ...]
    design: Literal["sequential", "concurrent"] | None = Field(
        default=None, exclude_if=lambda value: value is None
    )
    """How the samples were taken (issue 24): `concurrent` side by side in one run, `sequential`
    against the previous RC's bundle; None in documents made before the field (sequential)."""
    regression_method: int | None = Field(default=None, exclude_if=lambda value: value is None)
    """The comparison's rules (`compare.document.REGRESSION_METHOD`: 2 adds the materiality floor and
    the paired fan-out rounds); None in documents made before the field (method 1)."""

    @property
    def baseline_rc(self) -> str | None:
        return None if self.baseline is None else str(self.baseline["rc"])

    def gate(self) -> GateOutcome:
        return baseline_gate(
            self.verdict,
            status=self.status,
            baseline_rc=self.baseline_rc,
            reason=self.reason,
            figures=baseline_figures(
                self.regression_policy, [row.model_dump(mode="json") for row in self.slos]
            ),
        )


class ServiceBuildRecord(Record):
    """Which build answered the load (`service_build` asset): the commit the service reported, or a
    waiver. Signed into the bundle in its camelCase form (`signed()`)."""

    expected_commit: str
    reported_commit: str | None
    source: str
    """Where it was read (URL and field or header), or `waived`."""
    waiver: str | None = None

    @property
    def verified(self) -> bool:
        return self.waiver is None and self.reported_commit == self.expected_commit

    def signed(self) -> dict[str, Any]:
        """The form the bundle's statements sign (`serviceBuild`)."""
        return camel_case_fields(self, "expected_commit", "reported_commit", "source", "verified", "waiver")

    def described(self) -> str:
        return f"build {self.reported_commit}" if self.verified else f"WAIVED: {self.waiver}"

    def gate(self) -> GateOutcome:
        return service_build_gate(
            verified=self.verified,
            reported_commit=self.reported_commit,
            expected_commit=self.expected_commit,
            waiver=self.waiver,
        )


def release_gates(
    slo_metrics: SloMetricsRecord,
    scan_summary: ScanSummaryRecord,
    service_build: ServiceBuildRecord,
    baseline_comparison: BaselineComparisonRecord,
    authz_under_load: Mapping[str, Any] | None = None,
    cost_per_request: Mapping[str, Any] | None = None,
    *,
    overload: Mapping[str, Any] | None = None,
) -> tuple[GateOutcome, ...]:
    """Every gate of an RC, in the order the bundle signs them: SLOs, delivery ratio, scans, the
    service's build (`service_build` asset: the build measured was the RC's, or a waiver), baseline,
    forbidden requests under load (`authz_under_load`) and cost per request (`cost_per_request`)."""
    return (
        *slo_metrics.gates(),
        *scan_summary.gate_outcomes(),
        service_build.gate(),
        baseline_comparison.gate(),
        *((authz_gate(authz_under_load),) if authz_under_load is not None else ()),
        *(overload_gates(overload) if overload is not None else ()),  # slo/overload.json (issue 22)
        *((cost_gate(cost_per_request),) if cost_per_request is not None else ()),
    )


@dataclass(frozen=True)
class GateInputs:
    """The upstream asset values an RC's gates are computed from, named after their assets: built
    once in each asset that judges the RC (`release_docs`, `report`, `evidence_bundle`,
    `release_decision`), so they all read the same gates (`gates()`)."""

    slo_metrics: SloMetricsRecord
    scan_summary: ScanSummaryRecord
    service_build: ServiceBuildRecord
    baseline_comparison: BaselineComparisonRecord
    authz_under_load: Mapping[str, Any] | None = None
    overload_phase: Mapping[str, Any] | None = None
    cost_per_request: Mapping[str, Any] | None = None

    @classmethod
    def from_asset_values(cls, values: Mapping[str, Any]) -> GateInputs:
        """The gate inputs among an asset's upstream values, picked by asset name: an asset passes
        its parameters (`locals()` as its first statement), so the seven names are spelled here
        once. A record missing or of the wrong type is a bug in the asset's signature: TypeError."""
        picked: dict[str, Any] = {f.name: values.get(f.name) for f in fields(cls)}
        for name, kind in _GATE_RECORDS.items():
            if not isinstance(picked[name], kind):
                raise TypeError(f"gate input {name!r} is {type(picked[name]).__name__}, not {kind.__name__}")
        return cls(**picked)

    def gates(self) -> tuple[GateOutcome, ...]:
        """Every gate of the RC, in the order the bundle signs them (`release_gates`)."""
        return release_gates(
            self.slo_metrics,
            self.scan_summary,
            self.service_build,
            self.baseline_comparison,
            self.authz_under_load,
            self.cost_per_request,
            overload=self.overload_phase,
        )


_GATE_RECORDS: dict[str, type] = {
    "slo_metrics": SloMetricsRecord,
    "scan_summary": ScanSummaryRecord,
    "service_build": ServiceBuildRecord,
    "baseline_comparison": BaselineComparisonRecord,
}


class ReleaseDocs(Record):
    """PR body and release notes (file name -> markdown), and the verdict they state."""

    verdict: Verdict
    missing_files: tuple[str, ...] = ()
    """Required bundle files known to be missing when the documents were written."""
    evidence_uri: str
    files: dict[str, str]


class BundleRecord(Record):
    """Where a run's signed bundle is, what it says, and the key that signed it."""

    uri: str
    archive_uri: str
    archive_sha256: str
    verdict: Verdict
    missing_files: tuple[str, ...]
    files: tuple[str, ...]
    key_fingerprint: str
    dev_key: bool
    public_key_pem: str
    run_id: str
    verified: bool


class ReleaseDecisionRecord(Record):
    rc: str
    commit: str | None
    verdict: Verdict
    reasons: tuple[str, ...]
    bundle_uri: str
    bundle_sha256: str
    dev_key: bool
    run_id: str


class RunSummary(Record):
    """The records of one verification run that a person reads first (the demo and `run` print
    them): each None where its step did not materialize. They stay records up to the printing."""

    slo_metrics: SloMetricsRecord | None = None
    baseline_comparison: BaselineComparisonRecord | None = None
    scan_summary: ScanSummaryRecord | None = None
    overload_phase: dict[str, Any] | None = None
    """slo/overload.json as the overload phase wrote it."""
    evidence_bundle: BundleRecord | None = None
    release_decision: ReleaseDecisionRecord | None = None
