"""The `verification_pipeline` code location: one Definitions object for Dagster to load."""

from __future__ import annotations

import os

import dagster as dg

from verification_pipeline.defs.evidence.assets import evidence_bundle, release_decision
from verification_pipeline.defs.evidence.resources import SigningKeyResource
from verification_pipeline.defs.fanout.assets import fanout_latencies
from verification_pipeline.defs.load.assets import load_samples
from verification_pipeline.defs.ops.assets import ops_artifacts, release_docs
from verification_pipeline.defs.release.assets import release_candidate
from verification_pipeline.defs.release.resources import GitRepoResource
from verification_pipeline.defs.release.schedules import nightly_reverification
from verification_pipeline.defs.release.sensors import incoming_artifacts_sensor, release_candidate_sensor
from verification_pipeline.defs.report.assets import report
from verification_pipeline.defs.run_tags import incomplete_run_sensor
from verification_pipeline.defs.scans.assets import policy_report, sbom, scan_summary, vulnerability_report
from verification_pipeline.defs.slo.assets import slo_metrics, slo_spec
from verification_pipeline.defs.storage.resources import S3IOManager, s3_resource_from_env
from verification_pipeline.defs.target import TargetResource

s3 = s3_resource_from_env()

verify_release_candidate = dg.define_asset_job(
    "verify_release_candidate",
    selection=dg.AssetSelection.all(),
    description="Verify one release candidate end to end: every asset of its partition.",
)

defs = dg.Definitions(
    assets=[
        release_candidate,
        slo_spec,
        load_samples,
        fanout_latencies,
        slo_metrics,
        sbom,
        vulnerability_report,
        policy_report,
        scan_summary,
        ops_artifacts,
        release_docs,
        report,
        evidence_bundle,
        release_decision,
    ],
    jobs=[verify_release_candidate],
    sensors=[release_candidate_sensor, incoming_artifacts_sensor, incomplete_run_sensor],
    schedules=[nightly_reverification],
    resources={
        "s3": s3,
        "io_manager": S3IOManager(s3=s3),
        "signing_key": SigningKeyResource(),
        "git_repo": GitRepoResource(repo=os.environ.get("VP_GIT_REPO", "")),
        "target": TargetResource(
            graphql_url=dg.EnvVar("VP_TARGET_GRAPHQL_URL"),
            jwt_secret_file=os.environ.get("VP_TARGET_JWT_SECRET_FILE", ""),
            tenant=os.environ.get("VP_TARGET_TENANT", "tenant-123"),
        ),
    },
)
