"""The object store dies while a bundle is being uploaded.

What must hold: the step fails saying which endpoint went away; what reached the store before
the crash never verifies (the attestations go last, so they were never written); and
re-executing the failed run from its failure, once the store is back, signs and uploads a
bundle that verifies, without measuring again (the load and fan-out steps are not re-run;
the new bundle's raw data is the failed run's).
"""

from __future__ import annotations

import json
import time

import dagster as dg
import pytest

from tests.pipeline.conftest import RC, definitions, short_run_config
from tests.reliability.conftest import (
    JOB,
    PrivateStore,
    pipeline_store,
    run_assets,
    started_steps,
    step_failures,
    succeeded_steps,
)
from verification_pipeline.errors import InputError, StorageError, VerificationFailed
from verification_pipeline.evidence.keys import load_public_key_file
from verification_pipeline.evidence.layout import ARCHIVE_NAME, ATTESTATIONS
from verification_pipeline.evidence.upload import LATEST_POINTER
from verification_pipeline.evidence.verify import verify_files
from verification_pipeline.storage.bundles import read_bundle_uri
from verification_pipeline.storage.s3 import ObjectStore, S3Settings

pytestmark = pytest.mark.slow

EVIDENCE_PUTS_BEFORE_CRASH = 5
# Steps whose work a resumed run must not repeat: measuring and scanning.
MEASURING_STEPS = {
    "load_samples.plan_load_segments",
    "load_samples.run_load_segment[segment_0]",
    "load_samples.merge_read_samples",
    "load_samples.merge_write_samples",
    "fanout_latencies",
    "sbom",
    "vulnerability_report",
    "policy_report",
    "slo_metrics",
}


def wait_until_readable(store: ObjectStore, key: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while True:
        try:
            store.get_bytes(key)
            return
        except StorageError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def verification_job() -> dg.JobDefinition:
    """Module-level, so `dg.reconstructable` can rebuild the job for `execute_job`."""
    return definitions().resolve_job_def(JOB)


def test_store_crash_mid_bundle_leaves_nothing_verifiable_and_reexecution_completes(
    pipeline_env, private_store: PrivateStore, instance, monkeypatch
):
    for key, value in private_store.env.items():
        if key.startswith("VP_S3_") and key != "VP_S3_PREFIX":
            monkeypatch.setenv(key, value)
    public_key = load_public_key_file(pipeline_env.signing_public_key)

    real_put = ObjectStore.put_bytes
    evidence_puts: list[str] = []

    def put_then_crash(self, key, data, **kwargs):
        if "/evidence/" in key:
            if len(evidence_puts) == EVIDENCE_PUTS_BEFORE_CRASH:
                private_store.kill()  # the next bundle file meets a dead store
            evidence_puts.append(key)
        return real_put(self, key, data, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(ObjectStore, "put_bytes", put_then_crash)
        first = run_assets(instance, None, short_run_config(duration="2s", subscribers=2, events=10))

    assert not first.success
    failures = step_failures(instance, first.run_id)
    # release_docs may run after the crash too and meet the dead store; nothing else may fail.
    assert "evidence_bundle" in failures and set(failures) <= {"evidence_bundle", "release_docs"}, failures
    for failure in failures.values():
        assert failure.cls_name == "StorageError", failure.full_text
        assert private_store.endpoint_url in failure.message and "cannot reach" in failure.message
    assert not instance.fetch_materializations(dg.AssetKey("evidence_bundle"), limit=1).records

    private_store.up()  # same home, ports and credentials: the data written before the crash is back
    store = pipeline_store()
    # `up` returns once S3 answers a listing; the volume server may register its volumes a
    # heartbeat later, and reads answer InternalError until then. Wait for that, bounded.
    wait_until_readable(store, evidence_puts[0], within_s=30)
    written = store.list(store.key(RC, first.run_id) + "/")
    assert written == sorted(evidence_puts[:EVIDENCE_PUTS_BEFORE_CRASH]), (
        "the store kept exactly the puts it answered"
    )
    assert not any(k.endswith((ATTESTATIONS, ARCHIVE_NAME)) for k in written)
    assert not store.exists(store.key(RC, LATEST_POINTER)), (
        "latest.json must not point at a half-written bundle"
    )
    half_bundle = store.uri(store.key(RC, first.run_id, "evidence", "v24.1")) + "/"
    with pytest.raises((VerificationFailed, InputError)) as refused:
        verify_files(read_bundle_uri(half_bundle, S3Settings.from_env()), public_key, expected_rc=RC)
    assert ATTESTATIONS in str(refused.value)

    # Resume: re-execute the failed run from its failure, on the same persistent instance.
    parent = instance.get_run_by_id(first.run_id)
    assert parent.tags.get("dagster/partition") == RC
    with dg.execute_job(
        dg.reconstructable(verification_job),
        instance=instance,
        # execute_job copies neither the parent's tags (the partition) nor, here, its executor
        run_config={**parent.run_config, "execution": {"config": {"in_process": {}}}},
        tags=parent.tags,
        reexecution_options=dg.ReexecutionOptions.from_failure(first.run_id, instance),
    ) as second:
        resumed_run_id = second.run_id
    assert instance.get_run_by_id(resumed_run_id).parent_run_id == first.run_id
    started = started_steps(instance, resumed_run_id)
    assert not started & MEASURING_STEPS, f"a resumed run measured again: {sorted(started & MEASURING_STEPS)}"
    assert "evidence_bundle" in succeeded_steps(instance, resumed_run_id), step_failures(
        instance, resumed_run_id
    )

    bundle = instance.fetch_materializations(dg.AssetKey("evidence_bundle"), limit=1).records[0]
    assert bundle.run_id == resumed_run_id
    bundle_uri = str(bundle.asset_materialization.metadata["bundle_uri"].value)
    assert f"/{RC}/{resumed_run_id}/evidence/v24.1/" in bundle_uri
    files = read_bundle_uri(bundle_uri, S3Settings.from_env())
    report = verify_files(files, public_key, expected_rc=RC)
    assert report.run_id == resumed_run_id
    # The raw samples in the new bundle are the ones the failed run measured.
    origins = {o["name"]: o.get("runId") for o in json.loads(files["lineage.json"])["outputs"]}
    assert origins["raw/read.parquet"] == origins["raw/write.parquet"] == first.run_id
    assert origins["raw/fanout.parquet"] == first.run_id
    pointer = json.loads(store.get_bytes(store.key(RC, LATEST_POINTER)))
    assert pointer["runId"] == resumed_run_id
