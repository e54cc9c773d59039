"""Prometheus rules for the SLOs (`slo-burn-rate.yaml`), in the shape Sloth generates.

Per SLO three groups, as Sloth writes them: SLI recordings (`slo:sli_error:ratio_rate<window>`
for every alert window and the SLO period), metadata recordings (objective, error budget,
current and period burn rate, remaining budget) and the multiwindow multi-burn-rate alerts of
the Google SRE workbook. Two deliberate differences from Sloth:

- A window without traffic records an error ratio of 0, not NaN: the ratio is taken only where
  the request rate is above zero, and `or <request rate> * 0` fills in 0 where it is zero; an
  error counter nobody has incremented yet counts as zero (`or vector(0)`). Sloth's 0/0 would
  poison every burn rate, and the 30-day budget for as long as the quiet window stays in range.
  Series that do not exist at all still record nothing, so a wrong metric name shows as "no
  data", not as a perfect SLO.
- The period window is computed from the raw counters (traffic-weighted), not as Sloth's
  average of 5-minute ratios, which would count a quiet night as many perfect windows; the
  price is reading 30 days of two series per SLO at each evaluation.

Latency SLOs are ratio SLIs over histogram buckets: a request is bad when it is slower than the
threshold, i.e. not in the `le="<threshold>"` bucket, so the threshold must be a bucket bound.
With a 95 % objective the budget is 5 %, so the 14.4x page needs >= 72 % slow requests and the
6x page >= 30 % over six hours; a direct quantile alert pages sooner (see `direct_quantile`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from verification_pipeline.artifacts.model import MetricsConfig, SLOTarget, bucket_label
from verification_pipeline.errors import ConfigError
from verification_pipeline.formatting import exact, exact_percent

RULES_FILE = "slo-burn-rate.yaml"
SLI_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
WINDOW_LABEL = "sloth_window"
SLO_ID_LABELS: tuple[str, ...] = ("sloth_id", "sloth_service", "sloth_slo")

OBJECTIVE_RATIO = "slo:objective:ratio"
ERROR_BUDGET_RATIO = "slo:error_budget:ratio"
TIME_PERIOD_DAYS = "slo:time_period:days"
CURRENT_BURN_RATE = "slo:current_burn_rate:ratio"
PERIOD_BURN_RATE = "slo:period_burn_rate:ratio"
PERIOD_BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"


@dataclass(frozen=True)
class BurnRateWindows:
    """One condition of a multiwindow alert: the burn rate over both windows exceeds `factor`."""

    long: str
    short: str
    factor: float


@dataclass(frozen=True)
class BurnRateAlert:
    """A severity fires on its quick condition or its slow one."""

    severity: Literal["page", "ticket"]
    quick: BurnRateWindows
    slow: BurnRateWindows


PAGE = BurnRateAlert("page", BurnRateWindows("1h", "5m", 14.4), BurnRateWindows("6h", "30m", 6))
TICKET = BurnRateAlert("ticket", BurnRateWindows("1d", "2h", 3), BurnRateWindows("3d", "6h", 1))
BURN_RATE_ALERTS: tuple[BurnRateAlert, ...] = (PAGE, TICKET)

DIRECT_ALERT_WINDOW = "5m"
DIRECT_ALERT_FOR = "5m"
DIRECT_ALERT_SUFFIX = "QuantileAboveThreshold"
BURN_RATE_ALERT_SUFFIX = "ErrorBudgetBurn"


def sli_error_metric(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def recorded_series(slos: Sequence[SLOTarget]) -> frozenset[str]:
    """Names of every series the rules record, for checking what a dashboard may query."""
    windows = set(SLI_WINDOWS) | {slo.period for slo in slos}
    return frozenset(
        {sli_error_metric(w) for w in windows}
        | {OBJECTIVE_RATIO, ERROR_BUDGET_RATIO, TIME_PERIOD_DAYS}
        | {CURRENT_BURN_RATE, PERIOD_BURN_RATE, PERIOD_BUDGET_REMAINING}
    )


def slo_labels(slo: SLOTarget, metrics: MetricsConfig) -> dict[str, str]:
    """The labels that identify one SLO's series, Sloth's `sloth_id/service/slo`."""
    return {
        "sloth_id": f"{metrics.service}-{slo.name}",
        "sloth_service": metrics.service,
        "sloth_slo": slo.name,
    }


def slo_filter(slo: SLOTarget, metrics: MetricsConfig) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in slo_labels(slo, metrics).items()) + "}"


def alert_name(slo: SLOTarget, metrics: MetricsConfig, suffix: str) -> str:
    words = f"{metrics.service}_{slo.name}".replace("-", "_").split("_")
    return "".join(word[:1].upper() + word[1:] for word in words if word) + suffix


def direct_quantile(slo: SLOTarget) -> float:
    """The latency quantile whose crossing of the threshold should page at once.

    The share of slow requests at which the 6x page would fire, taken over five minutes
    instead of six hours: 30 % for a 95 % objective, so the alert watches p70. Where 6x the
    budget exceeds every request (objectives below 5/6), the SLO's own quantile.
    """
    slow_share = PAGE.slow.factor * slo.error_budget
    return round(1.0 - slow_share, 6) if slow_share < 1.0 else slo.objective


def sli_error_expr(slo: SLOTarget, metrics: MetricsConfig, window: str) -> str:
    """Share of bad events over `window`; 0 (never NaN) when the window saw no requests."""
    if slo.is_latency:
        assert slo.threshold_seconds is not None
        family = metrics.histogram(slo)
        fast = metrics.matchers(slo, [f'le="{bucket_label(slo.threshold_seconds)}"'])
        total = f"sum(rate({family}_count{metrics.matchers(slo)}[{window}]))"
        bad = f"(\n  {total}\n  -\n  sum(rate({family}_bucket{fast}[{window}]))\n)"
    else:
        errors = metrics.matchers(slo, metrics.errors_matchers)
        total = (
            f"sum(rate({metrics.requests_total}{metrics.matchers(slo, metrics.requests_matchers)}[{window}]))"
        )
        bad = f"(sum(rate({metrics.errors_total}{errors}[{window}])) or vector(0))"
    return f"{bad}\n/\n({total} > 0)\nor\n{total} * 0\n"


def rule_groups(slos: Sequence[SLOTarget], metrics: MetricsConfig | None = None) -> list[dict[str, Any]]:
    """The `groups:` list of the rule file, three groups per SLO."""
    metrics = metrics or MetricsConfig()
    _check_unique(slos)
    groups: list[dict[str, Any]] = []
    for slo in slos:
        sloth_id = slo_labels(slo, metrics)["sloth_id"]
        groups.append({"name": f"sloth-slo-sli-recordings-{sloth_id}", "rules": _sli_rules(slo, metrics)})
        groups.append({"name": f"sloth-slo-meta-recordings-{sloth_id}", "rules": _meta_rules(slo, metrics)})
        groups.append({"name": f"sloth-slo-alerts-{sloth_id}", "rules": _alert_rules(slo, metrics)})
    return groups


def render_rules(slos: Sequence[SLOTarget], metrics: MetricsConfig | None = None) -> str:
    """`slo-burn-rate.yaml`: a header that explains the budget arithmetic, then the groups."""
    metrics = metrics or MetricsConfig()
    body = yaml.dump(
        {"groups": rule_groups(slos, metrics)},
        Dumper=_BlockStringDumper,
        sort_keys=False,
        width=1000,
        allow_unicode=True,
    )
    return _header(slos, metrics) + body


def _sli_rules(slo: SLOTarget, metrics: MetricsConfig) -> list[dict[str, Any]]:
    windows = list(SLI_WINDOWS) + ([slo.period] if slo.period not in SLI_WINDOWS else [])
    return [
        {
            "record": sli_error_metric(window),
            "expr": sli_error_expr(slo, metrics, window),
            "labels": {**slo_labels(slo, metrics), WINDOW_LABEL: window},
        }
        for window in windows
    ]


def _meta_rules(slo: SLOTarget, metrics: MetricsConfig) -> list[dict[str, Any]]:
    labels = slo_labels(slo, metrics)
    selector = slo_filter(slo, metrics)
    on = f"on({', '.join(SLO_ID_LABELS)}) group_left"

    def burn_rate(window: str) -> str:
        return f"{sli_error_metric(window)}{selector}\n/ {on}\n{ERROR_BUDGET_RATIO}{selector}\n"

    return [
        {"record": OBJECTIVE_RATIO, "expr": f"vector({exact(slo.objective)})", "labels": labels},
        {"record": ERROR_BUDGET_RATIO, "expr": f"vector(1-{exact(slo.objective)})", "labels": labels},
        {"record": TIME_PERIOD_DAYS, "expr": f"vector({exact(_days(slo.period))})", "labels": labels},
        {"record": CURRENT_BURN_RATE, "expr": burn_rate(SLI_WINDOWS[0]), "labels": labels},
        {"record": PERIOD_BURN_RATE, "expr": burn_rate(slo.period), "labels": labels},
        {"record": PERIOD_BUDGET_REMAINING, "expr": f"1 - {PERIOD_BURN_RATE}{selector}", "labels": labels},
    ]


def _alert_rules(slo: SLOTarget, metrics: MetricsConfig) -> list[dict[str, Any]]:
    rules = [_burn_rate_alert(slo, metrics, alert) for alert in BURN_RATE_ALERTS]
    if slo.is_latency:
        rules.append(_direct_quantile_alert(slo, metrics))
    return rules


def _burn_rate_alert(slo: SLOTarget, metrics: MetricsConfig, alert: BurnRateAlert) -> dict[str, Any]:
    selector = slo_filter(slo, metrics)
    budget = exact(slo.error_budget)

    def above(window: str, factor: float) -> str:
        return f"max({sli_error_metric(window)}{selector} > ({exact(factor)} * {budget})) without ({WINDOW_LABEL})"

    def both(windows: BurnRateWindows) -> str:
        return (
            f"(\n    {above(windows.short, windows.factor)}\n    and\n"
            f"    {above(windows.long, windows.factor)}\n)"
        )

    service, name = metrics.service, slo.name
    return {
        "alert": alert_name(slo, metrics, BURN_RATE_ALERT_SUFFIX),
        "expr": f"{both(alert.quick)}\nor\n{both(alert.slow)}\n",
        "labels": {"sloth_severity": alert.severity},
        "annotations": {
            "title": f"({alert.severity}) {service} {name} SLO error budget burn rate is too fast.",
            "summary": (
                f"{slo.title}: the error budget burns at >= {exact(alert.quick.factor)}x over "
                f"{alert.quick.long} and {alert.quick.short}, or >= {exact(alert.slow.factor)}x over "
                f"{alert.slow.long} and {alert.slow.short}."
            ),
            "description": _budget_explanation(slo, alert),
        },
    }


def _direct_quantile_alert(slo: SLOTarget, metrics: MetricsConfig) -> dict[str, Any]:
    assert slo.threshold_seconds is not None
    quantile = direct_quantile(slo)
    family = metrics.histogram(slo)
    threshold = exact(slo.threshold_seconds)
    slow_share = exact_percent(1.0 - quantile)
    return {
        "alert": alert_name(slo, metrics, DIRECT_ALERT_SUFFIX),
        "expr": (
            f"histogram_quantile({exact(quantile)}, sum by (le) "
            f"(rate({family}_bucket{metrics.matchers(slo)}[{DIRECT_ALERT_WINDOW}])))\n> {threshold}\n"
        ),
        "for": DIRECT_ALERT_FOR,
        "labels": {**slo_labels(slo, metrics), "sloth_severity": "page"},
        "annotations": {
            "title": f"(page) {metrics.service} {slo.name} latency p{exact(quantile * 100)} is above {threshold}s.",
            "summary": (
                f"{slo.title}: more than {slow_share} of requests over the last {DIRECT_ALERT_WINDOW} "
                f"took longer than {threshold}s, for {DIRECT_ALERT_FOR}."
            ),
            "description": (
                f"{_budget_explanation(slo, PAGE)} This alert pages without waiting for the long "
                f"windows: it fires when the {DIRECT_ALERT_WINDOW} p{exact(quantile * 100)} latency "
                f"exceeds {threshold}s, i.e. when more than {slow_share} of requests are slow."
            ),
        },
    }


def _budget_explanation(slo: SLOTarget, alert: BurnRateAlert) -> str:
    """Why the burn-rate factors mean what they mean for this SLO, in words for the on-call."""
    budget = slo.error_budget
    bad = f"slower than {exact(slo.threshold_seconds or 0)}s" if slo.is_latency else "failed"
    parts = [
        (
            f"A {exact_percent(slo.objective)} objective over {slo.period} leaves an error budget of "
            f"{exact_percent(budget)} of requests {bad}."
        )
    ]
    for windows in (alert.quick, alert.slow):
        share = windows.factor * budget
        reach = (
            f"needs >= {exact_percent(share)} of requests {bad} over {windows.long} and {windows.short}"
            if share <= 1.0
            else f"can never fire ({exact_percent(share)} of requests would have to be {bad})"
        )
        parts.append(f"A {exact(windows.factor)}x burn {reach}.")
    return " ".join(parts)


def _header(slos: Sequence[SLOTarget], metrics: MetricsConfig) -> str:
    lines = [
        "# Code generated by verification_pipeline (ops.rules). DO NOT EDIT.",
        "# Sloth-shaped SLO rules: slo:sli_error:ratio_rate<window> recordings, metadata",
        "# recordings and multiwindow multi-burn-rate alerts (page 14.4x 1h/5m, 6x 6h/30m;",
        "# ticket 3x 1d/2h, 1x 3d/6h). A window without traffic records 0, never NaN.",
    ]
    for slo in slos:
        if slo.is_latency:
            quantile = direct_quantile(slo)
            lines.append(
                f"# {slo.name}: {exact_percent(slo.objective)} objective -> {exact_percent(slo.error_budget)} budget; the "
                f"{exact(PAGE.quick.factor)}x page needs >= {exact_percent(min(PAGE.quick.factor * slo.error_budget, 1.0))} "
                f"slow requests, so {alert_name(slo, metrics, DIRECT_ALERT_SUFFIX)} pages when "
                f"p{exact(quantile * 100)} > {exact(slo.threshold_seconds or 0)}s over {DIRECT_ALERT_WINDOW} "
                f"(> {exact_percent(1 - quantile)} slow) for {DIRECT_ALERT_FOR}."
            )
    return "\n".join(lines) + "\n"


def _check_unique(slos: Sequence[SLOTarget]) -> None:
    if not slos:
        raise ConfigError("no SLOs to generate rules for", field="slos")
    seen: set[str] = set()
    for slo in slos:
        if slo.name in seen:
            raise ConfigError(f"SLO name {slo.name!r} appears twice", field="slos.name")
        seen.add(slo.name)


def _days(period: str) -> float:
    value, unit = int(period[:-1]), period[-1]
    return value * {"m": 1 / 1440, "h": 1 / 24, "d": 1, "w": 7}[unit]


class _BlockStringDumper(yaml.SafeDumper):
    """Writes multi-line PromQL as `|` blocks and never anchors, as hand-written rule files read."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStringDumper.add_representer(str, _represent_str)
