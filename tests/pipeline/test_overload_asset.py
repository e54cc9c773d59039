"""`overload_phase` in the job: against the shared reference target (its default per-tenant limit),
with the tokens a service we do not run would be given, its five checks pass and its bundle files
are recorded; without those tokens it is NOT MEASURED (a WARN), never a pass."""

from __future__ import annotations

import io

import dagster as dg
import polars as pl
import pytest

from tests.pipeline.conftest import RC, TEST_SLOS
from tests.reliability.conftest import BUILD_CHECK, pipeline_store, run_assets
from verification_pipeline.defs.cost.during import SAMPLES_FOLDER
from verification_pipeline.defs.evidence.files import BUNDLE_FILES_KEY
from verification_pipeline.evidence.layout import OVERLOAD_DOCUMENT, OVERLOAD_ROWS
from verification_pipeline.slo.overload import GATES

pytestmark = pytest.mark.slow
SELECTION = [*BUILD_CHECK, dg.AssetKey("slo_spec"), dg.AssetKey("overload_phase")]
COST_CONTROLS = """
cost_controls:
  tenant_rps_limit: 100
  neighbour_rps: 50
  recovery_rps: 50
"""


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_the_overload_phase_runs_in_the_job_and_reports_each_gate_as_a_check(
    pipeline_env, instance, target, monkeypatch
):
    pipeline_env.slos_file.write_text(TEST_SLOS + COST_CONTROLS)
    monkeypatch.setenv(
        "VP_TARGET_JWT_OVERLOAD", target.token("pipeline-overload-a", scopes=("coherence:read",))
    )
    monkeypatch.setenv(
        "VP_TARGET_JWT_NEIGHBOUR", target.token("pipeline-overload-b", scopes=("coherence:read",))
    )
    monkeypatch.setenv("VP_OVERLOAD_DURATION_S", "3")
    monkeypatch.setenv("VP_OVERLOAD_RECOVERY_S", "4")
    result = run_assets(instance, SELECTION)
    assert result.success
    checks = _checks(result)
    assert sorted(checks) == sorted(gate.split(":", 1)[1] for gate in GATES)
    assert all(check.passed for check in checks.values()), {n: c.description for n, c in checks.items()}
    document = result.asset_value("overload_phase")
    assert document["measured"] and document["inputs"]["tenants"]["a"] == "pipeline-overload-a"
    assert "ran 3 s and recovery 4 s, not the declared 30 s and 8 s" in document["inputs"]["shortened"]
    record = instance.get_latest_materialization_event(dg.AssetKey("overload_phase"))
    metadata = record.asset_materialization.metadata
    assert {OVERLOAD_DOCUMENT, OVERLOAD_ROWS} <= set(metadata[BUNDLE_FILES_KEY].value)
    # the service's own resource figures were read around the phase, for cost_per_request
    store = pipeline_store()
    prefix = store.key(RC, SAMPLES_FOLDER, result.run_id) + "/"
    rows = pl.read_parquet(io.BytesIO(store.get_bytes(f"{prefix}overload.parquet")))
    assert set(rows["phase"].to_list()) == {"overload"}
    read = rows.filter(pl.col("quantity") == "requests")["value"]
    assert "scrape" in set(rows["source"].to_list()) and read.max() > read.min(), rows


def test_without_the_tenants_tokens_the_phase_is_not_measured_and_never_passes(
    pipeline_env, instance, monkeypatch
):
    pipeline_env.slos_file.write_text(TEST_SLOS + COST_CONTROLS)
    monkeypatch.delenv("VP_TARGET_JWT_OVERLOAD", raising=False)
    monkeypatch.delenv("VP_TARGET_JWT_NEIGHBOUR", raising=False)
    result = run_assets(instance, SELECTION)
    assert result.success
    checks = _checks(result)
    assert checks and not any(check.passed for check in checks.values())
    assert all(check.severity is dg.AssetCheckSeverity.WARN for check in checks.values())
    reason = checks["shed_at_limit"].description
    assert (
        "NOT MEASURED" in reason and "VP_TARGET_JWT_OVERLOAD and VP_TARGET_JWT_NEIGHBOUR not given" in reason
    )
