"""The `verification_pipeline` code location: one Definitions object for Dagster to load.

Settings come from the environment where the code location loads (never when a module is
imported): `build_definitions` takes the environment it is given, and Dagster calls `defs`
(a lazy `@dg.definitions`) to load the location. Secrets stay `dg.EnvVar`s, resolved when a
run needs them, so they never become resource config the UI would display.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from verification_pipeline.defs.artifacts.assets import ops_artifacts, release_docs
from verification_pipeline.defs.authz.assets import authz_under_load
from verification_pipeline.defs.authz.resources import AuthzResource
from verification_pipeline.defs.compare.assets import baseline_comparison
from verification_pipeline.defs.cost.assets import cost_per_request
from verification_pipeline.defs.cost.resources import CostResource
from verification_pipeline.defs.evidence.assets import evidence_bundle, release_decision
from verification_pipeline.defs.evidence.resources import SigningKeyResource
from verification_pipeline.defs.executor import step_executor
from verification_pipeline.defs.fanout.assets import fanout_latencies
from verification_pipeline.defs.job import JOB
from verification_pipeline.defs.load.assets import LoadResource, load_samples
from verification_pipeline.defs.overload.assets import overload_phase
from verification_pipeline.defs.overload.resources import OverloadResource
from verification_pipeline.defs.release.assets import release_candidate, service_build
from verification_pipeline.defs.release.resources import GitRepoResource
from verification_pipeline.defs.release.schedules import nightly_reverification
from verification_pipeline.defs.release.sensors import DEFAULT_INTERVAL_S, build_sensors
from verification_pipeline.defs.report.assets import report
from verification_pipeline.defs.run_tags import incomplete_run_sensor
from verification_pipeline.defs.scans.assets import policy_report, sbom, scan_summary, vulnerability_report
from verification_pipeline.defs.scans.resources import ScanInputsResource
from verification_pipeline.defs.slo.assets import build_slo_assets
from verification_pipeline.defs.slo.resources import SloResource
from verification_pipeline.defs.storage.resources import S3IOManager, s3_resource_from_env
from verification_pipeline.defs.target import TargetResource
from verification_pipeline.envvars import env_baseline_deployment, env_text, env_url
from verification_pipeline.errors import ConfigError
from verification_pipeline.slo.document import DEFAULT_MIN_DELIVERY_RATIO


def _number(environ: Mapping[str, str], name: str, default: float, kind: type[int | float]) -> float:
    raw = environ.get(name, "")
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(
            f"{raw!r} is not a{'n integer' if kind is int else ' number'}", field=name
        ) from None


def _seconds(environ: Mapping[str, str], name: str) -> float:
    """A phase length override in seconds, 1 to 3600; unset (0): as slos.yaml declares."""
    value = _number(environ, name, 0.0, float)
    if value and not 1 <= value <= 3600:
        raise ConfigError(f"{value:g} s is not a phase length from 1 to 3600 s", field=name, hint="e.g. 10")
    return value


def _cost_resource(environ: Mapping[str, str]) -> CostResource:
    """VP_TARGET_METRICS_URL, VP_BASELINE_METRICS_URL (`off`: read none) and VP_PROMETHEUS_URL, checked here."""
    metrics, baseline = (
        value
        if (value := environ.get(name, "")) == "off"
        else env_url(environ, name, example="http://127.0.0.1:4000/metrics") or ""
        for name in ("VP_TARGET_METRICS_URL", "VP_BASELINE_METRICS_URL")
    )
    prometheus = env_url(environ, "VP_PROMETHEUS_URL", example="http://127.0.0.1:9090") or ""
    return CostResource(metrics_url=metrics, prometheus_url=prometheus, baseline_metrics_url=baseline)


def build_definitions(environ: Mapping[str, str]) -> dg.Definitions:
    """The code location for the settings in `environ` (VP_* variables; unset ones take their defaults)."""
    slos = SloResource(
        slos_file=environ.get("VP_SLOS_FILE", ""),
        min_delivery_ratio=_number(environ, "VP_MIN_DELIVERY_RATIO", DEFAULT_MIN_DELIVERY_RATIO, float),
    )
    s3 = s3_resource_from_env()
    baseline_url, baseline_rc = env_baseline_deployment(environ)
    return dg.Definitions(
        assets=[
            release_candidate,
            service_build,
            *build_slo_assets(slos),
            load_samples,
            fanout_latencies,
            authz_under_load,
            overload_phase,
            cost_per_request,
            baseline_comparison,
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
        jobs=[
            dg.define_asset_job(
                JOB,
                selection=dg.AssetSelection.all(),
                description="Verify one release candidate end to end: every asset of its partition.",
            )
        ],
        sensors=[
            *build_sensors(int(_number(environ, "VP_SENSOR_INTERVAL_S", DEFAULT_INTERVAL_S, int))),
            incomplete_run_sensor,
        ],
        executor=step_executor,
        schedules=[nightly_reverification],
        resources={
            "s3": s3,
            "io_manager": S3IOManager(s3=s3),
            "slos": slos,
            "authz": AuthzResource(
                rate=_number(environ, "VP_AUTHZ_RATE", AuthzResource().rate, float),
                concurrency=int(_number(environ, "VP_AUTHZ_CONCURRENCY", AuthzResource().concurrency, int)),
                residency=env_text(
                    environ,
                    "VP_TARGET_RESIDENCY",
                    "",
                    pattern=r"([A-Za-z0-9-]{1,64}=[A-Za-z0-9._-]{1,64})?",
                    example="X-Data-Region=us-east-1",
                ),
            ),
            "overload": OverloadResource(
                enabled=env_text(environ, "VP_OVERLOAD", "on", pattern="on|off", example="off") == "on",
                duration_s=_seconds(environ, "VP_OVERLOAD_DURATION_S"),
                recovery_s=_seconds(environ, "VP_OVERLOAD_RECOVERY_S"),
            ),
            "cost": _cost_resource(environ),
            "load": LoadResource(duration=environ.get("VP_LOAD_DURATION") or LoadResource().duration),
            "scan_inputs": ScanInputsResource(
                sbom_scan_dir=environ.get("VP_SBOM_SCAN_DIR", ""),
                sbom_report=environ.get("VP_SBOM_REPORT", ""),
                vulnerability_report=environ.get("VP_VULN_REPORT", ""),
                policy_report=environ.get("VP_POLICY_REPORT", ""),
                policy_dir=environ.get("VP_POLICY_DIR", ""),
                policy_files=environ.get("VP_POLICY_FILES", ""),
                policy_lines=environ.get("VP_POLICY_LINES", ""),
                vulnerability_policy=environ.get("VP_VULN_POLICY", ""),
            ),
            "signing_key": SigningKeyResource(
                key_file=environ.get("VP_EVIDENCE_SIGNING_KEY_FILE", ""),
                dev_key_dir=environ.get("VP_EVIDENCE_DEV_KEY_DIR", ""),
            ),
            "git_repo": GitRepoResource(
                repo=environ.get("VP_GIT_REPO", ""),
                tag_pattern=environ.get("VP_RC_TAG_PATTERN") or GitRepoResource().tag_pattern,
            ),
            "target": TargetResource(
                graphql_url=dg.EnvVar("VP_TARGET_GRAPHQL_URL"),
                jwt_secret_file=environ.get("VP_TARGET_JWT_SECRET_FILE", ""),
                tenant=environ.get("VP_TARGET_TENANT") or TargetResource.model_fields["tenant"].default,
                version_url=environ.get("VP_TARGET_VERSION_URL", ""),
                version_field=environ.get("VP_TARGET_VERSION_FIELD") or "commit",
                version_header=environ.get("VP_TARGET_VERSION_HEADER", ""),
                # the concurrent baseline (issue 24): a second deployment measured in the same run
                baseline_graphql_url=baseline_url,
                baseline_rc=baseline_rc,
            ),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    """What Dagster loads (`workspace.yaml`): the definitions for this process's environment."""
    return build_definitions(os.environ)
