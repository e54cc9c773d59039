"""Build `promtool test rules` files from generated rules and synthetic traffic.

Traffic is a list of phases, each a number of minutes at constant per-minute rates; the
counters a target would export are integrated from them, one sample a minute, so a scenario
reads like the incident it stands for ("6 h healthy, then 40 % of reads slow").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from verification_pipeline.artifacts.model import MetricsConfig, SLOTarget, bucket_label
from verification_pipeline.artifacts.rules import rule_groups, slo_labels

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.35, 0.5, 0.7, 0.75, 1.0, 2.5, 5.0, 10.0, math.inf)
FAST_SECONDS = 0.05


@dataclass(frozen=True)
class Phase:
    """Per-minute traffic held for `minutes`. Shares are of that minute's events."""

    minutes: int
    reads: float = 600.0
    writes: float = 120.0
    deliveries: float = 300.0
    read_slow: float = 0.01
    write_slow: float = 0.01
    fanout_slow: float = 0.01
    ingest_slow: float = 0.01
    error_share: float = 0.0001


QUIET = {"reads": 0.0, "writes": 0.0, "deliveries": 0.0}


def input_series(
    phases: Sequence[Phase], slos: Sequence[SLOTarget], metrics: MetricsConfig
) -> list[dict[str, str]]:
    """Counter series for every metric the SLOs read, integrated over the phases."""
    series: list[dict[str, str]] = []
    for op, count_of, slow_of in (
        ("read", lambda p: p.reads, lambda p: p.read_slow),
        ("write", lambda p: p.writes, lambda p: p.write_slow),
    ):
        threshold = _threshold(slos, "request_latency", op)
        series += _histogram(
            metrics.request_duration,
            f'{metrics.operation_label}="{op}",',
            phases,
            count_of,
            slow_of,
            threshold,
        )
        series.append(
            _counter(
                f'{metrics.requests_total}{{{metrics.operation_label}="{op}",code="200"}}', phases, count_of
            )
        )
        series.append(
            _counter(
                f'{metrics.errors_total}{{{metrics.operation_label}="{op}",kind="internal"}}',
                phases,
                lambda p, c=count_of: c(p) * p.error_share,
            )
        )
    series += _histogram(
        metrics.fanout_latency,
        "",
        phases,
        lambda p: p.deliveries,
        lambda p: p.fanout_slow,
        _threshold(slos, "fanout_latency"),
    )
    series += _histogram(
        metrics.ingest_duration,
        "",
        phases,
        lambda p: p.writes,
        lambda p: p.ingest_slow,
        _threshold(slos, "ingest_latency"),
    )
    return series


def unit_test_file(
    rule_file: str,
    phases: Sequence[Phase],
    slos: Sequence[SLOTarget],
    metrics: MetricsConfig,
    alert_checks: Sequence[dict[str, Any]],
    expr_checks: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    return {
        "rule_files": [rule_file],
        # Samples every minute, rules every 5: promtool's cost grows with evaluations times
        # the range of the 3d/30d windows, and alert timing only needs `for: 5m` resolution.
        "evaluation_interval": "5m",
        "tests": [
            {
                "interval": "1m",
                "input_series": input_series(phases, slos, metrics),
                "alert_rule_test": list(alert_checks),
                "promql_expr_test": list(expr_checks),
            }
        ],
    }


def alert_checks(
    eval_time: str, slos: Sequence[SLOTarget], metrics: MetricsConfig, firing: dict[str, set[str]]
) -> list[dict[str, Any]]:
    """One check per alert name in the rules at `eval_time`: exactly `firing` fires, nothing else.

    `firing` maps an alert name to the `sloth_severity` values expected to fire under it.
    """
    by_name: dict[str, list[tuple[SLOTarget, dict[str, Any]]]] = {}
    for slo in slos:
        for group in rule_groups([slo], metrics):
            for rule in group["rules"]:
                if "alert" in rule:
                    by_name.setdefault(rule["alert"], []).append((slo, rule))
    unknown = set(firing) - set(by_name)
    assert not unknown, f"expected alerts that the rules do not define: {unknown}"
    checks = []
    for name, rules in sorted(by_name.items()):
        expected = []
        for slo, rule in rules:
            if rule["labels"]["sloth_severity"] in firing.get(name, set()):
                expected.append(
                    {
                        "exp_labels": {**slo_labels(slo, metrics), **rule["labels"]},
                        "exp_annotations": dict(rule["annotations"]),
                    }
                )
        checks.append({"eval_time": eval_time, "alertname": name, "exp_alerts": expected})
    return checks


def _threshold(slos: Sequence[SLOTarget], indicator: str, operation: str | None = None) -> float:
    for slo in slos:
        if slo.indicator == indicator and (operation is None or slo.operation == operation):
            assert slo.threshold_seconds is not None
            return slo.threshold_seconds
    raise AssertionError(f"no {indicator} SLO for {operation}")


def _histogram(family, labels, phases, count_of, slow_of, threshold) -> list[dict[str, str]]:
    slow_seconds = threshold * 1.5
    out = []
    for bound in BUCKETS:

        def in_bucket(p: Phase, bound: float = bound) -> float:
            n = count_of(p)
            fast = n * (1 - slow_of(p)) if bound >= FAST_SECONDS else 0.0
            slow = n * slow_of(p) if slow_seconds <= bound else 0.0
            return fast + slow

        out.append(_counter(f'{family}_bucket{{{labels}le="{bucket_label(bound)}"}}', phases, in_bucket))
    out.append(_counter(f"{family}_count{{{labels.rstrip(',')}}}", phases, count_of))
    return out


def _counter(series: str, phases: Sequence[Phase], per_minute) -> dict[str, str]:
    """Expanding notation, one segment per phase, continuing where the last one ended.

    promtool expands `a+bxn` by adding `b` n times; the next segment starts from the same
    float sum, written exactly (repr), so a counter never steps back and fakes a reset.
    """
    segments, value = [], 0.0
    for index, phase in enumerate(phases):
        step = per_minute(phase)
        if index == 0:
            start, repeats = value, phase.minutes
        else:
            value += step
            start, repeats = value, phase.minutes - 1
        segments.append(f"{start!r}+{step!r}x{repeats}")
        for _ in range(repeats):
            value += step
    return {"series": series.replace("{}", ""), "values": " ".join(segments)}
