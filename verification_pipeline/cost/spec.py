"""The `cost:` section of `slos.yaml`: which series hold the service's resource figures, and the policy.

Quantities (each optional; a service shows what it exposes): `cpu_seconds`, `requests`,
`cache_hits`, `cache_misses` and `limiter_refused` are counters (their increase over a phase is
the figure), `resident_memory_bytes` a gauge (its peak over a phase). `scrape` names them in the
service's own `/metrics` exposition (a metric, summed over the series whose labels match);
`promql` as instant queries against a Prometheus server (`VP_PROMETHEUS_URL`), how a service of
many pods is measured (sum over pods). A rise of CPU seconds per 1,000 requests of more than
`max_cpu_per_request_increase_pct` above the baseline RC's is WARN (`on_increase: fail`: FAIL).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PHASES = ("slo_load", "overload")
"""The load phases read around, in the order they run; a new phase is one name here and one
`resources_during(phase=...)` around its load (`defs/cost/during.py`)."""
COUNTERS = ("cpu_seconds", "requests", "cache_hits", "cache_misses", "limiter_refused")
GAUGES = ("resident_memory_bytes",)
QUANTITIES = COUNTERS + GAUGES

_METRIC_NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"


class ScrapedSeries(BaseModel):
    """A metric of the exposition, summed over its series whose labels take one of the values given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(pattern=_METRIC_NAME, max_length=200)
    labels: dict[str, str | list[str]] = Field(default_factory=dict, max_length=16)

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        if name != self.metric:
            return False
        for key, wanted in self.labels.items():
            allowed = [wanted] if isinstance(wanted, str) else wanted
            if labels.get(key) not in allowed:
                return False
        return True


class ScrapeQuantities(BaseModel):
    """Defaults: the client libraries' `process_*` series and the reference target's own names
    (`reference_target/metrics.py`); a service naming them otherwise says so in slos.yaml, and
    `null` drops one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_seconds: ScrapedSeries | None = ScrapedSeries(metric="process_cpu_seconds_total")
    requests: ScrapedSeries | None = ScrapedSeries(metric="coherence_requests_total")
    cache_hits: ScrapedSeries | None = ScrapedSeries(
        metric="coherence_token_cache_lookups_total", labels={"result": "hit"}
    )
    cache_misses: ScrapedSeries | None = ScrapedSeries(
        metric="coherence_token_cache_lookups_total", labels={"result": "miss"}
    )
    limiter_refused: ScrapedSeries | None = ScrapedSeries(
        metric="coherence_request_errors_total", labels={"kind": ["rate_limited", "overloaded"]}
    )
    resident_memory_bytes: ScrapedSeries | None = ScrapedSeries(metric="process_resident_memory_bytes")


PromQL = str | None


class PromqlQuantities(BaseModel):
    """Defaults: the same series summed over the pods of job `coherence`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_seconds: PromQL = Field(default='sum(process_cpu_seconds_total{job="coherence"})', max_length=2000)
    requests: PromQL = Field(default='sum(coherence_requests_total{job="coherence"})', max_length=2000)
    cache_hits: PromQL = Field(
        default='sum(coherence_token_cache_lookups_total{job="coherence",result="hit"})', max_length=2000
    )
    cache_misses: PromQL = Field(
        default='sum(coherence_token_cache_lookups_total{job="coherence",result="miss"})', max_length=2000
    )
    limiter_refused: PromQL = Field(
        default='sum(coherence_request_errors_total{job="coherence",kind=~"rate_limited|overloaded"})',
        max_length=2000,
    )
    resident_memory_bytes: PromQL = Field(
        default='sum(process_resident_memory_bytes{job="coherence"})', max_length=2000
    )


class CostPolicy(BaseModel):
    """What is read, how often, and what a rise in CPU per request does to the verdict."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_cpu_per_request_increase_pct: float = Field(default=30.0, ge=0, le=10_000, strict=True)
    on_increase: Literal["warn", "fail"] = "warn"
    sample_interval_s: float = Field(default=2.0, ge=0.1, le=300, strict=False)
    promql_settle_s: float = Field(default=15.0, ge=0, le=600, strict=False)
    """After a phase, wait this long before the last PromQL read: the server scrapes every so often."""
    scrape: ScrapeQuantities = Field(default_factory=ScrapeQuantities)
    promql: PromqlQuantities = Field(default_factory=PromqlQuantities)
