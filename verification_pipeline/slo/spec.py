"""`slos.yaml`: which figures must hold for a release, validated before anything is measured.

Every SLO reads "value <= threshold". A `quantile` SLO bounds a latency quantile in ms; a
`rate` SLO bounds the share of failed requests in percent. `min_samples` is the smallest
sample on which a PASS may be claimed. `responses` chooses which requests a latency quantile
counts: `successful` (k6's `http_req_duration{expected_response:true}`, the default, so fast
failures cannot make a slow service look fast) or `all`; the other figure is reported beside.
`confidence` is the one-sided level of every bound: PASS means the upper bound at that level is
at or below the threshold, FAIL that the lower bound at that level is above it. `regression`
says how much worse than the baseline RC this RC may be before the comparison warns (or fails).
The packaged default (`slos.yaml` beside this module) holds the seed's five SLOs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from verification_pipeline.config_files import load_yaml_with_lines, validate
from verification_pipeline.cost.spec import CostPolicy
from verification_pipeline.errors import ConfigError
from verification_pipeline.health.assess import HealthLimits
from verification_pipeline.overload.limits import CostControls

DEFAULT_SLOS_PATH = Path(__file__).resolve().parent / "slos.yaml"

# Past these no SLO means anything: a latency bound of a day, a sample no run produces.
MAX_THRESHOLD_MS = 86_400_000.0
MAX_MIN_SAMPLES = 1_000_000_000

Source = Literal["read", "write", "all", "ingest", "fanout"]
# Sources that are requests with an outcome; `ingest` and `fanout` only carry latencies.
REQUEST_SOURCES = ("read", "write", "all")


class Slo(BaseModel):
    """One objective: `metric` of `source` must be <= `threshold` `unit`."""

    # An infinite threshold is an SLO that can never fail; NaN compares false either way.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    description: str = ""
    metric: Literal["quantile", "rate"]
    source: Source
    # strict: `yes`, `true` or "350" is no number (pydantic would read true as 1)
    quantile: float | None = Field(default=None, gt=0, lt=1, strict=True)
    threshold: float = Field(ge=0, le=MAX_THRESHOLD_MS, strict=True)
    unit: Literal["ms", "percent"]
    min_samples: int = Field(ge=1, le=MAX_MIN_SAMPLES, strict=True)
    responses: Literal["successful", "all"] = "successful"

    @model_validator(mode="after")
    def _metric_fits(self) -> Slo:
        if self.metric == "quantile":
            if self.quantile is None:
                raise ValueError("a quantile SLO needs `quantile`, e.g. 0.95 for p95")
            if self.unit != "ms":
                raise ValueError("a quantile SLO bounds a latency: unit must be ms")
            if self.threshold <= 0:
                raise ValueError("a latency threshold must be above 0 ms")
        else:
            if self.quantile is not None:
                raise ValueError("a rate SLO takes no `quantile`")
            if self.unit != "percent":
                raise ValueError("a rate SLO is a share of requests: unit must be percent")
            if self.responses != "successful":
                raise ValueError("a rate SLO counts every request: `responses` applies to latency SLOs only")
            if self.source not in REQUEST_SOURCES:
                raise ValueError(
                    f"a rate SLO counts failed requests: source must be one of {REQUEST_SOURCES}"
                )
            if self.threshold > 100:
                raise ValueError("a rate threshold is a percentage, at most 100")
        return self


class RegressionPolicy(BaseModel):
    """What the baseline comparison calls a regression, and what a regression does to the verdict.

    A latency SLO regresses when this RC is detectably slower and its p95 is more than
    `max_p95_increase_pct` above the baseline's; a rate SLO when its rate is detectably higher
    by more than `max_error_rate_increase_pp` percentage points. `on_regression: warn` (the
    default) reports it as WARN; `fail` makes it a FAIL of the RC.

    Materiality (issue 24): a detected latency shift is called `slower` (or `faster`) only when
    its estimate or the difference of the two p95s reaches the SLO's floor, max(`min_shift_ms`,
    `min_shift_threshold_pct` % of the SLO's threshold); below it the row is `no_change`, so the
    percentage rule never judges a sub-millisecond p95. Bundles made before (no
    `regression_method` in slo/baseline.json) are recomputed without it (`material_floor_ms`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_p95_increase_pct: float = Field(default=10.0, ge=0, le=1000, strict=True)
    max_error_rate_increase_pp: float = Field(default=0.1, ge=0, le=100, strict=True)
    on_regression: Literal["warn", "fail"] = "warn"
    min_shift_ms: float = Field(default=5.0, ge=0, le=10_000, strict=True)
    min_shift_threshold_pct: float = Field(default=2.0, ge=0, le=100, strict=True)

    def material_floor_ms(self, threshold_ms: float) -> float:
        """The smallest latency shift (ms) worth calling a change for an SLO with this threshold."""
        return max(self.min_shift_ms, self.min_shift_threshold_pct / 100.0 * threshold_ms)


class SloSpec(BaseModel):
    """The whole file: a version, the confidence of every interval, the SLOs, the regression policy."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    version: Literal[1] = 1
    confidence: float = Field(default=0.95, gt=0.5, lt=1, strict=True)
    slos: list[Slo] = Field(min_length=1)
    regression: RegressionPolicy = Field(default_factory=RegressionPolicy)
    measurement_health: HealthLimits = Field(default_factory=HealthLimits)
    """When a phase's client counts as saturated (`health.assess`)."""
    cost_controls: CostControls | None = None
    """The per-tenant limit and the overload phase that tests it (`overload.limits`); none: not measured."""
    cost: CostPolicy = Field(default_factory=CostPolicy)
    """Cost per request (`cost/`): where the service's resource figures are read, and the policy."""

    @model_validator(mode="after")
    def _names_unique(self) -> SloSpec:
        names = [slo.name for slo in self.slos]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"SLO names must be unique; repeated: {', '.join(duplicates)}")
        return self


def load_slo_spec(text: str | bytes, *, source: str = "slos.yaml") -> SloSpec:
    """Parse and validate; a ConfigError names the file and the field (e.g. `slos[2].threshold`)."""
    document, lines = load_yaml_with_lines(text, source=source)
    if not isinstance(document, dict):
        raise ConfigError("expected a mapping with `slos:` at the top", source=source)
    spec = validate(SloSpec, document, source=source, lines=lines)
    controls = spec.cost_controls
    if controls is not None and not any(
        slo.name == controls.latency_slo and slo.metric == "quantile" for slo in spec.slos
    ):
        where = ("cost_controls", "latency_slo")
        raise ConfigError(
            f"{controls.latency_slo!r} names no quantile SLO of `slos:`",
            source=source,
            line=lines.of(where),
            field=".".join(where),
            hint="name the latency SLO the overload phase's p95 is judged by, e.g. read_latency_p95",
        )
    return spec


def default_slo_spec() -> SloSpec:
    """The seed's five SLOs, from the packaged `slos.yaml`."""
    return load_slo_spec(DEFAULT_SLOS_PATH.read_bytes(), source=str(DEFAULT_SLOS_PATH))
