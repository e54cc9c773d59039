"""The generated burn-rate rules: promtool accepts them, and they fire exactly when they should."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.artifacts.promtool_scenarios import QUIET, Phase, alert_checks, unit_test_file
from verification_pipeline.artifacts.model import MetricsConfig, SLOTarget
from verification_pipeline.artifacts.rules import (
    CURRENT_BURN_RATE,
    PERIOD_BUDGET_REMAINING,
    SLI_WINDOWS,
    direct_quantile,
    recorded_series,
    render_rules,
    rule_groups,
    sli_error_metric,
    slo_labels,
)
from verification_pipeline.errors import ConfigError

READ_BURN = "CoherenceReadLatencyP95ErrorBudgetBurn"
READ_DIRECT = "CoherenceReadLatencyP95QuantileAboveThreshold"
ERRORS_BURN = "CoherenceErrorRateErrorBudgetBurn"


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)


def _write_rules(tmp_path: Path, slos, metrics) -> Path:
    path = tmp_path / "slo-burn-rate.yaml"
    path.write_text(render_rules(slos, metrics))
    return path


def test_promtool_lint_accepts_the_rules(tmp_path, seed_slos, metrics, promtool):
    rules = _write_rules(tmp_path, seed_slos, metrics)
    result = _run([promtool, "check", "rules", "--lint=all", "--lint-fatal", str(rules)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_custom_metric_names_and_selector_reach_every_expression(tmp_path, seed_slos, promtool):
    metrics = MetricsConfig(
        service="shop",
        selector=('job="shop-api"',),
        operation_label="op",
        request_duration="http_server_duration_seconds",
        fanout_latency="shop_fanout_seconds",
        ingest_duration="shop_ingest_seconds",
        requests_total="http_requests_total",
        errors_total="http_requests_total",
        errors_matchers=('code=~"5.."',),
    )
    text = render_rules(seed_slos, metrics)
    assert "coherence" not in text
    assert 'http_server_duration_seconds_bucket{job="shop-api",op="read",le="0.35"}' in text
    assert 'http_requests_total{job="shop-api",code=~"5.."}' in text
    assert "sloth_id: shop-read_latency_p95" in text
    rules = tmp_path / "rules.yaml"
    rules.write_text(text)
    result = _run([promtool, "check", "rules", "--lint=all", "--lint-fatal", str(rules)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_slo_records_every_window_and_the_sloth_metadata(seed_slos, metrics):
    groups = rule_groups(seed_slos, metrics)
    assert len(groups) == 3 * len(seed_slos)
    for slo in seed_slos:
        records = {
            (rule["record"], rule["labels"].get("sloth_window"))
            for group in groups
            for rule in group["rules"]
            if "record" in rule and rule["labels"].get("sloth_slo") == slo.name
        }
        for window in (*SLI_WINDOWS, "30d"):
            assert (sli_error_metric(window), window) in records
        assert {name for name, _ in records} == recorded_series(seed_slos)


def test_latency_annotations_explain_why_the_burn_rate_page_is_late(seed_slos, metrics):
    read = seed_slos[0]
    alerts = [r for g in rule_groups([read], metrics) for r in g["rules"] if "alert" in r]
    page = next(a for a in alerts if a["labels"]["sloth_severity"] == "page" and a["alert"] == READ_BURN)
    direct = next(a for a in alerts if a["alert"] == READ_DIRECT)
    assert "error budget of 5 %" in page["annotations"]["description"]
    assert ">= 72 % of requests slower than 0.35s" in page["annotations"]["description"]
    assert ">= 72 %" in direct["annotations"]["description"]
    assert "p70" in direct["annotations"]["title"]
    assert direct["for"] == "5m"
    assert direct_quantile(read) == pytest.approx(0.70)
    # A loose objective: 6x the budget is more than every request, so the SLO's own quantile.
    loose = SLOTarget("p50", "p50", "request_latency", 0.5, 0.2, "read")
    assert direct_quantile(loose) == 0.5
    assert (
        "can never fire"
        in next(r for g in rule_groups([loose], metrics) for r in g["rules"] if r.get("alert"))[
            "annotations"
        ]["description"]
    )


H = 60  # minutes


@dataclass(frozen=True)
class Scenario:
    """Traffic, the alerts expected to fire at each time (nothing else may), and for quiet
    traffic the time at which every burn rate must read exactly 0 rather than NaN."""

    phases: list[Phase]
    firing_at: dict[str, dict[str, set[str]]]
    quiet_at: str | None = None
    never_any_traffic: bool = False


SCENARIOS = {
    # 2 % errors on a 0.1 % budget is a 20x burn: both the page (14.4x) and the ticket (3x).
    "two_percent_errors_page_and_ticket": Scenario(
        [Phase(7 * H, error_share=0.02)],
        {t: {ERRORS_BURN: {"page", "ticket"}} for t in ("15m", "1h", "6h")},
    ),
    # 10 % slow reads on a 5 % budget is a 2x burn: the 1x/3d ticket, never a page.
    "ten_percent_slow_reads_ticket_only": Scenario(
        [Phase(7 * H, read_slow=0.10)],
        {t: {READ_BURN: {"ticket"}} for t in ("15m", "2h", "6h30m")},
    ),
    "healthy_traffic_fires_nothing": Scenario([Phase(7 * H)], {t: {} for t in ("15m", "2h", "6h30m")}),
    # Traffic, then silence for six hours: the short windows see no requests at all.
    "no_traffic_after_traffic_fires_nothing": Scenario(
        [Phase(H), Phase(6 * H, **QUIET)], {t: {} for t in ("2h", "6h30m", "7h")}, quiet_at="7h"
    ),
    "no_traffic_ever_fires_nothing": Scenario(
        [Phase(7 * H, **QUIET)], {t: {} for t in ("15m", "7h")}, quiet_at="7h", never_any_traffic=True
    ),
    # Six healthy hours, then 40 % slow reads: the 6h burn rate stays low for hours, the
    # direct quantile alert is pending at the first evaluation and pages 5 minutes later.
    "slow_read_burst_pages_directly": Scenario(
        [Phase(6 * H), Phase(20, read_slow=0.40)],
        {"6h5m": {}, "6h10m": {READ_DIRECT: {"page"}}, "6h20m": {READ_DIRECT: {"page"}}},
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_promtool_unit_scenario(name, tmp_path, seed_slos, metrics, promtool):
    scenario = SCENARIOS[name]
    _write_rules(tmp_path, seed_slos, metrics)
    checks = [
        c for at, firing in scenario.firing_at.items() for c in alert_checks(at, seed_slos, metrics, firing)
    ]
    exprs = _quiet_checks(scenario, seed_slos, metrics) if scenario.quiet_at else []
    test_path = tmp_path / "test.yaml"
    test_path.write_text(
        yaml.safe_dump(
            unit_test_file("slo-burn-rate.yaml", scenario.phases, seed_slos, metrics, checks, exprs)
        )
    )
    result = _run([promtool, "test", "rules", str(test_path)])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "SUCCESS" in result.stdout


def _quiet_checks(scenario: Scenario, slos, metrics) -> list[dict]:
    """Burn rates and short-window SLIs are 0 (promtool fails on NaN); an SLO that never saw
    a request has its whole budget left."""
    at = scenario.quiet_at
    # Sloth's burn-rate recordings keep the window label of the SLI they divide.
    checks = [
        {
            "expr": CURRENT_BURN_RATE,
            "eval_time": at,
            "exp_samples": _samples(CURRENT_BURN_RATE, slos, metrics, 0, "5m"),
        },
        {
            "expr": sli_error_metric("6h"),
            "eval_time": at,
            "exp_samples": _samples(sli_error_metric("6h"), slos, metrics, 0, "6h"),
        },
    ]
    if scenario.never_any_traffic:
        checks.append(
            {
                "expr": PERIOD_BUDGET_REMAINING,
                "eval_time": at,
                "exp_samples": _samples(PERIOD_BUDGET_REMAINING, slos, metrics, 1, "30d"),
            }
        )
    return checks


def _samples(name: str, slos, metrics, value: float, window: str) -> list[dict]:
    samples = []
    for slo in slos:
        labels = {**slo_labels(slo, metrics), "sloth_window": window}
        body = ", ".join(f'{k}="{v}"' for k, v in labels.items())
        samples.append({"labels": f"{name}{{{body}}}", "value": value})
    return samples


def test_bad_slo_inputs_are_config_errors(metrics):
    with pytest.raises(ConfigError, match="threshold_seconds"):
        SLOTarget("read_p95", "Read", "request_latency", 0.95)
    with pytest.raises(ConfigError, match="objective"):
        SLOTarget("errors", "Errors", "request_errors", 99.9)
    with pytest.raises(ConfigError, match="period"):
        SLOTarget("errors", "Errors", "request_errors", 0.999, period="a month")
    with pytest.raises(ConfigError, match="twice"):
        rule_groups([SLOTarget("e", "E", "request_errors", 0.999)] * 2, metrics)
    with pytest.raises(ValueError, match="label matcher"):
        MetricsConfig(selector=("job=coherence",))
