"""The policies of each release line (policy/lines.yaml): which policies the policy gate evaluates and which
release policy release_decision judges with, per `v24.1`, with the package's defaults."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from tests.gitrepo import git, new_repo
from verification_pipeline.defs.evidence.assets import ReleaseDecisionConfig, _release_policy
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.errors import ConfigError
from verification_pipeline.policy.gate import DEFAULT_FILES, DEFAULT_POLICY_DIR
from verification_pipeline.policy.lines import PACKAGED, policy_for_line

EXAMPLE_RELEASE = PACKAGED.parent / "examples" / "release.rego"
STRICT = 'package main\n\nimport rego.v1\n\ndeny_no_deployments contains msg if {\n\tinput.kind == "Deployment"\n\tmsg := "line v24.1 allows no Deployment"\n}\n'


def test_the_packaged_table_gives_every_line_the_default_rules():
    listed = policy_for_line("v24.1")
    assert listed.policy_dir == DEFAULT_POLICY_DIR and listed.files == DEFAULT_FILES
    assert listed.namespaces == ("main",) and listed.release_policy is None
    assert listed.source == "lines.yaml lines.v24.1"
    unlisted = policy_for_line("v99.3")
    assert unlisted.policy_dir == DEFAULT_POLICY_DIR and unlisted.source == "lines.yaml default"


@pytest.fixture
def rc1_repo(tmp_path: Path) -> Path:
    """The service's deploy files committed and tagged v24.1.0-rc1 (as test_policy_gate's service_repo)."""
    repo = new_repo(tmp_path / "service")
    shutil.copytree(
        Path(__file__).resolve().parents[2] / "reference_target" / "deploy",
        repo / "reference_target" / "deploy",
    )
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "deploy files")
    git(repo, "tag", "v24.1.0-rc1")
    return repo


@pytest.fixture
def lines_file(tmp_path: Path) -> Path:
    strict = tmp_path / "strict"
    strict.mkdir()
    (strict / "strict.rego").write_text(STRICT)
    path = tmp_path / "lines.yaml"
    path.write_text(
        f"version: 1\ndefault:\n  policy_dir: {DEFAULT_POLICY_DIR}\n  files: ['reference_target/deploy/*.yaml']\n"
        f"lines:\n  v24.1:\n    policy_dir: strict\n    release_policy: {EXAMPLE_RELEASE}\n"
        "  v24.2:\n    namespaces: [other]\n"
    )
    return path


def test_a_line_overrides_only_what_it_names(lines_file):
    v241 = policy_for_line("v24.1", lines_file)
    assert v241.policy_dir == lines_file.parent / "strict"  # relative to the table's own directory
    assert v241.release_policy == EXAMPLE_RELEASE and v241.files == ("reference_target/deploy/*.yaml",)
    v242 = policy_for_line("v24.2", lines_file)
    assert (
        v242.policy_dir == DEFAULT_POLICY_DIR
        and v242.namespaces == ("other",)
        and v242.release_policy is None
    )


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (
            "version: 1\ndefault:\n  policy_dir: rules\n  files: [a]\nlines:\n  v24.1:\n    policy_dir: nowhere\n",
            7,
            "lines.v24.1.policy_dir",
        ),
        (
            "version: 1\ndefault:\n  policy_dir: rules\n  files: [a]\nlines:\n  x24.1:\n    policy_dir: rules\n",
            6,
            "lines.x24.1",
        ),
        ("version: 1\ndefault:\n  policy_dir: rules\n  files: [a]\n  polcy: x\n", 5, "default.polcy"),
        (
            "version: 1\ndefault:\n  policy_dir: rules\n  files: [a]\n  release_policy: gone.rego\n",
            5,
            "default.release_policy",
        ),
    ],
)
def test_a_bad_table_names_file_line_and_field(tmp_path, text, line, field):
    (tmp_path / "rules").mkdir()
    path = tmp_path / "lines.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        policy_for_line("v24.1", path)
    assert raised.value.source == str(path) and raised.value.line == line
    assert raised.value.field == field


def test_release_decision_takes_the_lines_release_policy_unless_configured(lines_file):
    engine, path = _release_policy(ReleaseDecisionConfig(policy_lines=str(lines_file)), "v24.1")
    assert engine is not None and path == str(EXAMPLE_RELEASE)
    assert _release_policy(ReleaseDecisionConfig(policy_lines=str(lines_file)), "v24.2") == (None, "")
    assert _release_policy(ReleaseDecisionConfig(), "v24.1") == (None, "")  # the package's: none
    configured = lines_file.parent / "strict" / "strict.rego"
    engine, path = _release_policy(
        ReleaseDecisionConfig(release_policy=str(configured), policy_lines=str(lines_file)), "v24.1"
    )
    assert engine is not None and path == str(configured)


def test_policy_report_asset_uses_the_rc_lines_policies(rc1_repo, s3_env, tmp_path, lines_file, monkeypatch):
    # rc1 of v24.1 passes the package's rules (test_policy_gate); under a table whose v24.1 entry names a
    # stricter directory, the same commit fails with that directory's rule.
    from verification_pipeline.definitions import build_definitions

    monkeypatch.delenv("VP_POLICY_REPORT", raising=False)
    environ = {
        **s3_env,
        "VP_GIT_REPO": str(rc1_repo),
        "VP_S3_PREFIX": f"policy-lines-{tmp_path.name}",
        "VP_POLICY_LINES": str(lines_file),
    }
    environ.pop("VP_POLICY_REPORT", None)
    environ.pop("VP_POLICY_DIR", None)
    defs = build_definitions(environ)
    policy_report = next(
        a
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition) and a.keys == {dg.AssetKey("policy_report")}
    )
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        instance.add_dynamic_partitions(release_candidates.name, ["v24.1.0-rc1"])
        result = dg.materialize(
            [policy_report], partition_key="v24.1.0-rc1", instance=instance, resources=defs.resources
        )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["verdict"].value == "FAIL"
    assert metadata["policy_source"].value == "lines.yaml lines.v24.1"
    assert "main.deny_no_deployments reference_target/deploy/deployment.yaml" in metadata["failures"].value
