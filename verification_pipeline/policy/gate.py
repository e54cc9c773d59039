"""The policy gate: the project's Rego policies on the files of the RC's own commit.

Files are read with `git show <commit>:<path>` for the configured globs, never from a working
tree, so the result belongs to the commit the bundle signs and anyone can re-run it on that
commit. The report is conftest's JSON shape plus what makes it reproducible: the digest of every
policy module and every input file, the commit, the namespaces and the engine's version.
"""

from __future__ import annotations

import fnmatch
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verification_pipeline.errors import ConfigError, ToolError
from verification_pipeline.evidence.layout import sha256_hex
from verification_pipeline.fileio import CONFIG_MAX_BYTES
from verification_pipeline.policy.conftest import CheckResult, Engine
from verification_pipeline.policy.inputs import parse_config
from verification_pipeline.policy.runner import TestOptions, load_modules, run_test, totals
from verification_pipeline.scans.schemas import policy_row

DEFAULT_POLICY_DIR = Path(__file__).resolve().parent / "rules"
DEFAULT_FILES = ("reference_target/deploy/*.yaml",)
REPORT_KIND = "verification-pipeline/policy-gate/v1"
_GIT_TIMEOUT_S = 30


@dataclass(frozen=True)
class CommitFile:
    path: str
    data: bytes


def _git(repo: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, timeout=_GIT_TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        raise ToolError("git is not installed", hint="apt-get install git") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"git {args[0]} timed out after {_GIT_TIMEOUT_S}s") from None
    if done.returncode != 0:
        cause = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ToolError(
            f"git {' '.join(args[:2])} failed in {repo}: {cause[0] if cause else done.returncode}"
        )
    return done.stdout


def commit_files(repo: Path, commit: str, globs: Sequence[str]) -> list[CommitFile]:
    """The files of `commit` matching `globs` (fnmatch on the repository path), read from git's objects."""
    listing = _git(repo, "ls-tree", "-r", "-z", "--name-only", commit).decode("utf-8", "replace")
    paths = sorted(p for p in listing.split("\0") if p and any(fnmatch.fnmatchcase(p, g) for g in globs))
    if not paths:
        raise ConfigError(
            f"no file of commit {commit[:12]} matches {', '.join(globs)}",
            field="policy_report.files",
            hint="commit the files the policies judge, or configure the globs that name them",
        )
    files = []
    for path in paths:
        size = int(_git(repo, "cat-file", "-s", f"{commit}:{path}").strip() or 0)
        if size > CONFIG_MAX_BYTES:
            raise ConfigError(f"{path} at {commit[:12]} is {size} bytes, over the {CONFIG_MAX_BYTES} cap")
        files.append(CommitFile(path, _git(repo, "show", f"{commit}:{path}")))
    return files


@dataclass(frozen=True)
class GateRun:
    """What the gate judged and what it found: conftest's results and the signed report around them."""

    results: list[CheckResult]
    report: dict[str, Any]
    rules: dict[str, list[str]]
    """namespace -> the rules evaluated there (deny*, violation*, warn*), each once."""

    @property
    def failed(self) -> bool:
        return totals(self.results)["failures"] > 0


def evaluate_commit(
    repo: Path,
    commit: str,
    *,
    policy_dirs: Sequence[Path] = (DEFAULT_POLICY_DIR,),
    globs: Sequence[str] = DEFAULT_FILES,
    namespaces: Sequence[str] = ("main",),
) -> GateRun:
    import regopy

    modules = load_modules(list(policy_dirs))
    files = commit_files(repo, commit, globs)
    engine = Engine(modules)
    configs = {f.path: parse_config(f.data, f.path) for f in files}
    results = run_test(engine, configs, TestOptions(namespaces=tuple(namespaces)))
    counts = totals(results)
    report = {
        "kind": REPORT_KIND,
        "commit": commit,
        "engine": f"regopy {regopy.__version__} (rego-cpp), conftest semantics",
        "namespaces": list(namespaces),
        "rules": {ns: rules for ns, rules in engine.rules_by_namespace().items() if ns in namespaces},
        "files": globs and list(globs),
        "policies": [
            {"path": _shown(Path(m.name)), "sha256": sha256_hex(m.source.encode("utf-8"))} for m in modules
        ],
        "inputs": [{"path": f.path, "sha256": sha256_hex(f.data)} for f in files],
        "totals": counts,
        "verdict": "FAIL" if counts["failures"] else "PASS",
        "results": [r.to_json() for r in results],
    }
    return GateRun(results=results, report=report, rules=engine.rules_by_namespace())


def _shown(path: Path) -> str:
    """A policy's path as the report shows it: inside the package when it is ours, else its name."""
    try:
        return (
            "verification_pipeline/policy/"
            + path.resolve().relative_to(Path(__file__).resolve().parent).as_posix()
        )
    except ValueError:
        return path.as_posix()


def failure_lines(results: Sequence[CheckResult]) -> list[str]:
    """`rule file: message` for every failure: what a person reads in the log, the report and the notes."""
    return [
        f"{str((f.metadata or {}).get('query', '')).removeprefix('data.')} {r.filename}: {f.msg}"
        for r in results
        for f in r.failures
    ]


def policy_rows(results: Sequence[CheckResult], rules: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """The policy table (scans.schemas.POLICY_SCHEMA): one row per file and rule evaluated.

    `rules`: namespace -> the rule names evaluated there. A row is named `namespace.rule (file)`, so
    the gate's reason names both; it passed when the rule gave that file no failure.
    """
    rows: list[dict[str, Any]] = []
    for result in results:
        for rule in dict.fromkeys(rules.get(result.namespace, ())):
            query = f"data.{result.namespace}.{rule}"
            failed = [f.msg for f in result.failures if (f.metadata or {}).get("query") == query]
            warned = [w for w in result.warnings if (w.metadata or {}).get("query") == query]
            rows.append(
                _row(
                    f"{result.namespace}.{rule} ({result.filename})",
                    result.filename,
                    failed=failed,
                    warnings=warned,
                )
            )
    return rows


def _row(
    policy: str, target: str, *, warnings: Sequence[Any] = (), failed: Sequence[str] = ()
) -> dict[str, Any]:
    row = policy_row(policy, target, "verification-pipeline policy (regopy)")
    row.update(
        passed=0 if failed else 1,
        failed=len(failed),
        warnings=len(warnings),
        messages=[f"deny: {m}" for m in failed] + [f"warn: {w.msg}" for w in warnings],
    )
    return row
