"""k6 killed in the middle of a load test: the load assets fail saying so, and nothing is stored.

A killed k6 leaves a JSON file cut anywhere; rows from it must never become samples, in the
store or in the instance. The raw k6 output lives in a temporary directory that must go too.
"""

from __future__ import annotations

import tempfile
import time

import pytest

from tests.reliability.conftest import (
    LOAD_ASSETS,
    load_config,
    materializations,
    pipeline_store,
    run_assets,
    step_failures,
)

SEGMENT_STEP = "load_samples.run_load_segment[segment_0]"


def _assert_no_samples_kept(instance, scratch) -> None:
    for asset in ("read_load_samples", "write_load_samples"):
        assert not materializations(instance, asset), f"{asset} was materialized from a killed k6"
    store = pipeline_store()
    kept = [
        key
        for key in store.list(store.key() + "/")
        if "load_samples.parquet" in key or "run_load_segment" in key or "merge_" in key
    ]
    assert kept == [], f"samples stored after k6 was killed: {kept}"
    assert list(scratch.iterdir()) == [], "k6's raw output was left behind in the temp directory"


def test_k6_killed_mid_run_fails_the_load_assets_clearly_and_stores_no_samples(
    pipeline_env, instance, k6_killer, tmp_path, monkeypatch
):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    killer = k6_killer(after_s=2.0)
    started = time.monotonic()
    result = run_assets(instance, LOAD_ASSETS, load_config("30s"))
    elapsed = time.monotonic() - started

    assert len(killer.killed) == 2, "both k6 processes (read.js, write.js) should have been running"
    assert not result.success
    assert elapsed < 25, f"the step outlived its k6 processes: {elapsed:.1f} s"
    failure = step_failures(instance, result.run_id)[SEGMENT_STEP]
    assert failure.cls_name == "ToolError", failure.full_text
    assert "k6 was killed by signal 9 running" in failure.message
    assert "read.js" in failure.message or "write.js" in failure.message
    _assert_no_samples_kept(instance, scratch)


@pytest.mark.slow
def test_one_k6_dying_stops_its_sibling_at_once(pipeline_env, instance, k6_killer, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    killer = k6_killer(after_s=2.0, scripts=("read.js",), expect=1)
    result = run_assets(instance, LOAD_ASSETS, load_config("20s"))
    ended = time.monotonic()

    assert killer.killed and killer.killed_at is not None
    assert not result.success
    failure = step_failures(instance, result.run_id)[SEGMENT_STEP]
    assert failure.cls_name == "ToolError" and "read.js" in failure.message
    _assert_no_samples_kept(instance, scratch)
    assert ended - killer.killed_at < 8, (
        f"the step failed {ended - killer.killed_at:.1f} s after read.js's k6 died: write.js ran on"
    )
