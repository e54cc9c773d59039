"""The Grafana dashboard: valid against Grafana's schema, laid out on the grid, and every query
reads a series that the rules record or the reference target exports."""

from __future__ import annotations

import copy
import itertools
import json

import jsonschema
import pytest

from tests.artifacts.promql_names import exposition_names, metric_names
from tests.fixtures import GRAFANA_DASHBOARD_SCHEMA
from verification_pipeline.artifacts.dashboard import DATASOURCE_VARIABLE, GRID_COLUMNS, render_dashboard
from verification_pipeline.artifacts.model import bucket_label
from verification_pipeline.artifacts.rules import recorded_series, rule_groups

SCHEMA_PATH = GRAFANA_DASHBOARD_SCHEMA


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _queries(dashboard: dict) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_dashboard_validates_against_grafana_schema(validator, seed_slos, metrics):
    dashboard = render_dashboard(seed_slos, metrics)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(dashboard)]
    assert errors == []
    # The schema is strict, so it would catch a panel field Grafana does not know.
    broken = copy.deepcopy(dashboard)
    broken["panels"][1]["gridpos"] = broken["panels"][1].pop("gridPos")
    assert list(validator.iter_errors(broken))


def test_panels_fill_the_grid_without_overlap(seed_slos, metrics):
    panels = render_dashboard(seed_slos, metrics)["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells = []
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= GRID_COLUMNS, panel["title"]
        cells.append((pos["x"], pos["y"], pos["x"] + pos["w"], pos["y"] + pos["h"], panel["title"]))
    for a, b in itertools.combinations(cells, 2):
        overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
        assert not overlap, f"{a[4]} overlaps {b[4]}"
    # Each SLO gets a row and four panels: SLI, budget, burn rate, latency or error ratio.
    rows = [p for p in panels if p["type"] == "row"]
    assert [r["title"].split(":")[0] for r in rows] == [slo.title for slo in seed_slos]
    assert sum(p["type"] == "stat" for p in panels) == 2 * len(seed_slos)
    assert sum(p["title"] == "Latency quantiles" for p in panels) == 4
    assert sum(p["title"] == "Error ratio" for p in panels) == 1


def test_every_query_uses_the_datasource_variable(seed_slos, metrics):
    dashboard = render_dashboard(seed_slos, metrics)
    variables = dashboard["templating"]["list"]
    assert [(v["type"], v["name"], v["query"]) for v in variables] == [
        ("datasource", DATASOURCE_VARIABLE, "prometheus")
    ]
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == f"${{{DATASOURCE_VARIABLE}}}"
        assert all(t["datasource"]["uid"] == f"${{{DATASOURCE_VARIABLE}}}" for t in panel["targets"])


def test_latency_panels_show_the_threshold_and_the_alert_quantile(seed_slos, metrics):
    panels = render_dashboard(seed_slos, metrics)["panels"]
    read = next(p for p in panels if p["title"] == "Latency quantiles")
    steps = read["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1] == {"value": 0.35, "color": "red"}
    assert read["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "line"}
    assert [t["legendFormat"] for t in read["targets"]] == ["p50", "p70", "p95", "p99"]
    assert 'coherence_request_duration_seconds_bucket{operation="read"}' in read["targets"][2]["expr"]


def test_metric_name_parser():
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(a_bucket{operation="read",le="0.35"}[$__rate_interval])))'
        ' / on(sloth_id) group_left b:ratio{x="y"} or vector(0) * 1e-3'
    )
    assert metric_names(expr) == {"a_bucket", "b:ratio"}


def test_every_query_names_a_series_the_rules_or_the_target_produce(target, seed_slos, metrics):
    exported = exposition_names(target.metrics_text())
    recorded = recorded_series(seed_slos)
    queries = _queries(render_dashboard(seed_slos, metrics))
    assert all(metric_names(expr) for expr in queries)
    rule_exprs = [rule["expr"] for group in rule_groups(seed_slos, metrics) for rule in group["rules"]]
    for expr in queries + rule_exprs:
        # Raw names must be the target's: the generators' defaults are its /metrics names.
        unknown = metric_names(expr) - recorded - exported
        assert not unknown, f"{unknown} in {expr}"


def test_latency_thresholds_are_bucket_bounds_of_the_target(target, seed_slos, metrics):
    text = target.metrics_text()
    for slo in seed_slos:
        if slo.is_latency:
            family = metrics.histogram(slo)
            assert f'le="{bucket_label(slo.threshold_seconds)}"' in "".join(
                line for line in text.splitlines() if line.startswith(f"{family}_bucket")
            ), f"{family} has no bucket at {slo.threshold_seconds}s"
