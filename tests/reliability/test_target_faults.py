"""The service under test is down, slow, or dies mid-run: fail fast naming the URL and the cause;
a slow answer is a timeout counted as a failure, never a hang."""

from __future__ import annotations

import threading
import time

import dagster as dg
import polars as pl
import pytest

from tests.reliability.conftest import (
    LOAD_ASSETS,
    closed_loopback_port,
    load_config,
    our_k6,
    run_assets,
    step_failures,
    waive_build_check,
)
from verification_pipeline.storage.s3 import ObjectStore, S3Settings
from verification_pipeline.storage.serialize import decode

FANOUT = [dg.AssetKey("fanout_latencies")]
SEGMENT_STEP = "load_samples.run_load_segment[segment_0]"
# Far beyond any timeout we set: a request that waits this long would be a hang.
VERY_SLOW_MS = 70000


def fanout_config(events: int = 5, subscribers: int = 2) -> dict:
    return {"ops": {"fanout_latencies": {"config": {"subscribers": subscribers, "events": events}}}}


def _point_at(monkeypatch, target) -> None:
    monkeypatch.setenv("VP_TARGET_GRAPHQL_URL", target.graphql_url)
    monkeypatch.setenv("VP_TARGET_JWT", target.token())


def _stored_samples(result, asset: str) -> pl.DataFrame:
    event = next(
        e
        for e in result.get_asset_materialization_events()
        if e.step_materialization_data.materialization.asset_key.to_user_string() == asset
    )
    uri = str(event.step_materialization_data.materialization.metadata["uri"].value)
    store = ObjectStore(S3Settings.from_env())
    key = uri.removeprefix(f"s3://{store.bucket}/")
    return decode(store.get_bytes(key), "parquet", uri)


# --- down -------------------------------------------------------------------------------------


def test_fanout_against_a_closed_port_fails_fast_naming_the_url_and_cause(
    pipeline_env, instance, monkeypatch
):
    url = f"http://127.0.0.1:{closed_loopback_port()}/graphql"
    monkeypatch.setenv("VP_TARGET_GRAPHQL_URL", url)
    started = time.monotonic()
    result = run_assets(instance, FANOUT, waive_build_check(fanout_config()))
    elapsed = time.monotonic() - started

    assert not result.success
    failure = step_failures(instance, result.run_id)["fanout_latencies"]
    assert failure.cls_name == "TargetError", failure.full_text
    assert url in failure.message and "Connection refused" in failure.message
    assert elapsed < 30, f"took {elapsed:.1f} s to notice a closed port"


def test_a_closed_port_stops_the_run_at_the_build_check_before_any_load(pipeline_env, instance, monkeypatch):
    url = f"http://127.0.0.1:{closed_loopback_port()}/graphql"
    monkeypatch.setenv("VP_TARGET_GRAPHQL_URL", url)
    result = run_assets(instance, [*LOAD_ASSETS, *FANOUT], load_config("60s", read_vus=1, write_vus=1))
    failures = step_failures(instance, result.run_id)
    assert set(failures) == {"service_build"}, failures
    assert (
        failures["service_build"].cls_name == "TargetError"
        and "/version" in failures["service_build"].message
    )


def test_load_against_a_closed_port_fails_fast_naming_the_url_and_cause(
    pipeline_env, instance, k6_killer, monkeypatch
):
    url = f"http://127.0.0.1:{closed_loopback_port()}/graphql"
    monkeypatch.setenv("VP_TARGET_GRAPHQL_URL", url)
    # Bounds this test while the bug is there: k6 gets 6 s of a 60 s run, then is killed.
    watchdog = k6_killer(after_s=6.0)
    started = time.monotonic()
    result = run_assets(instance, LOAD_ASSETS, waive_build_check(load_config("60s", read_vus=1, write_vus=1)))
    elapsed = time.monotonic() - started

    assert not watchdog.killed, f"k6 was still loading a closed port after 6 s; the run took {elapsed:.1f} s"
    assert not result.success, "a load test against a closed port succeeded"
    failure = step_failures(instance, result.run_id)[SEGMENT_STEP]
    assert failure.cls_name == "TargetError", failure.full_text
    assert url in failure.message and "refused" in failure.message.lower()
    assert elapsed < 30


# --- slow -------------------------------------------------------------------------------------


def test_a_slow_target_gives_timeouts_counted_as_failures_not_a_hang(
    pipeline_env, instance, start_target, monkeypatch
):
    slow = start_target(read_latency_ms=VERY_SLOW_MS)
    _point_at(monkeypatch, slow)
    started = time.monotonic()
    result = run_assets(
        instance, LOAD_ASSETS, load_config("3s", read_vus=2, write_vus=1, request_timeout="2s")
    )
    elapsed = time.monotonic() - started

    assert result.success, step_failures(instance, result.run_id)
    assert elapsed < 45, f"a 3 s load test against a slow target took {elapsed:.1f} s"
    reads = _stored_samples(result, "read_load_samples")
    writes = _stored_samples(result, "write_load_samples")
    assert reads.height >= 2
    assert reads["failure"].to_list() == ["timeout"] * reads.height and not reads["ok"].any()
    assert reads["latency_ms"].max() < 2500, "a timed-out request is recorded at about the timeout"
    assert writes.height > 0 and writes["ok"].all(), "only reads were slow"


@pytest.mark.slow
def test_fanout_against_a_slow_target_times_out_with_a_clear_error(
    pipeline_env, instance, start_target, monkeypatch
):
    slow = start_target(write_latency_ms=VERY_SLOW_MS)
    _point_at(monkeypatch, slow)
    started = time.monotonic()
    result = run_assets(instance, FANOUT, fanout_config(events=1))
    elapsed = time.monotonic() - started

    assert not result.success
    failure = step_failures(instance, result.run_id)["fanout_latencies"]
    assert failure.cls_name == "TargetError", failure.full_text
    assert slow.graphql_url in failure.message and "timed out" in failure.message
    # the probe's per-publish timeout is 10 s; with spawning its subscriber processes, well under a minute
    assert elapsed < 60, f"{elapsed:.1f} s"


# --- dies mid-run -----------------------------------------------------------------------------


def test_a_target_dying_mid_run_does_not_flood_the_event_log(
    pipeline_env, instance, start_target, monkeypatch
):
    doomed = start_target()
    _point_at(monkeypatch, doomed)

    def kill_target_once_k6_runs() -> None:
        deadline = time.monotonic() + 60
        while len(our_k6()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        doomed.process.kill()

    killer = threading.Thread(target=kill_target_once_k6_runs, daemon=True)
    killer.start()
    result = run_assets(instance, LOAD_ASSETS, load_config("4s", read_vus=1, write_vus=1))
    killer.join(timeout=60)

    k6_lines = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.user_message.startswith(("k6 read:", "k6 write:"))
    ]
    assert len(k6_lines) <= 50, f"{len(k6_lines)} k6 lines in the event log for a 4 s test"
