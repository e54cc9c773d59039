"""SBOM, vulnerability and policy reports: normalized tables, originals kept, gates judged."""

import json
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import NamedTuple

import dagster as dg
import polars as pl
from pydantic import Field

from verification_pipeline.code_version import code_version
from verification_pipeline.defs.evidence.files import bundle_files_metadata
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.release.resources import GitRepoResource
from verification_pipeline.defs.scans.resources import ScanInputsResource
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.defs.storage.sources import original_metadata, read_source, store_original
from verification_pipeline.errors import ConfigError, FormatError
from verification_pipeline.evidence.layout import (
    POLICY_EVALUATION,
    POLICY_REPORT,
    SBOM,
    VULNERABILITIES,
    sha256_hex,
)
from verification_pipeline.evidence.statements import ReleaseCandidate
from verification_pipeline.paths import REFERENCE_TARGET_DIR
from verification_pipeline.policy.gate import (
    evaluate_commit,
    failure_lines,
    policy_rows,
)
from verification_pipeline.policy.lines import LinePolicy, policy_for_line
from verification_pipeline.policy.runner import render_json
from verification_pipeline.records import ScanSummaryRecord
from verification_pipeline.release.tags import parse_rc
from verification_pipeline.scans import (
    component_counts,
    load_vulnerability_policy,
    parse_policy_report,
    parse_sbom,
    parse_vulnerability_report,
    policy_counts,
    portable_sbom,
    run_syft,
    summarize_scans,
    syft_version,
    vulnerability_counts,
)
from verification_pipeline.scans.environment import stage_environment
from verification_pipeline.scans.reports import ScanReport
from verification_pipeline.scans.schemas import POLICY_SCHEMA, frame
from verification_pipeline.scans.syft_runner import scanned_source_name
from verification_pipeline.storage.s3 import ObjectRef
from verification_pipeline.verdict import Verdict

CODE_VERSION = code_version(__name__)


class SbomConfig(dg.Config):
    source: str = "run"
    """`run`: syft over `scan_dir`; `import`: read `path` (syft JSON, CycloneDX JSON or SPDX 2.3 JSON)."""
    scan_dir: str = ""
    """Directory syft catalogs; default the `scan_inputs` resource's."""
    path: str = ""
    """Path or s3:// URI to import; default the `scan_inputs` resource's."""


class ReportImportConfig(dg.Config):
    path: str = ""
    """A path or s3:// URI of the report CI produced; default the `scan_inputs` resource's."""


def _configured(value: str, default: str, env: str, what: str) -> str:
    if resolved := value or default:
        return resolved
    hint = f"set {env} or the asset's `path` run config to a file or s3:// URI"
    raise ConfigError(f"no {what} configured", field=env, hint=hint)


def _markdown_counts(title: str, counts: dict) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in counts.items() if not isinstance(v, dict))
    return f"**{title}**\n\n| field | count |\n| --- | --- |\n{rows}"


@dg.asset(
    partitions_def=release_candidates,
    code_version=CODE_VERSION,
    group_name="security",
    kinds={"syft", "polars"},
    description="Software bill of materials: components (name, version, type, purl, licenses); the original file is kept for the bundle.",
)
def sbom(
    context: dg.AssetExecutionContext,
    config: SbomConfig,
    s3: S3Resource,
    scan_inputs: ScanInputsResource,
    release_candidate: ReleaseCandidate,
) -> dg.Output[pl.DataFrame]:
    if config.source == "run":
        scan_dir = config.scan_dir or scan_inputs.sbom_scan_dir
        with tempfile.TemporaryDirectory(prefix="vp-sbom-") as staging:
            if not scan_dir:
                scan_dir = str(stage_environment(REFERENCE_TARGET_DIR, Path(staging)))
                label = "syft: reference target source + installed Python distributions"
            else:
                label = f"syft dir:{scan_dir}"
            context.log.info(f"running syft over {scan_dir}")
            # signed into the bundle: the scan root is named by the RC's repository and commit, not
            # by this machine's path
            root_name = scanned_source_name(
                release_candidate.repository,
                release_candidate.commit,
                REFERENCE_TARGET_DIR.name if label.startswith("syft:") else Path(scan_dir).name,
            )
            data = portable_sbom(run_syft(Path(scan_dir)), scan_root=Path(scan_dir), name=root_name)
    elif config.source == "import":
        label = _configured(config.path, scan_inputs.sbom_report, "VP_SBOM_REPORT", "SBOM file")
        data = read_source(label, s3)
    else:
        raise ConfigError(
            f"unknown source {config.source!r}", field="sbom.config.source", hint="use run or import"
        )
    report = parse_sbom(data, label)
    components = report.components
    if components is None:  # parse_sbom refuses a report without components
        raise FormatError("the SBOM lists no components", source=label)
    original = _Original(report, store_original(context, s3, "sbom.json", data), label)
    extra = {"syft_version": syft_version()} if config.source == "run" else {}
    counts = component_counts(components)
    return _report_output(context, s3, original, components, "SBOM components", counts, SBOM, **extra)


