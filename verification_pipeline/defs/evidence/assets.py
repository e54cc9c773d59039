"""The signed evidence bundle, and the release decision that rests on it.

A failed RC gets a complete, signed bundle that says FAILED: evidence of a failure is
evidence too. The signing key is loaded before anything is uploaded; the attestations are
uploaded after every file they cover; the bundle is read back from the store and verified
before the asset reports success.
"""

import datetime as dt
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from verification_pipeline.code_version import code_version
from verification_pipeline.defs.evidence.files import load_bundle_files
from verification_pipeline.defs.evidence.location import bundle_uri_for
from verification_pipeline.defs.evidence.resources import SigningKeyResource
from verification_pipeline.defs.materializations import latest_record
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.run_tags import tag_verdict
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.defs.target import TargetResource
from verification_pipeline.errors import ConfigError, InputError, VerificationFailed
from verification_pipeline.evidence.bundle import EvidenceBundle, LineageStep, assemble_bundle
from verification_pipeline.evidence.bundle_io import root_version_of
from verification_pipeline.evidence.keys import (
    PUBLIC_KEY_FILE,
    SigningKey,
    load_public_key_pem,
    public_key_pem,
)
from verification_pipeline.evidence.layout import (
    ARCHIVE_NAME,
    REPORT,
    bundle_file,
    expected_files,
    is_k6_dashboard,
    producing_assets,
)
from verification_pipeline.evidence.statements import (
    ProvenanceInputs,
    ReleaseCandidate,
    resource_descriptor,
    tool_descriptor,
)
from verification_pipeline.evidence.upload import upload_bundle
from verification_pipeline.evidence.verify import verify_files
from verification_pipeline.gates import GateOutcome, rc_verdict
from verification_pipeline.loadtest.runner import SCRIPTS_DIR
from verification_pipeline.paths import file_sha256, portable_uri, tool_path
from verification_pipeline.policy.conftest import Engine
from verification_pipeline.policy.lines import policy_for_line
from verification_pipeline.policy.release import evaluate_release_policy, load_release_policy, release_input
from verification_pipeline.records import (
    BaselineComparisonRecord,
    BundleRecord,
    GateInputs,
    ReleaseDecisionRecord,
    ReleaseDocs,
    ScanSummaryRecord,
    ServiceBuildRecord,
    SloMetricsRecord,
    SloSpecRecord,
)
from verification_pipeline.report.budget import headline
from verification_pipeline.report.markdown import decision_markdown, verify_command
from verification_pipeline.scans import syft_version
from verification_pipeline.storage.bundles import read_bundle_uri
from verification_pipeline.storage.s3 import ObjectRef
from verification_pipeline.verdict import Verdict

RETENTION_DAYS = 365
CODE_VERSION = code_version(__name__)
# Inputs evidence_bundle reads as values; every other asset a bundle file comes from is a plain dependency.
_VALUE_INPUTS = (
    "release_candidate",
    "service_build",
    "slo_spec",
    "slo_metrics",
    "scan_summary",
    "baseline_comparison",
    "release_docs",
    "authz_under_load",
    "overload_phase",
    "cost_per_request",
)


def _k6_version() -> str:
    out = subprocess.run(
        [str(tool_path("k6")), "version"], check=False, capture_output=True, text=True, timeout=30
    ).stdout
    return out.split()[1] if out.startswith("k6 ") else out.strip()


def _upstream(asset: str, record: dg.EventLogRecord | None) -> dict:
    """Run id, code version, URI and digest of the materialization this bundle was built from."""
    mat = record.asset_materialization if record is not None else None
    if record is None or mat is None:
        return {}
    md = mat.metadata
    return {
        "asset": asset,
        "run_id": record.run_id,
        "code_version": (mat.tags or {}).get("dagster/code_version", ""),
        "data_version": (mat.tags or {}).get("dagster/data_version", ""),
        "uri": str(md["uri"].value) if "uri" in md else "",
        "sha256": str(md["sha256"].value) if "sha256" in md else "",
        "original_uri": str(md["original_uri"].value) if "original_uri" in md else "",
        "original_sha256": str(md["original_sha256"].value) if "original_sha256" in md else "",
    }


