"""The concurrent baseline end to end (issue 24), on two real reference targets and SeaweedFS.

This RC's target has its reads slowed 40 ms; a second target, started with the baseline RC's
settings (none), is given as VP_BASELINE_GRAPHQL_URL. One k6 per op drives both, each iteration
to one side at random, the fan-out probe alternates between them, and slo/baseline.json is the
paired comparison, signed in the bundle with the baseline's raw rows.
"""

import json

import polars as pl
import pytest

from tests.pipeline.conftest import definitions, short_run_config
from verification_pipeline.audit.recompute import audit_path
from verification_pipeline.cli import main
from verification_pipeline.compare.document import CONCURRENT, PAIRED_METHOD, ROUNDS_METHOD
from verification_pipeline.evidence.keys import load_public_key_file
from verification_pipeline.evidence.layout import (
    CONCURRENT_BASELINE_FANOUT_STEM,
    CONCURRENT_BASELINE_STEM,
    COST_DOCUMENT,
    SLO_BASELINE,
    raw_name,
)
from verification_pipeline.evidence.raw import raw_frames
from verification_pipeline.evidence.verify import verify_files
from verification_pipeline.execution.runner import verify_in_process
from verification_pipeline.storage.bundles import read_bundle_uri
from verification_pipeline.storage.s3 import S3Settings

pytestmark = pytest.mark.slow

RC1, RC2 = "v24.1.0-rc1", "v24.1.0-rc2"


def test_rc2_is_measured_beside_rc1s_settings_and_compared_paired(
    pipeline_env, instance, target, start_target, monkeypatch, tmp_path, capsys
):
    baseline = start_target()  # the baseline RC's settings: no faults
    monkeypatch.setenv("VP_BASELINE_GRAPHQL_URL", baseline.graphql_url)
    monkeypatch.setenv("VP_BASELINE_JWT", baseline.token())  # its own secret: a token of its own
    monkeypatch.setenv("VP_BASELINE_RC", RC1)
    with target.faults(read_latency_ms="40"):
        run = verify_in_process(
            definitions(), RC2, instance, run_config=short_run_config("6s"), raise_on_error=False
        )
    assert run.values.evidence_bundle is not None, run
    assert run.values.baseline_comparison is not None
    comparison = run.values.baseline_comparison.as_json()
    assert comparison["design"] == CONCURRENT and comparison["status"] == "COMPARED"
    assert (
        comparison["baseline"]["rc"] == RC1 and comparison["baseline"]["graphql_url"] == baseline.graphql_url
    )
    rows = {row["slo"]: row for row in comparison["slos"]}
    read = rows["read_latency_p95"]
    assert read["method"] == PAIRED_METHOD and read["classification"] == "slower", read["reason"]
    assert read["shift_ms"]["lower"] > 10
    # the fan-out probe alternated in ABBA rounds: compared round by round (six pairs)
    assert rows["fanout_latency_p95"]["classification"] is not None
    assert rows["fanout_latency_p95"]["method"] == ROUNDS_METHOD, rows["fanout_latency_p95"]["reason"]
    assert rows["fanout_latency_p95"]["rounds"] == 6

    files = read_bundle_uri(run.values.evidence_bundle.uri, S3Settings.from_env())
    verify_files(files, load_public_key_file(pipeline_env.signing_public_key), expected_rc=RC2)
    assert json.loads(files[SLO_BASELINE])["design"] == CONCURRENT
    frames = raw_frames(files)
    rows_b = frames[CONCURRENT_BASELINE_STEM]
    assert set(rows_b["op"].unique()) == {"read", "write"}  # the suffix is gone, the op is plain
    # the sides were interleaved in time: both took requests in the same seconds
    current = frames["read"]
    assert rows_b["timestamp"].min() < current["timestamp"].max()
    assert current["timestamp"].min() < rows_b["timestamp"].max()
    # each side got about half the iterations (random per iteration, same VUs)
    share = rows_b.filter(pl.col("op") == "write").height / (
        rows_b.filter(pl.col("op") == "write").height + frames["write"].height
    )
    assert 0.3 < share < 0.7
    assert raw_name(CONCURRENT_BASELINE_FANOUT_STEM) in files
    assert frames[CONCURRENT_BASELINE_FANOUT_STEM].height > 0
    # cost per request: the baseline deployment's own /metrics was read around the same load, its
    # rows tagged in raw/cost.parquet, and CPU per request compared with that figure of this run
    cost = json.loads(files[COST_DOCUMENT])
    assert cost["baseline"]["design"] == "concurrent" and cost["baseline"]["rc"] == RC1, cost["reason"]
    theirs = cost["baseline_phases"]["slo_load"]["sources"]["scrape"]
    ours = cost["phases"]["slo_load"]["sources"]["scrape"]
    assert theirs["requests"] > 0 and ours["requests"] > 0
    assert cost["comparisons"][0]["baseline_cpu_seconds_per_1000_requests"] == pytest.approx(
        theirs["cpu_seconds_per_1000_requests"]
    )
    assert "scrape@baseline" in set(frames["cost"]["source"].to_list())

    # audit recomputes the concurrent comparison from this bundle alone (both sides' rows are in it)
    bundle = tmp_path / "bundle"
    for name, data in files.items():
        (bundle / name).parent.mkdir(parents=True, exist_ok=True)
        (bundle / name).write_bytes(data)
    report = audit_path(bundle)  # cost/resources.json too, both sides from raw/cost.parquet
    assert report.baseline_differences == () and report.matches
    capsys.readouterr()
    assert main(["audit", str(bundle)]) == 0
    printed = capsys.readouterr().out
    # it names where the baseline's rows are (this bundle), not a baseline bundle it was never given
    assert "(None)" not in printed and "baseline was measured beside it, concurrent design" in printed
