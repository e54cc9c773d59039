"""The policy gate is measured on the RC's own commit: files read with `git show`, never the working tree.

A real repository: the reference target's deploy files committed and tagged rc1 (PASS); an edited
manifest committed and tagged rc2 (FAIL naming the rule and the file), while rc1 still passes
and an uncommitted edit changes nothing. Then the `policy_report` asset itself, on a real
SeaweedFS: it writes conftest's JSON and the evaluation's digests as bundle files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from tests.gitrepo import git, new_repo
from verification_pipeline.defs.evidence.files import BUNDLE_FILES_KEY
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.release.resources import GitRepoResource
from verification_pipeline.errors import ConfigError
from verification_pipeline.evidence.layout import POLICY_EVALUATION, POLICY_REPORT, sha256_hex
from verification_pipeline.policy.gate import DEFAULT_POLICY_DIR, evaluate_commit, failure_lines

DEPLOY = Path(__file__).resolve().parents[2] / "reference_target" / "deploy"


@pytest.fixture
def service_repo(tmp_path: Path) -> Path:
    """The service's repository with its deploy files, tagged v24.1.0-rc1."""
    repo = new_repo(tmp_path / "service")
    shutil.copytree(DEPLOY, repo / "reference_target" / "deploy")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "deploy files")
    git(repo, "tag", "v24.1.0-rc1")
    return repo


def tag_edited_rc(repo: Path, tag: str) -> None:
    deployment = repo / "reference_target" / "deploy" / "deployment.yaml"
    deployment.write_text(
        deployment.read_text().replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false")
    )
    git(repo, "commit", "-qam", "writable root filesystem")
    git(repo, "tag", tag)


def test_rc1_passes_and_an_edited_manifest_tagged_rc2_fails_naming_rule_and_file(service_repo):
    resource = GitRepoResource(repo=str(service_repo))
    rc1, _ = resource.commit_of("v24.1.0-rc1")
    first = evaluate_commit(service_repo, rc1)
    assert first.report["verdict"] == "PASS" and not first.failed
    assert first.report["totals"]["successes"] > 0
    assert {f["path"] for f in first.report["inputs"]} == {
        f"reference_target/deploy/{p.name}" for p in DEPLOY.glob("*.yaml")
    }

    tag_edited_rc(service_repo, "v24.1.0-rc2")
    rc2, _ = resource.commit_of("v24.1.0-rc2")
    second = evaluate_commit(service_repo, rc2)
    assert second.report["verdict"] == "FAIL" and second.report["commit"] == rc2
    assert failure_lines(second.results) == [
        (
            "main.deny_writable_root_filesystem reference_target/deploy/deployment.yaml: Deployment "
            "coherence-api: container api has a writable root filesystem (set readOnlyRootFilesystem: true)"
        )
    ]
    # the digests say which bytes were judged: only the edited file's changed
    before = {f["path"]: f["sha256"] for f in first.report["inputs"]}
    after = {f["path"]: f["sha256"] for f in second.report["inputs"]}
    assert {p for p in before if before[p] != after[p]} == {"reference_target/deploy/deployment.yaml"}
    assert [p["sha256"] for p in first.report["policies"]] == [p["sha256"] for p in second.report["policies"]]

    # rc1 is judged on its own commit, whatever the working tree holds now
    (service_repo / "reference_target" / "deploy" / "settings.yaml").write_text("kind: broken\n")
    assert evaluate_commit(service_repo, rc1).report["verdict"] == "PASS"


def test_no_matching_file_in_the_commit_is_a_config_error(service_repo):
    commit = git(service_repo, "rev-parse", "HEAD")
    with pytest.raises(ConfigError, match=r"no file of commit .* matches deploy/\*\.yaml"):
        evaluate_commit(service_repo, commit, globs=["deploy/*.yaml"])