def _evidence_files(
    context: dg.AssetExecutionContext, s3: S3Resource, version: str
) -> tuple[dict[str, bytes], dict[str, dict]]:
    """Every bundle file the producing assets recorded (`defs.evidence.files`), and those assets' records."""
    files: dict[str, bytes] = {}
    upstream: dict[str, dict] = {}
    for asset in producing_assets():
        made, record = load_bundle_files(context, s3, asset)
        upstream[asset] = _upstream(asset, record)
        for name, data in made.items():
            entry = bundle_file(name, version)
            if entry is None or entry.asset != asset:
                raise ConfigError(
                    f"{asset} recorded bundle file {name!r}, which the bundle layout does not give to it",
                    field="evidence.layout.BUNDLE_FILES",
                    hint="add the file to the table, naming the asset that makes it",
                )
            files[name] = data
    return files, upstream


@dg.asset(
    partitions_def=release_candidates,
    code_version=CODE_VERSION,
    group_name="release",
    kinds={"s3", "intoto"},
    deps=[asset for asset in producing_assets() if asset not in _VALUE_INPUTS],
    description="The seed's evidence layout plus raw data, lineage, manifest and DSSE-signed in-toto attestations, "
    "uploaded write-once to `s3://<bucket>/<prefix>/<rc>/<run-id>/evidence/<version>/` and read back verified.",
)
def evidence_bundle(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    signing_key: SigningKeyResource,
    target: TargetResource,
    release_candidate: ReleaseCandidate,
    slo_spec: SloSpecRecord,
    slo_metrics: SloMetricsRecord,
    scan_summary: ScanSummaryRecord,
    baseline_comparison: BaselineComparisonRecord,
    release_docs: ReleaseDocs,
    service_build: ServiceBuildRecord,
    authz_under_load: dict,
    overload_phase: dict,
    cost_per_request: dict,
) -> dg.Output[BundleRecord]:
    gates = GateInputs.from_asset_values(locals()).gates()
    key = signing_key.load()  # before anything is uploaded: a missing key fails here, cleanly
    if key.is_dev_key:
        context.log.warning(
            "signing with the embedded stack's DEV key: this bundle says so and is not release evidence"
        )
    files, upstream = _evidence_files(context, s3, release_candidate.version)
    _check_docs_state(release_docs, gates, files, release_candidate.version)
    run_id = context.run.run_id
    uri = bundle_uri_for(s3, release_candidate, run_id)
    lineage = _lineage(files, upstream, release_candidate.version)
    for asset in ("release_candidate", "slo_spec", "scan_summary"):
        upstream[asset] = _upstream(
            asset, latest_record(context.instance, dg.AssetKey(asset), context.partition_key)
        )
    configuration = _configuration(slo_spec)
    provenance = _provenance(
        context, release_candidate, target, service_build, slo_spec, _dependencies(configuration, upstream)
    )
    bundle = assemble_bundle(
        files,
        release_candidate=release_candidate,
        signing_key=key,
        provenance=provenance,
        outcomes=gates,
        configuration=configuration,
        lineage=lineage,
        url=uri,
    )
    archive, retain_until = _upload(context, s3, bundle, uri)
    report = verify_files(
        read_bundle_uri(uri, s3.settings()),
        key.public_key,
        expected_rc=release_candidate.tag,
        source=uri,
        root_version=root_version_of(uri),
    )
    context.log.info(f"bundle verified from the store: {report.files} files, verdict {report.verdict}")
    return _bundle_output(bundle, key, archive, retain_until, uri, run_id)


def _provenance(
    context: dg.AssetExecutionContext,
    release_candidate: ReleaseCandidate,
    target: TargetResource,
    service_build: ServiceBuildRecord,
    slo_spec: SloSpecRecord,
    dependencies: list[dict[str, Any]],
) -> ProvenanceInputs:
    """The run, its non-secret parameters and what it resolved, for the SLSA provenance."""
    return ProvenanceInputs(
        run_id=context.run.run_id,
        started_on=_run_start(context),
        finished_on=dt.datetime.now(dt.UTC),
        external_parameters={
            "commit": release_candidate.commit,
            "targetUrl": target.label(),
            "serviceBuild": service_build.signed(),
            "slosSha256": slo_spec.sha256,
            "runTags": {
                k: v for k, v in context.run.tags.items() if k.startswith("vp/") or k == "dagster/partition"
            },
        },
        resolved_dependencies=dependencies,
    )


