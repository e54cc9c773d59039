"""The signed evidence bundle, and the release decision that rests on it.

A failed RC gets a complete, signed bundle that says FAILED: evidence of a failure is
evidence too. The signing key is loaded before anything is uploaded; the attestations are
uploaded after every file they cover; the bundle is read back from the store and verified
before the asset reports success.
"""

import datetime as dt
import json
import subprocess

import dagster as dg
import polars as pl

from verification_pipeline.defs.evidence.location import bundle_uri_for
from verification_pipeline.defs.evidence.resources import SigningKeyResource
from verification_pipeline.defs.ops.assets import docs_files, overall_verdict
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.records import latest_record
from verification_pipeline.defs.run_tags import tag_verdict
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.defs.storage.sources import load_original
from verification_pipeline.defs.target import TargetResource
from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.bundle import LineageStep, assemble_bundle
from verification_pipeline.evidence.keys import PUBLIC_KEY_FILE, public_key_pem
from verification_pipeline.evidence.layout import REPORT, k6_dashboard_name
from verification_pipeline.evidence.statements import (
    GateOutcome,
    ProvenanceInputs,
    ReleaseCandidate,
    resource_descriptor,
    tool_descriptor,
)
from verification_pipeline.evidence.upload import upload_bundle
from verification_pipeline.evidence.verify import verify_files
from verification_pipeline.loadtest.runner import SCRIPTS_DIR
from verification_pipeline.paths import tool_path
from verification_pipeline.report.budget import headline
from verification_pipeline.report.markdown import decision_markdown, verify_command
from verification_pipeline.scans import syft_version
from verification_pipeline.storage.bundles import read_bundle_uri
from verification_pipeline.storage.s3 import ObjectStore, parse_s3_uri
from verification_pipeline.storage.serialize import encode
from verification_pipeline.verdict import Verdict, worst

RETENTION_DAYS = 365

# Which upstream asset each bundle file comes from, and what it was derived from.
LINEAGE = {
    "slo/read.json": ("slo_metrics", ("raw/read.parquet",)),
    "slo/write.json": ("slo_metrics", ("raw/write.parquet",)),
    "slo/fanout.json": ("slo_metrics", ("raw/fanout.parquet",)),
    "slo/metrics.json": ("slo_metrics", ("raw/read.parquet", "raw/write.parquet", "raw/fanout.parquet")),
    "raw/read.parquet": ("read_load_samples", ()),
    "raw/write.parquet": ("write_load_samples", ()),
    "raw/fanout.parquet": ("fanout_latencies", ()),
    "security/sbom.syft.json": ("sbom", ()),
    "security/vulns.grype.json": ("vulnerability_report", ()),
    "policy/opa_report.json": ("policy_report", ()),
    "ops/dashboards/grafana-v24-slos.json": ("ops_artifacts", ()),
    "ops/alerts/slo-burn-rate.yaml": ("ops_artifacts", ()),
    REPORT: ("report", ("slo/metrics.json", "raw/read.parquet", "raw/write.parquet", "raw/fanout.parquet")),
}

# k6's exported dashboards come from the load step of their op.
DASHBOARD_ASSETS = {
    k6_dashboard_name("read").removesuffix(".html"): "read_load_samples",
    k6_dashboard_name("write").removesuffix(".html"): "write_load_samples",
}


def _json(value) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, default=str).encode() + b"\n"


def _k6_version() -> str:
    out = subprocess.run(
        [str(tool_path("k6")), "version"], check=False, capture_output=True, text=True, timeout=30
    ).stdout
    return out.split()[1] if out.startswith("k6 ") else out.strip()


def _upstream(context: dg.AssetExecutionContext, asset: str) -> dict:
    """Run id, code version, URI and digest of the materialization this bundle was built from."""
    record = latest_record(context.instance, dg.AssetKey(asset), context.partition_key)
    if record is None:
        return {}
    mat = record.asset_materialization
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