def test_policy_report_asset_evaluates_the_rc_commit(service_repo, s3_env, tmp_path, monkeypatch):
    from verification_pipeline.definitions import build_definitions
    from verification_pipeline.storage.s3 import ObjectStore, S3Settings, parse_s3_uri

    tag_edited_rc(service_repo, "v24.1.0-rc2")
    monkeypatch.delenv("VP_POLICY_REPORT", raising=False)
    environ = {**s3_env, "VP_GIT_REPO": str(service_repo), "VP_S3_PREFIX": f"policy-gate-{tmp_path.name}"}
    environ.pop("VP_POLICY_REPORT", None)
    defs = build_definitions(environ)
    policy_report = next(
        a
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition) and a.keys == {dg.AssetKey("policy_report")}
    )
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        instance.add_dynamic_partitions(release_candidates.name, ["v24.1.0-rc1", "v24.1.0-rc2"])
        outcomes = {}
        for rc in ("v24.1.0-rc1", "v24.1.0-rc2"):
            result = dg.materialize(
                [policy_report], partition_key=rc, instance=instance, resources=defs.resources
            )
            assert result.success
            (event,) = result.get_asset_materialization_events()
            outcomes[rc] = event.materialization.metadata
            table = result.output_for_node("policy_report")
            assert table["failed"].sum() == (1 if rc.endswith("rc2") else 0)
    assert outcomes["v24.1.0-rc1"]["verdict"].value == "PASS"
    assert outcomes["v24.1.0-rc2"]["verdict"].value == "FAIL"
    assert (
        "main.deny_writable_root_filesystem reference_target/deploy/deployment.yaml"
        in outcomes["v24.1.0-rc2"]["failures"].value
    )
    entries = outcomes["v24.1.0-rc2"][BUNDLE_FILES_KEY].value
    store = ObjectStore(S3Settings.from_env(environ))
    stored = {}
    for path in (POLICY_REPORT, POLICY_EVALUATION):
        bucket, key = parse_s3_uri(entries[path]["uri"])
        stored[path] = ObjectStore(store.settings, bucket=bucket).get_bytes(key, require_checksum=False)
        assert sha256_hex(stored[path]) == entries[path]["sha256"]
    conftest_shape = json.loads(stored[POLICY_REPORT])
    assert {r["filename"] for r in conftest_shape} >= {"reference_target/deploy/deployment.yaml"}
    evaluation = json.loads(stored[POLICY_EVALUATION])
    assert evaluation["commit"] == git(service_repo, "rev-parse", "v24.1.0-rc2^{commit}")
    assert {p["path"] for p in evaluation["policies"]} == {
        f"verification_pipeline/policy/rules/{p.name}" for p in DEFAULT_POLICY_DIR.glob("*.rego")
    }


def test_the_report_and_the_release_notes_show_every_rule_and_each_failure_with_file_and_message(
    service_repo,
):
    import polars as pl

    from tests.report.samples import synthetic
    from verification_pipeline.artifacts.docs import render_release_docs
    from verification_pipeline.policy.gate import policy_rows
    from verification_pipeline.report.html import ReportInputs, render_report
    from verification_pipeline.slo.metrics import SLO_METRICS_SCHEMA
    from verification_pipeline.verdict import Verdict

    tag_edited_rc(service_repo, "v24.1.0-rc2")
    run = evaluate_commit(service_repo, git(service_repo, "rev-parse", "v24.1.0-rc2^{commit}"))
    rows = policy_rows(run.results, run.rules)
    rules = run.rules["main"]
    assert len(rows) == len(rules) * len(run.report["inputs"])  # every rule on every file
    assert [r["policy"] for r in rows if r["failed"]] == [
        "main.deny_writable_root_filesystem (reference_target/deploy/deployment.yaml)"
    ]

    sample = synthetic()
    page = render_report(
        ReportInputs(
            rc="v24.1.0-rc2",
            commit="0" * 40,
            verdict=Verdict.FAIL,
            metrics=sample["metrics"],
            scan_summary=sample["scan_summary"],
            read=sample["read"],
            write=sample["write"],
            fanout=sample["fanout"],
            baseline=sample["baseline"],
            policies=rows,
        )
    ).decode()
    table = page[page.index('<table id="policies">') :]
    table = table[: table.index("</table>")]
    first = table[table.index("<tr data-policy") :]
    first = first[: first.index("</tr>")]
    assert (
        "<td>main.deny_writable_root_filesystem</td><td>reference_target/deploy/deployment.yaml</td><td>FAIL</td>"
        in first
    )
    assert "container api has a writable root filesystem" in first
    assert table.count("<tr data-policy") == len(rows) and table.count("<td>PASS</td>") == len(rows) - 1

    frame = pl.DataFrame(
        [{k: row.get(k) for k in SLO_METRICS_SCHEMA} for row in sample["metrics"]["slos"]],
        schema=SLO_METRICS_SCHEMA,
    )
    notes = next(
        text
        for name, text in render_release_docs(
            frame,
            version="v24.1",
            rc="v24.1.0-rc2",
            date=__import__("datetime").date(2026, 12, 7),
            evidence_uri="s3://b/p/v24.1.0-rc2/",
            verdict="FAIL",
            policies=rows,
        ).items()
        if name.startswith("RELEASE_NOTES")
    )
    section = notes[notes.index("### Policies") : notes.index("### Compared")]
    assert (
        f"{len(rows)} results: {len(rules)} rules on 5 file(s), {len(rows) - 1} passed, 1 failed" in section
    )
    assert (
        "- FAIL `main.deny_writable_root_filesystem (reference_target/deploy/deployment.yaml)`: "
        "Deployment coherence-api: container api has a writable root filesystem" in section
    )