def _bundle_output(
    bundle: EvidenceBundle,
    key: SigningKey,
    archive: ObjectRef,
    retain_until: dt.datetime | None,
    uri: str,
    run_id: str,
) -> dg.Output[BundleRecord]:
    value = BundleRecord(
        uri=uri,
        archive_uri=archive.uri,
        archive_sha256=archive.sha256,
        verdict=bundle.verdict,
        missing_files=tuple(bundle.missing_files),
        files=tuple(sorted(bundle.files)),
        key_fingerprint=key.fingerprint,
        dev_key=key.is_dev_key,
        public_key_pem=public_key_pem(key.public_key).decode(),
        run_id=run_id,
        verified=True,
    )
    return dg.Output(
        value,
        data_version=dg.DataVersion(archive.sha256),
        metadata={
            "bundle_uri": dg.MetadataValue.url(uri),
            "archive_uri": dg.MetadataValue.url(archive.uri),
            # the signed report inside the bundle (report/index.html) and k6's own beside it
            "report_uri": dg.MetadataValue.url(uri.rstrip("/") + "/" + REPORT),
            "k6_dashboards": dg.MetadataValue.json(sorted(n for n in bundle.files if is_k6_dashboard(n))),
            "archive_sha256": archive.sha256,
            "verdict": bundle.verdict.value,
            "files": len(bundle.files),
            "missing_files": dg.MetadataValue.json(list(bundle.missing_files)),
            "signing_key": f"{key.fingerprint}{' (DEV KEY)' if key.is_dev_key else ''}",
            "retention_until": retain_until.isoformat()
            if retain_until
            else "none (no Object Lock on bucket)",
        },
    )


class ReleaseDecisionConfig(dg.Config):
    release_policy: str = ""
    """A release policy (Rego v1 file or directory) judged on the verified bundle; `{line}` becomes the RC's
    release line (`v24.1`), so each line can have its own. A denial fails the decision. Empty: the release
    line's `release_policy` in `policy_lines` (none in the package's)."""
    policy_lines: str = ""
    """The per-release-line table (policy/lines.yaml's shape); empty: the package's."""


def _release_policy(config: ReleaseDecisionConfig, line: str) -> tuple[Engine | None, str]:
    """The release policy of `line` and the path it came from: the run's config, else the line's entry."""
    if config.release_policy:
        path = Path(config.release_policy.replace("{line}", line))
    else:
        path_or_none = policy_for_line(
            line, Path(config.policy_lines) if config.policy_lines else None
        ).release_policy
        if path_or_none is None:
            return None, ""
        path = path_or_none
    return load_release_policy([path]), str(path)


def _check_docs_state(
    release_docs: ReleaseDocs, gates: Sequence[GateOutcome], files: Mapping[str, bytes], version: str
) -> None:
    """The documents are signed as they are, so they must state the verdict the bundle signs."""
    missing = [name for name in expected_files(version) if name not in files]
    if release_docs.verdict is not rc_verdict(gates, missing):
        raise InputError(
            f"release_docs states {release_docs.verdict}, but the gates and files it would be signed with "
            f"say {rc_verdict(gates, missing)}",
            source="release_docs",
            hint="materialize release_docs again with evidence_bundle",
        )


def _lineage(files: Mapping[str, bytes], upstream: Mapping[str, dict], version: str) -> list[LineageStep]:
    """How each bundle file was made: the table's inputs, and the run and code of its asset."""
    return [
        LineageStep(
            output=name,
            derived_from=entry.derived_from,
            asset_key=entry.asset,
            run_id=upstream[entry.asset].get("run_id", ""),
            code_version=upstream[entry.asset].get("code_version", ""),
        )
        for name in sorted(files)
        if (entry := bundle_file(name, version)) is not None
    ]


def _configuration(slo_spec: SloSpecRecord) -> list[dict[str, Any]]:
    """slos.yaml and the k6 scripts, with URIs that mean the same anywhere: never a path of the
    machine that ran (paths.portable_uri)."""
    scripts = sorted(SCRIPTS_DIR.glob("*.js"))
    configuration = [
        resource_descriptor("slos.yaml", data=slo_spec.yaml.encode(), uri=portable_uri(str(slo_spec.source)))
    ]
    configuration += [
        resource_descriptor(f"k6/{p.name}", data=p.read_bytes(), uri=portable_uri(str(p))) for p in scripts
    ]
    return configuration


def _dependencies(configuration: list[dict[str, Any]], upstream: Mapping[str, dict]) -> list[dict[str, Any]]:
    """The provenance's resolved dependencies: the configuration, every upstream value and the
    original it was made from, and the tools that measured."""
    dependencies = list(configuration)
    for info in upstream.values():
        if info.get("uri"):
            dependencies.append(
                resource_descriptor(
                    info["asset"],
                    uri=info["uri"],
                    digest={"sha256": info["sha256"]},
                    annotations={"dagsterRunId": info["run_id"], "codeVersion": info["code_version"]},
                )
            )
        if info.get("original_uri"):
            dependencies.append(
                resource_descriptor(
                    f"{info['asset']} (original)",
                    uri=portable_uri(info["original_uri"]),
                    digest={"sha256": info["original_sha256"]},
                )
            )
    dependencies += [
        tool_descriptor("k6", _k6_version(), binary_sha256=file_sha256(tool_path("k6"))),
        tool_descriptor("syft", syft_version(), binary_sha256=file_sha256(tool_path("syft"))),
    ]
    return dependencies


