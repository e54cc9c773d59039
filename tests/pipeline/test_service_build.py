"""Before any load the pipeline shows the service measured is the RC's build, or says it did not."""

import dagster as dg
import pytest

from tests.pipeline.conftest import RC, definitions, short_run_config
from verification_pipeline.defs.load.assets import LOAD_SAMPLE_ASSETS
from verification_pipeline.execution.runner import verify_in_process
from verification_pipeline.storage.bundles import read_bundle_uri
from verification_pipeline.storage.s3 import S3Settings

OTHER_BUILD = "0123456789abcdef0123456789abcdef01234567"
LOAD_ASSETS = (*LOAD_SAMPLE_ASSETS, "fanout_latencies", "overload_phase")


def test_every_load_step_depends_on_the_service_build_and_so_on_the_release_candidate():
    graph = definitions().resolve_asset_graph()
    for asset in LOAD_ASSETS:
        upstream = graph.get(dg.AssetKey(asset)).parent_keys
        assert dg.AssetKey("service_build") in upstream, asset
    assert dg.AssetKey("release_candidate") in graph.get(dg.AssetKey("service_build")).parent_keys


def test_a_target_serving_another_build_stops_the_run_before_any_load(
    pipeline_env, instance, start_target, monkeypatch
):
    other = start_target("--build-commit", OTHER_BUILD)
    monkeypatch.setenv("VP_TARGET_GRAPHQL_URL", other.graphql_url)
    monkeypatch.setenv("VP_TARGET_JWT", other.token())
    run = verify_in_process(definitions(), RC, instance, run_config=short_run_config(), raise_on_error=False)
    assert not run.success
    done = {m.asset for m in run.materialized}
    assert not done & {*LOAD_ASSETS, "evidence_bundle"}, done
    failure = next(
        e
        for e in instance.all_logs(run.run_id)
        if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.STEP_FAILURE
    )
    assert failure.dagster_event.step_key == "service_build"
    assert f"reports build {OTHER_BUILD[:12]}" in failure.dagster_event.event_specific_data.error.to_string()
    assert "read_load_samples" not in {w for w in run.step_windows}


@pytest.mark.slow
def test_a_waived_check_is_signed_and_stated_and_the_verdict_cannot_be_pass(pipeline_env, instance):
    config = short_run_config(duration="2s", subscribers=2, events=10)
    config["ops"]["service_build"] = {
        "config": {"waive": True, "waiver_reason": "the legacy service has no version endpoint"}
    }
    run = verify_in_process(definitions(), RC, instance, run_config=config, raise_on_error=False)
    bundle = run.values.evidence_bundle
    assert bundle.verdict == "INCONCLUSIVE"
    files = read_bundle_uri(bundle.uri, S3Settings.from_env())
    notes = files["release/RELEASE_NOTES_v24.1.md"].decode()
    assert "NOT CHECKED (waived: the legacy service has no version endpoint)" in notes
    assert run.values.release_decision.verdict != "PASS"
