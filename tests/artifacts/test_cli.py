"""`ops render`: both artifacts from slos.yaml, for teams that only want the files."""

from __future__ import annotations

import json
import subprocess

from typer.testing import CliRunner

from verification_pipeline.cli.ops import app
from verification_pipeline.errors import ConfigError, InputError

TWO_SLOS = """\
version: 1
slos:
  - name: checkout_p99
    metric: quantile
    source: write
    quantile: 0.99
    threshold: 500
    unit: ms
    min_samples: 100
  - name: checkout_errors
    metric: rate
    source: write
    threshold: 0.5
    unit: percent
    min_samples: 1000
"""


def test_render_writes_both_files_from_the_default_slos(tmp_path, promtool):
    result = CliRunner().invoke(app, ["render", "--out", str(tmp_path / "ops")])
    assert result.exit_code == 0, result.output
    rules, dashboard = tmp_path / "ops" / "slo-burn-rate.yaml", tmp_path / "ops" / "grafana-v24-slos.json"
    assert f"wrote {rules}" in result.output and f"wrote {dashboard}" in result.output
    check = subprocess.run(
        [promtool, "check", "rules", "--lint=all", "--lint-fatal", str(rules)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    titles = [p["title"] for p in json.loads(dashboard.read_text())["panels"] if p["type"] == "row"]
    assert [t.split(":")[0] for t in titles] == [
        "Read p95",
        "Write p95",
        "Error rate",
        "Sub fan-out p95",
        "Ingest p95",
    ]


def test_render_takes_a_spec_and_metric_names(tmp_path):
    (tmp_path / "slos.yaml").write_text(TWO_SLOS)
    (tmp_path / "metrics.yaml").write_text(
        "service: shop\nselector: ['job=\"shop\"']\nrequest_duration: http_server_duration_seconds\n"
    )
    result = CliRunner().invoke(
        app,
        [
            "render",
            "--slos",
            str(tmp_path / "slos.yaml"),
            "--metrics",
            str(tmp_path / "metrics.yaml"),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    rules = (tmp_path / "slo-burn-rate.yaml").read_text()
    assert 'http_server_duration_seconds_bucket{job="shop",operation="write",le="0.5"}' in rules
    assert "vector(0.995)" in rules  # error rate <= 0.5 % is a 99.5 % objective
    assert "sloth_id: shop-checkout_p99" in rules
    # p99 leaves a 1 % budget: the 14.4x page needs 14.4 % slow requests, the direct alert watches p94.
    assert "histogram_quantile(0.94," in rules
    assert "ShopCheckoutP99QuantileAboveThreshold" in rules


def test_bad_inputs_name_the_file_and_field(tmp_path):
    (tmp_path / "slos.yaml").write_text(TWO_SLOS.replace("threshold: 500", "threshold: -1"))
    result = CliRunner().invoke(
        app, ["render", "--slos", str(tmp_path / "slos.yaml"), "--out", str(tmp_path)]
    )
    assert isinstance(result.exception, ConfigError)
    assert "slos.yaml" in str(result.exception) and "slos[0].threshold" in str(result.exception)

    (tmp_path / "metrics.yaml").write_text("request_durations: typo_seconds\n")
    result = CliRunner().invoke(
        app, ["render", "--metrics", str(tmp_path / "metrics.yaml"), "--out", str(tmp_path)]
    )
    assert isinstance(result.exception, ConfigError)
    assert "metrics.yaml" in str(result.exception) and "request_durations" in str(result.exception)

    result = CliRunner().invoke(
        app, ["render", "--slos", str(tmp_path / "missing.yaml"), "--out", str(tmp_path)]
    )
    assert isinstance(result.exception, InputError) and "missing.yaml" in str(result.exception)
    assert not (tmp_path / "slo-burn-rate.yaml").exists()