def _run_start(context: dg.AssetExecutionContext) -> dt.datetime:
    run_stats = context.instance.get_run_stats(context.run.run_id)
    if run_stats.start_time:
        return dt.datetime.fromtimestamp(run_stats.start_time, dt.UTC)
    return dt.datetime.now(dt.UTC)


def _upload(
    context: dg.AssetExecutionContext, s3: S3Resource, bundle: EvidenceBundle, uri: str
) -> tuple[ObjectRef, dt.datetime | None]:
    """Upload write-once (retained where the bucket has Object Lock); the archive's ref and the retention."""
    store = s3.store()
    context.log.info(f"uploading {len(bundle.files)} files to {uri} (attestations last)")
    retain_until = (
        dt.datetime.now(dt.UTC) + dt.timedelta(days=RETENTION_DAYS) if store.object_lock_enabled() else None
    )
    retention = {"retain_until": retain_until, "lock_mode": s3.object_lock_mode} if retain_until else {}
    refs = upload_bundle(bundle, store, prefix=store.key(), write_once_options=retention)
    return next(r for r in refs if r.key.endswith(ARCHIVE_NAME)), retain_until


@dg.asset(
    partitions_def=release_candidates,
    code_version=CODE_VERSION,
    group_name="release",
    kinds={"python"},
    description="The verdict the verified bundle signs (PASS only when every gate passed or only warned, and "
    "nothing is missing); its blocking check stops promotion on anything else. Tags the run `verdict: <that verdict>`; shows the "
    "SLOs tightest first and the `verify` command.",
    check_specs=[
        dg.AssetCheckSpec(
            "promotable",
            asset="release_decision",
            blocking=True,
            partitions_def=release_candidates,
            description="The RC may be promoted: decision PASS on a verified bundle.",
        ),
        dg.AssetCheckSpec(
            "release_policy",
            asset="release_decision",
            partitions_def=release_candidates,
            description="The configured release policy (Rego) allows the verified bundle: no denial.",
        ),
    ],
)
def release_decision(
    context: dg.AssetExecutionContext,
    config: ReleaseDecisionConfig,
    s3: S3Resource,
    signing_key: SigningKeyResource,
    release_candidate: ReleaseCandidate,
    slo_metrics: SloMetricsRecord,
    scan_summary: ScanSummaryRecord,
    service_build: ServiceBuildRecord,
    baseline_comparison: BaselineComparisonRecord,
    evidence_bundle: BundleRecord,
    authz_under_load: dict,
    overload_phase: dict,
    cost_per_request: dict,
) -> Iterator[dg.Output[ReleaseDecisionRecord] | dg.AssetCheckResult]:
    gates = GateInputs.from_asset_values(locals()).gates()
    reasons = [f"{g.name}: {g.verdict}" for g in gates if g.verdict is not Verdict.PASS]
    reasons += [f"missing from the bundle: {name}" for name in evidence_bundle.missing_files]
    release_policy, release_policy_path = _release_policy(config, release_candidate.version)
    verdict, denials = _signed_verdict(s3, release_candidate, evidence_bundle, gates, reasons, release_policy)
    value = ReleaseDecisionRecord(
        rc=release_candidate.tag,
        commit=release_candidate.commit,
        verdict=verdict,
        reasons=tuple(reasons),
        bundle_uri=evidence_bundle.uri,
        bundle_sha256=evidence_bundle.archive_sha256,
        dev_key=evidence_bundle.dev_key,
        run_id=context.run.run_id,
    )
    # the run's tag is the decision's verdict: the one the verified bundle signs (FAIL if it does not verify)
    tag_verdict(context.instance, context.run.run_id, verdict)
    why = "; ".join(reasons) or "every gate passed and the bundle verifies"
    dev_public = signing_key.dev_public_key_path() if evidence_bundle.dev_key else None
    public_key = str(dev_public) if dev_public else PUBLIC_KEY_FILE
    yield _decision_output(value, why, public_key, evidence_bundle, slo_metrics)
    yield _release_policy_check(release_policy, release_policy_path, denials)
    yield dg.AssetCheckResult(
        check_name="promotable",
        passed=verdict is Verdict.PASS,
        severity=dg.AssetCheckSeverity.ERROR,
        description=why,
    )