def _outcomes(slo_metrics: dict, scan_summary: dict) -> list[GateOutcome]:
    outcomes = [
        GateOutcome(
            f"slo:{r['name']}",
            r["verdict"],
            {
                k: r[k]
                for k in ("n", "value", "threshold", "unit", "ci_low", "ci_high", "reason")
                if r.get(k) is not None
            },
        )
        for r in slo_metrics["slos"]
    ]
    fanout = slo_metrics.get("fanout") or {}
    ratio = fanout.get("delivery_ratio")
    outcomes.append(
        GateOutcome(
            "slo:fanout_delivery_ratio",
            "INCONCLUSIVE" if ratio is None else "PASS" if ratio >= 1.0 else "FAIL",
            {"delivery_ratio": ratio, "lost": fanout.get("lost"), "duplicates": fanout.get("duplicates")},
        )
    )
    outcomes.extend(
        GateOutcome(f"scan:{g['name']}", g["verdict"], {"reason": g["reason"]}) for g in scan_summary["gates"]
    )
    return outcomes


def _evidence_files(
    context,
    s3: S3Resource,
    slo_metrics: dict,
    read: pl.DataFrame,
    write: pl.DataFrame,
    fanout: pl.DataFrame,
    ops: dict,
) -> dict[str, bytes]:
    files: dict[str, bytes] = {
        "slo/metrics.json": _json(slo_metrics),
        "raw/read.parquet": encode(read).data,
        "raw/write.parquet": encode(write).data,
        "ops/dashboards/grafana-v24-slos.json": ops["grafana-v24-slos.json"].encode(),
        "ops/alerts/slo-burn-rate.yaml": ops["slo-burn-rate.yaml"].encode(),
    }
    summaries = slo_metrics.get("summaries") or {}
    for role in ("read", "write"):
        if role in summaries:
            files[f"slo/{role}.json"] = _json(summaries[role])
    if slo_metrics.get("fanout"):
        files["slo/fanout.json"] = _json(slo_metrics["fanout"])
    if fanout.height:
        files["raw/fanout.parquet"] = encode(fanout).data
    for asset, name in (
        ("sbom", "security/sbom.syft.json"),
        ("vulnerability_report", "security/vulns.grype.json"),
        ("policy_report", "policy/opa_report.json"),
    ):
        original = load_original(context, s3, dg.AssetKey(asset))
        if original is not None:
            files[name] = original[1]
    files.update(_k6_dashboards(context, s3))
    return files


def _k6_dashboards(context, s3: S3Resource) -> dict[str, bytes]:
    """k6's own exported web dashboards that the load steps kept, each checked against its digest."""
    found: dict[str, bytes] = {}
    for asset in ("read_load_samples", "write_load_samples"):
        record = latest_record(context.instance, dg.AssetKey(asset), context.partition_key)
        metadata = record.asset_materialization.metadata if record is not None else {}
        for dashboard in metadata["k6_dashboards"].value if "k6_dashboards" in metadata else []:
            bucket, key = parse_s3_uri(dashboard["uri"])
            store = ObjectStore(s3.settings(), bucket=bucket)
            found[dashboard["name"]] = store.get_bytes(key, expected_sha256=dashboard["sha256"])
    return found


