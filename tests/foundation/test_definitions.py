"""The code location loads, validates, and has the assets the design card names."""

import subprocess
import sys
from pathlib import Path

import pytest

from verification_pipeline.definitions import build_definitions, defs
from verification_pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
ONE_SLO = """
version: 1
confidence: 0.95
slos:
  - {name: only_read_p95, metric: quantile, source: read, quantile: 0.95, threshold: 350, unit: ms, min_samples: 10}
"""


def test_definitions_validate_with_the_dagster_cli(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stderr + proc.stdout


def test_every_asset_has_a_code_version_and_the_rc_partitions():
    loaded = defs()
    graph = loaded.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert "release_candidate" in keys
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.code_version, f"{key.to_user_string()} has no code_version"
        assert node.partitions_def is not None and node.partitions_def.name == "release_candidates"
    assert loaded.resolve_job_def("verify_release_candidate") is not None


def test_settings_are_read_from_the_environment_given_at_load_not_at_import(tmp_path):
    slos = tmp_path / "slos.yaml"
    slos.write_text(ONE_SLO)
    loaded = build_definitions(
        {"VP_SLOS_FILE": str(slos), "VP_MIN_DELIVERY_RATIO": "0.99", "VP_GIT_REPO": "/r"}
    )
    checks = {
        key.name
        for key in loaded.resolve_asset_graph().asset_check_keys
        if key.asset_key.path == ["slo_metrics"]
    }
    assert checks == {"only_read_p95", "fanout_delivery_ratio"}
    assert loaded.resources["slos"].min_delivery_ratio == 0.99
    assert loaded.resources["git_repo"].repo == "/r"
    default = build_definitions({})
    assert default.resources["slos"].min_delivery_ratio == 1.0 and default.resources["git_repo"].repo == ""


def test_a_malformed_number_setting_is_refused_naming_the_variable():
    with pytest.raises(ConfigError, match="VP_MIN_DELIVERY_RATIO"):
        build_definitions({"VP_MIN_DELIVERY_RATIO": "most"})


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"VP_BASELINE_GRAPHQL_URL": "localhost:4000/graphql"}, "VP_BASELINE_GRAPHQL_URL"),
        ({"VP_BASELINE_GRAPHQL_URL": "http://127.0.0.1:4001/graphql"}, "VP_BASELINE_JWT"),
        ({"VP_BASELINE_RC": "rc 1; rm"}, "VP_BASELINE_RC"),
    ],
    ids=["url-without-scheme", "url-without-a-token", "rc-label-not-a-tag"],
)
def test_a_bad_concurrent_baseline_setting_is_refused_naming_the_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        build_definitions(env)


def test_a_concurrent_baseline_is_the_target_resources_second_deployment():
    loaded = build_definitions(
        {
            "VP_BASELINE_GRAPHQL_URL": "http://127.0.0.1:4001/graphql",
            "VP_BASELINE_JWT": "a-token",
            "VP_BASELINE_RC": "v24.1.0-rc1",
        }
    )
    target = loaded.resources["target"]
    assert (target.baseline_graphql_url, target.baseline_rc) == (
        "http://127.0.0.1:4001/graphql",
        "v24.1.0-rc1",
    )
    assert build_definitions({}).resources["target"].baseline_graphql_url == ""


def test_no_module_of_the_pipeline_reads_the_environment_at_import_time():
    """Importing the code location (a fresh interpreter, empty environment) must not read VP_* settings."""
    probe = (
        "import os\n"
        "reads = []\n"
        "class Spy(dict):\n"
        "    def get(self, k, d=None):\n"
        "        reads.append(k); return super().get(k, d)\n"
        "    def __getitem__(self, k):\n"
        "        reads.append(k); return super().__getitem__(k)\n"
        "os.environ = Spy(os.environ)\n"
        "import verification_pipeline.definitions\n"
        "print(sorted({k for k in reads if k.startswith('VP_')}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], check=True, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.stdout.strip() == "[]", proc.stdout