def _decision_output(
    value: ReleaseDecisionRecord,
    why: str,
    public_key: str,
    evidence_bundle: BundleRecord,
    slo_metrics: SloMetricsRecord,
) -> dg.Output[ReleaseDecisionRecord]:
    """The decision with its headline, its bundle and the summary the UI shows (SLOs tightest first,
    the `verify` command)."""
    document = slo_metrics.as_json()
    summary = decision_markdown(
        rc=value.rc,
        verdict=value.verdict,
        why=why,
        metrics=document,
        bundle_uri=evidence_bundle.uri,
        public_key=public_key,
        key_fingerprint=evidence_bundle.key_fingerprint,
        dev_key=evidence_bundle.dev_key,
    )
    return dg.Output(
        value,
        metadata={
            "verdict": value.verdict.value,
            "headline": headline(value.verdict, document),
            "rc": value.rc,
            "commit": value.commit,
            **_bundle_metadata(evidence_bundle, public_key, value.rc),
            "summary": dg.MetadataValue.md(summary),
        },
    )


def _release_policy_check(
    release_policy: Engine | None, release_policy_path: str, denials: list[str] | None
) -> dg.AssetCheckResult:
    """The `release_policy` check: passed when the policy ran and denied nothing; not configured and
    not evaluated (the bundle does not verify) are said as such."""
    return dg.AssetCheckResult(
        check_name="release_policy",
        passed=not denials,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            "no release policy configured (release_decision config `release_policy`, or the release line's "
            "`release_policy` in the policy lines table)"
            if release_policy is None
            else "not evaluated: the bundle does not verify"
            if denials is None
            else "; ".join(denials) or f"{release_policy_path}: no denial"
        ),
        metadata={
            "configured": release_policy is not None,
            "policy": release_policy_path,
            "denials": len(denials or []),
        },
    )


def _signed_verdict(
    s3: S3Resource,
    release_candidate: ReleaseCandidate,
    evidence_bundle: BundleRecord,
    gates: Sequence[GateOutcome],
    reasons: list[str],
    release_policy: Engine | None = None,
) -> tuple[Verdict, list[str] | None]:
    """The verdict the verified bundle signs (FAIL when it does not verify, signs another verdict
    than the gates', or the release policy denies it), and the policy's denials (None when it did not
    run); what is wrong is added to `reasons`."""
    files = read_bundle_uri(evidence_bundle.uri, s3.settings())
    trusted_key = load_public_key_pem(evidence_bundle.public_key_pem.encode(), source="evidence_bundle")
    try:
        report = verify_files(
            files,
            trusted_key,
            expected_rc=release_candidate.tag,
            source=evidence_bundle.uri,
            root_version=root_version_of(evidence_bundle.uri),
        )
    except VerificationFailed as exc:
        reasons.append(f"the bundle does not verify: {exc.message}")
        return Verdict.FAIL, None
    denials = None
    if release_policy is not None:  # judged on what just verified, never on the run's own records
        outcome = evaluate_release_policy(
            release_policy, release_input(files, trusted_key, report), source=evidence_bundle.uri
        )
        denials = outcome.denials
        reasons += [f"release policy: {line}" for line in denials]
    # the decision is what the verified signature covers; it is the gates' verdict, or the bundle is wrong
    verdict = Verdict(report.verdict)
    if verdict is not rc_verdict(gates, evidence_bundle.missing_files):
        reasons.append(
            f"the signed verdict {verdict} is not the gates' {rc_verdict(gates, evidence_bundle.missing_files)}"
        )
        return Verdict.FAIL, denials
    return (Verdict.FAIL if denials else verdict), denials


def _bundle_metadata(evidence_bundle: BundleRecord, public_key: str, rc: str) -> dict[str, Any]:
    """Where the decision's bundle is, which key signed it, and how to verify it."""
    return {
        "dev_key": evidence_bundle.dev_key,
        **(
            {"warning": "DEV KEY: signed with the embedded stack's development key, not release evidence"}
            if evidence_bundle.dev_key
            else {}
        ),
        "bundle_uri": dg.MetadataValue.url(evidence_bundle.uri),
        "bundle_sha256": evidence_bundle.archive_sha256,
        "verify_command": verify_command(evidence_bundle.uri, public_key, rc),
    }