@dg.asset(
    partitions_def=release_candidates,
    code_version="1",
    group_name="release",
    kinds={"s3", "intoto"},
    description="The seed's evidence layout plus raw data, lineage, manifest and DSSE-signed in-toto attestations, "
    "uploaded write-once to `s3://<bucket>/<prefix>/<rc>/<run-id>/evidence/<version>/` and read back verified.",
)
def evidence_bundle(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    signing_key: SigningKeyResource,
    target: TargetResource,
    release_candidate: dict,
    slo_spec: dict,
    slo_metrics: dict,
    read_load_samples: pl.DataFrame,
    write_load_samples: pl.DataFrame,
    fanout_latencies: pl.DataFrame,
    scan_summary: dict,
    ops_artifacts: dict,
    report: bytes,
) -> dg.Output[dict]:
    key = signing_key.load()  # before anything is uploaded: a missing key fails here, cleanly
    if key.is_dev_key:
        context.log.warning(
            "signing with the embedded stack's DEV key: this bundle says so and is not release evidence"
        )
    run_id = context.run.run_id
    uri = bundle_uri_for(s3, release_candidate, run_id)
    files = _evidence_files(
        context, s3, slo_metrics, read_load_samples, write_load_samples, fanout_latencies, ops_artifacts
    )
    files[REPORT] = report
    verdict = overall_verdict(slo_metrics, scan_summary)
    files.update(
        {
            f"release/{name}": text.encode()
            for name, text in docs_files(
                release_candidate, slo_spec, slo_metrics, scan_summary, uri, verdict
            ).items()
        }
    )

    upstream = {
        asset: _upstream(context, asset)
        for asset in {a for a, _ in LINEAGE.values()}
        | {"release_candidate", "slo_spec", "scan_summary", *DASHBOARD_ASSETS.values()}
    }
    lineage = [
        LineageStep(
            output=name,
            derived_from=derived,
            asset_key=asset,
            run_id=upstream[asset].get("run_id", ""),
            code_version=upstream[asset].get("code_version", ""),
        )
        for name, (asset, derived) in LINEAGE.items()
        if name in files
    ]
    lineage += [
        LineageStep(
            output=name,
            derived_from=(),
            asset_key=asset,
            run_id=upstream[asset].get("run_id", ""),
            code_version=upstream[asset].get("code_version", ""),
        )
        for prefix, asset in DASHBOARD_ASSETS.items()
        for name in sorted(files)
        if name.startswith(prefix)
    ]
    scripts = sorted(SCRIPTS_DIR.glob("*.js"))
    configuration = [resource_descriptor("slos.yaml", data=slo_spec["yaml"].encode(), uri=slo_spec["source"])]
    configuration += [resource_descriptor(f"k6/{p.name}", data=p.read_bytes()) for p in scripts]
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
                    uri=info["original_uri"],
                    digest={"sha256": info["original_sha256"]},
                )
            )
    dependencies += [tool_descriptor("k6", _k6_version()), tool_descriptor("syft", syft_version())]
    run_stats = context.instance.get_run_stats(run_id)
    started = (
        dt.datetime.fromtimestamp(run_stats.start_time, dt.UTC)
        if run_stats.start_time
        else dt.datetime.now(dt.UTC)
    )
    provenance = ProvenanceInputs(
        run_id=run_id,
        started_on=started,
        finished_on=dt.datetime.now(dt.UTC),
        external_parameters={
            "commit": release_candidate.get("commit") or "",
            "targetUrl": target.label(),
            "slosSha256": slo_spec["sha256"],
            "runTags": {
                k: v for k, v in context.run.tags.items() if k.startswith("vp/") or k == "dagster/partition"
            },
        },
        resolved_dependencies=dependencies,
    )
    bundle = assemble_bundle(
        files,
        release_candidate=ReleaseCandidate(
            tag=release_candidate["tag"],
            commit=release_candidate.get("commit") or "",
            version=release_candidate["version"],
        ),
        signing_key=key,
        provenance=provenance,
        outcomes=_outcomes(slo_metrics, scan_summary),
        configuration=configuration,
        lineage=lineage,
        url=uri,
    )
    store = s3.store()
    context.log.info(f"uploading {len(bundle.files)} files to {uri} (attestations last)")
    retention = {}
    if store.object_lock_enabled():
        retention = {
            "retain_until": dt.datetime.now(dt.UTC) + dt.timedelta(days=RETENTION_DAYS),
            "lock_mode": s3.object_lock_mode,
        }
    refs = upload_bundle(bundle, store, prefix=store.key(), write_once_options=retention)
    archive = next(r for r in refs if r.key.endswith("bundle.tar.gz"))

    report = verify_files(
        read_bundle_uri(uri, s3.settings()), key.public_key, expected_rc=release_candidate["tag"], source=uri
    )
    context.log.info(f"bundle verified from the store: {report.files} files, verdict {report.verdict}")
    value = {
        "uri": uri,
        "archive_uri": archive.uri,
        "archive_sha256": archive.sha256,
        "verdict": bundle.verdict,
        "missing_files": list(bundle.missing_files),
        "files": sorted(bundle.files),
        "key_fingerprint": key.fingerprint,
        "dev_key": key.is_dev_key,
        "public_key_pem": public_key_pem(key.public_key).decode(),
        "run_id": run_id,
        "verified": True,
    }
    return dg.Output(
        value,
        data_version=dg.DataVersion(archive.sha256),
        metadata={
            "bundle_uri": dg.MetadataValue.url(uri),
            "archive_uri": dg.MetadataValue.url(archive.uri),
            # the signed report inside the bundle (report/index.html) and k6's own beside it
            "report_uri": dg.MetadataValue.url(uri.rstrip("/") + "/" + REPORT),
            "k6_dashboards": dg.MetadataValue.json(
                sorted(n for n in bundle.files if n.startswith("report/k6-"))
            ),
            "archive_sha256": archive.sha256,
            "verdict": bundle.verdict,
            "files": len(bundle.files),
            "missing_files": dg.MetadataValue.json(list(bundle.missing_files)),
            "signing_key": f"{key.fingerprint}{' (DEV KEY)' if key.is_dev_key else ''}",
            "retention_until": retention["retain_until"].isoformat()
            if retention
            else "none (no Object Lock on bucket)",
        },
    )


