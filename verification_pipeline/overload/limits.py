"""`slos.yaml`'s `cost_controls:`: the per-tenant rate limit the service declares, and the overload phase.

After the SLO load and the fan-out probe (never beside them: load never measures itself), k6
drives tenant A at `offered_factor` x `tenant_rps_limit` for `overload_duration_s` with an
arrival-rate executor (the offered rate does not fall when the service slows: no coordinated
omission), while tenant B keeps `neighbour_rps`; then A falls back to `recovery_rps` for
`recovery_window_s`. What counts as shed: an answer with `shed_status` and a usable Retry-After
(whole seconds or an HTTP date, 1 s up to `max_retry_after_s`). Anything else that is not a
success (a 5xx, a timeout, no answer) is a failure under overload, never shedding.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class CostControls(BaseModel):
    """The declared per-tenant limit and how the overload phase tests it (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    tenant_rps_limit: float = Field(gt=0, le=100_000, strict=True)
    """Requests per second one tenant may send before the service sheds the rest."""
    offered_factor: float = Field(default=2.0, gt=1, le=20, strict=True)
    overload_duration_s: float = Field(default=30.0, ge=1, le=3600, strict=True)
    neighbour_rps: float = Field(default=50.0, gt=0, le=100_000, strict=True)
    """Tenant B's normal rate, below the limit: it must not be shed or slowed by A's overload."""
    shed_status: int = Field(default=429, ge=400, le=599, strict=True)
    max_retry_after_s: float = Field(default=60.0, ge=1, le=86_400, strict=True)
    min_retry_after_share: float = Field(default=0.99, gt=0, le=1, strict=True)
    """Of A's refused requests, at least this share must carry a usable Retry-After."""
    max_admitted_excess_pct: float = Field(default=10.0, ge=0, le=1000, strict=True)
    """Admitted above the limit (after one second's burst) by more than this: the limiter does not limit."""
    latency_slo: str = Field(default="read_latency_p95", pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    """The quantile SLO of `slos:` the admitted requests' and the neighbour's latency are judged by."""
    neighbour_max_error_rate_pct: float = Field(default=2.0, gt=0, le=100, strict=True)
    recovery_rps: float = Field(default=50.0, gt=0, le=100_000, strict=True)
    recovery_window_s: float = Field(default=8.0, ge=1, le=3600, strict=True)
    max_recovery_s: float = Field(default=3.0, ge=0, le=3600, strict=True)
    """Seconds after the overload ends by which A's p95 must be back under the latency SLO's threshold."""
    request_timeout_s: float = Field(default=10.0, gt=0, le=600, strict=True)
    """k6's timeout per request in the phase; a request that runs out is a failure, not shedding."""

    @model_validator(mode="after")
    def _consistent(self) -> CostControls:
        if self.neighbour_rps >= self.tenant_rps_limit:
            raise ValueError(
                "neighbour_rps must be below tenant_rps_limit: the neighbour is a tenant within its share"
            )
        if self.recovery_rps >= self.tenant_rps_limit:
            raise ValueError(
                "recovery_rps must be below tenant_rps_limit: recovery is measured within the share"
            )
        if self.max_recovery_s >= self.recovery_window_s:
            raise ValueError(
                "max_recovery_s must be below recovery_window_s, or recovery could never be seen"
            )
        return self

    @property
    def offered_rps(self) -> float:
        return self.tenant_rps_limit * self.offered_factor