class _Original(NamedTuple):
    """A scan report as parsed, where its original file is stored, and where it came from."""

    report: ScanReport
    ref: ObjectRef
    source: str


def _report_output(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    original: _Original,
    table: pl.DataFrame,
    title: str,
    counts: dict,
    bundle_path: str,
    **extra: str,
) -> dg.Output[pl.DataFrame]:
    """The normalized table, versioned by the original file's digest, with the original's URI beside it."""
    report, ref, label = original
    return dg.Output(
        table,
        data_version=dg.DataVersion(report.sha256),
        metadata={
            **original_metadata(ref),
            "format": report.format.value,
            "tool": f"{report.tool} {report.tool_version or ''}".strip(),
            "source": label,
            "summary": dg.MetadataValue.md(_markdown_counts(title, counts)),
            **bundle_files_metadata(context, s3, {bundle_path: ref}),
            **extra,
        },
    )


def _imported(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    path: str,
    parse: Callable[[bytes, str], ScanReport],
    filename: str,
) -> _Original:
    context.log.info(f"importing {path}")
    data = read_source(path, s3)
    report = parse(data, path)
    return _Original(report, store_original(context, s3, filename, data), path)


@dg.asset(
    partitions_def=release_candidates,
    code_version=CODE_VERSION,
    group_name="security",
    kinds={"polars"},
    description="Vulnerabilities from grype JSON, trivy JSON or SARIF, one table: id, severity, package, version, fix state.",
)
def vulnerability_report(
    context: dg.AssetExecutionContext,
    config: ReportImportConfig,
    s3: S3Resource,
    scan_inputs: ScanInputsResource,
) -> dg.Output[pl.DataFrame]:
    path = _configured(
        config.path, scan_inputs.vulnerability_report, "VP_VULN_REPORT", "vulnerability report"
    )
    original = _imported(context, s3, path, parse_vulnerability_report, "vulns.json")
    vulnerabilities = original.report.vulnerabilities
    if vulnerabilities is None:  # parse_vulnerability_report refuses a report without its table
        raise FormatError("the report lists no vulnerabilities table", source=path)
    counts = vulnerability_counts(vulnerabilities)
    by_severity = {"total": counts["total"], **counts["by_severity"]}
    title = "Vulnerabilities by severity"
    return _report_output(context, s3, original, vulnerabilities, title, by_severity, VULNERABILITIES)


class PolicyReportConfig(dg.Config):
    path: str = ""
    """Import mode: the OPA/conftest report CI produced (path or s3:// URI); default the `scan_inputs` resource's.
    Empty (and no VP_POLICY_REPORT): the policies are evaluated here, on the RC commit's files."""
    policy_dir: str = ""
    """Rego policies to evaluate (a directory or .rego file); default VP_POLICY_DIR, else the RC's release line's
    (policy/lines.yaml, or the file VP_POLICY_LINES names)."""
    files: list[str] = Field(default_factory=list)
    """Globs of repository paths, read from the RC's commit; default VP_POLICY_FILES, else the release line's."""
    namespaces: list[str] = Field(default_factory=list)
    """Packages judged; default the release line's (`main` in the package's lines.yaml)."""
    policy_lines: str = ""
    """The per-release-line table (lines.yaml's shape); default VP_POLICY_LINES, else the package's."""


@dg.asset(
    partitions_def=release_candidates,
    code_version=CODE_VERSION,
    group_name="security",
    kinds={"opa", "polars"},
    description="Policy results: the project's Rego policies evaluated in process on the files of the RC's commit "
    "(conftest semantics), or imported from CI's `opa eval`, `opa test` or conftest report.",
)
def policy_report(
    context: dg.AssetExecutionContext,
    config: PolicyReportConfig,
    s3: S3Resource,
    scan_inputs: ScanInputsResource,
    git_repo: GitRepoResource,
) -> dg.Output[pl.DataFrame]:
    path = config.path or scan_inputs.policy_report
    if not path:
        scope = _policy_scope(context.partition_key, config, scan_inputs)
        return _evaluated_policies(context, s3, git_repo, scope, config.namespaces)
    original = _imported(context, s3, path, parse_policy_report, "opa_report.json")
    policies = original.report.policies
    if policies is None:  # parse_policy_report refuses a report without its table
        raise FormatError("the report lists no policy results", source=path)
    counts = policy_counts(policies)
    return _report_output(
        context, s3, original, policies, "Policy results", counts, POLICY_REPORT, mode="import"
    )


def _policy_scope(
    rc: str, config: PolicyReportConfig, scan_inputs: ScanInputsResource
) -> tuple[LinePolicy, str, list[str]]:
    """The RC's release line's policies, the policy directory configured instead ("" when none), and
    the globs of the files judged: the run's config, else the resource's, else the line's."""
    lines_file = config.policy_lines or scan_inputs.policy_lines
    line_policy = policy_for_line(parse_rc(rc).version, Path(lines_file) if lines_file else None)
    policy_dir = config.policy_dir or scan_inputs.policy_dir
    globs = (
        config.files
        or [g for g in scan_inputs.policy_files.split(",") if g.strip()]
        or list(line_policy.files)
    )
    return line_policy, policy_dir, globs