@dg.asset(
    partitions_def=release_candidates,
    code_version="1",
    group_name="release",
    kinds={"python"},
    description="PASS only when every SLO and scan gate passed and the bundle verifies from the store. "
    "Tags the run `verdict: <worst gate verdict>`; shows the SLOs tightest first and the `verify` command.",
    check_specs=[
        dg.AssetCheckSpec(
            "promotable",
            asset="release_decision",
            blocking=True,
            partitions_def=release_candidates,
            description="The RC may be promoted: decision PASS on a verified bundle.",
        )
    ],
)
def release_decision(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    signing_key: SigningKeyResource,
    release_candidate: dict,
    slo_metrics: dict,
    scan_summary: dict,
    evidence_bundle: dict,
):
    reasons = []
    if slo_metrics["verdict"] != "PASS":
        reasons.append(f"SLOs: {slo_metrics['verdict']}")
    if scan_summary["verdict"] != "PASS":
        reasons.append(f"scan gates: {scan_summary['verdict']}")
    if evidence_bundle["verdict"] != "PASS":
        reasons.append(f"bundle verdict: {evidence_bundle['verdict']}")
    from verification_pipeline.evidence.keys import load_public_key_pem

    verified = True
    try:
        verify_files(
            read_bundle_uri(evidence_bundle["uri"], s3.settings()),
            load_public_key_pem(evidence_bundle["public_key_pem"].encode(), source="evidence_bundle"),
            expected_rc=release_candidate["tag"],
            source=evidence_bundle["uri"],
        )
    except VerificationFailed as exc:
        verified = False
        reasons.append(f"the bundle does not verify: {exc.message}")
    verdict = (
        "PASS"
        if not reasons
        else ("FAIL" if any("FAIL" in r or "verify" in r for r in reasons) else "NOT PROMOTABLE")
    )
    gates = worst(
        [slo_metrics["verdict"], scan_summary["verdict"], evidence_bundle["verdict"]]
        + ([] if verified else [Verdict.FAIL])
    )
    tag_verdict(context.instance, context.run.run_id, gates)
    value = {
        "rc": release_candidate["tag"],
        "commit": release_candidate.get("commit"),
        "verdict": verdict,
        "reasons": reasons,
        "bundle_uri": evidence_bundle["uri"],
        "bundle_sha256": evidence_bundle["archive_sha256"],
        "dev_key": evidence_bundle.get("dev_key", False),
        "run_id": context.run.run_id,
    }
    why = "; ".join(reasons) or "every SLO and scan gate passed and the bundle verifies"
    dev_key = bool(evidence_bundle.get("dev_key"))
    dev_public = signing_key.dev_public_key_path() if dev_key else None
    summary = decision_markdown(
        rc=release_candidate["tag"],
        decision=verdict,
        verdict=str(gates),
        why=why,
        metrics=slo_metrics,
        bundle_uri=evidence_bundle["uri"],
        public_key=str(dev_public) if dev_public else PUBLIC_KEY_FILE,
        key_fingerprint=evidence_bundle.get("key_fingerprint", ""),
        dev_key=dev_key,
    )
    yield dg.Output(
        value,
        metadata={
            "verdict": verdict,
            "headline": headline(gates, slo_metrics),
            "rc": release_candidate["tag"],
            "commit": release_candidate.get("commit") or "",
            "dev_key": dev_key,
            **(
                {"warning": "DEV KEY: signed with the embedded stack's development key, not release evidence"}
                if dev_key
                else {}
            ),
            "bundle_uri": dg.MetadataValue.url(evidence_bundle["uri"]),
            "bundle_sha256": evidence_bundle["archive_sha256"],
            "verify_command": verify_command(
                evidence_bundle["uri"],
                str(dev_public) if dev_public else PUBLIC_KEY_FILE,
                release_candidate["tag"],
            ),
            "summary": dg.MetadataValue.md(summary),
        },
    )
    yield dg.AssetCheckResult(
        check_name="promotable",
        passed=verdict == "PASS",
        severity=dg.AssetCheckSeverity.ERROR,
        description=why,
    )
