"""The `verification_pipeline` code location: one Definitions object for Dagster to load."""

from __future__ import annotations

import os

import dagster as dg

from verification_pipeline.defs.release.assets import release_candidate
from verification_pipeline.defs.release.schedules import nightly_reverification
from verification_pipeline.defs.release.sensors import release_candidate_sensor
from verification_pipeline.defs.scans.assets import policy_report, sbom, scan_summary, vulnerability_report
from verification_pipeline.defs.release.resources import GitRepoResource
from verification_pipeline.defs.storage.resources import S3IOManager, s3_resource_from_env

s3 = s3_resource_from_env()

verify_release_candidate = dg.define_asset_job(
    "verify_release_candidate",
    selection=dg.AssetSelection.all(),
    description="Verify one release candidate end to end: every asset of its partition.",
)

defs = dg.Definitions(
    assets=[release_candidate, sbom, vulnerability_report, policy_report, scan_summary],
    jobs=[verify_release_candidate],
    sensors=[release_candidate_sensor],
    schedules=[nightly_reverification],
    resources={
        "s3": s3,
        "io_manager": S3IOManager(s3=s3),
        "git_repo": GitRepoResource(repo=os.environ.get("VP_GIT_REPO", "")),
    },
)