def _evaluated_policies(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    git_repo: GitRepoResource,
    scope: tuple[LinePolicy, str, list[str]],
    namespaces: list[str],
) -> dg.Output[pl.DataFrame]:
    """The policies of `scope` (`_policy_scope`) evaluated on the files of the RC's commit."""
    repo = git_repo.local_path()
    commit, _ = git_repo.commit_of(context.partition_key)
    line_policy, policy_dir, globs = scope
    run = evaluate_commit(
        repo,
        commit,
        policy_dirs=[Path(policy_dir)] if policy_dir else [line_policy.policy_dir],
        globs=[g.strip() for g in globs],
        namespaces=namespaces or list(line_policy.namespaces),
    )
    context.log.info(
        f"policies of release line {line_policy.line}: "
        + (
            f"{policy_dir} (configured)"
            if policy_dir
            else f"{line_policy.policy_dir.name}/ ({line_policy.source})"
        )
    )
    for line in failure_lines(run.results):
        context.log.warning(f"policy FAIL {line}")
    conftest_json = render_json(run.results).encode("utf-8")
    evaluation = json.dumps({k: v for k, v in run.report.items() if k != "results"}, indent=2).encode("utf-8")
    table = frame(policy_rows(run.results, run.rules), POLICY_SCHEMA)
    counts = run.report["totals"]
    context.log.info(
        f"policies on {commit[:12]}: {counts['tests']} tests, {counts['successes']} passed, "
        f"{counts['failures']} failed, {counts['warnings']} warnings ({len(run.report['inputs'])} files)"
    )
    return dg.Output(
        table,
        data_version=dg.DataVersion(sha256_hex(conftest_json + evaluation)),
        metadata={
            "mode": "evaluate",
            "commit": commit,
            "release_line": line_policy.line,
            "policy_source": "configured" if policy_dir else line_policy.source,
            "verdict": run.report["verdict"],
            "engine": run.report["engine"],
            "files": dg.MetadataValue.json(run.report["inputs"]),
            "policies": dg.MetadataValue.json(run.report["policies"]),
            "failures": dg.MetadataValue.md(
                "\n".join(f"- {line}" for line in failure_lines(run.results)) or "none"
            ),
            "summary": dg.MetadataValue.md(_markdown_counts("Policy results", policy_counts(table))),
            **bundle_files_metadata(
                context, s3, {POLICY_REPORT: conftest_json, POLICY_EVALUATION: evaluation}
            ),
        },
    )


class VulnerabilityPolicyConfig(dg.Config):
    policy_path: str = ""
    """YAML vulnerability policy (fail_on, allowlist with id, reason, expires); default the `scan_inputs` resource's."""


SCAN_GATES = ("sbom_present", "vulnerability_policy_met", "policies_pass")


@dg.asset(
    partitions_def=release_candidates,
    code_version=CODE_VERSION,
    group_name="security",
    kinds={"python"},
    description="Verdicts of the scan gates: SBOM present, vulnerability policy met, all policies pass.",
    check_specs=[
        dg.AssetCheckSpec(name, asset="scan_summary", partitions_def=release_candidates)
        for name in SCAN_GATES
    ],
)
def scan_summary(
    context: dg.AssetExecutionContext,
    config: VulnerabilityPolicyConfig,
    s3: S3Resource,
    scan_inputs: ScanInputsResource,
    sbom: pl.DataFrame,
    vulnerability_report: pl.DataFrame,
    policy_report: pl.DataFrame,
) -> Iterator[dg.Output[ScanSummaryRecord] | dg.AssetCheckResult]:
    policy_path = config.policy_path or scan_inputs.vulnerability_policy
    policy = load_vulnerability_policy(read_source(policy_path, s3), policy_path) if policy_path else None
    summary = summarize_scans(
        components=sbom,
        vulnerabilities=vulnerability_report,
        policies=policy_report,
        vulnerability_policy=policy,
        today=date.today(),
    )
    value = ScanSummaryRecord.model_validate(summary.to_dict())
    table = "\n".join(f"| {g.name} | {g.verdict} | {g.reason} |" for g in value.gates)
    yield dg.Output(
        value,
        metadata={
            "verdict": value.verdict.value,
            "summary": dg.MetadataValue.md(
                f"**Scan gates: {value.verdict}**\n\n| gate | verdict | reason |\n| --- | --- | --- |\n{table}"
            ),
        },
    )
    for gate in value.gate_outcomes():  # the gates the bundle signs
        yield dg.AssetCheckResult(
            check_name=gate.check_name,
            passed=gate.verdict is Verdict.PASS,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"verdict": gate.verdict.value, "reason": gate.reason},
            description=gate.reason,
        )
