"""What a git repository (local path or remote URL) says about tags, through the git binary."""

from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path

from verification_pipeline.errors import InputError, ToolError

GIT_TIMEOUT_S = 30


def _git(args: list[str], cwd: str | None = None) -> str:
    try:
        proc = subprocess.run(
            ["git", *args],
            check=False,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except FileNotFoundError:
        raise ToolError("git is not installed", hint="apt-get install git") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"git {' '.join(args[:2])} timed out after {GIT_TIMEOUT_S}s") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        cause = next(
            (ln for ln in lines if ln.startswith("fatal:")), lines[0] if lines else f"exit {proc.returncode}"
        )
        raise ToolError(f"git {' '.join(args[:2])} failed: {cause}")
    return proc.stdout


def remote_tags(repo: str, pattern: str = "v*.*.*-rc*") -> dict[str, str]:
    """Tag -> commit sha for tags matching `pattern`, from a path or URL (`git ls-remote --tags`).

    Annotated tags appear twice in ls-remote (the tag object and `^{}`, the commit it points
    to); the commit is what was tested, so the peeled line wins.
    """
    out = _git(["ls-remote", "--tags", repo])
    tags: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        name = ref.removeprefix("refs/tags/")
        peeled = name.endswith("^{}")
        name = name.removesuffix("^{}")
        if not fnmatch.fnmatchcase(name, pattern):
            continue
        if peeled or name not in tags:
            tags[name] = sha
    return tags


def tag_commit(repo: str, tag: str) -> str:
    commit = remote_tags(repo, pattern=tag).get(tag)
    if commit is None:
        raise InputError(
            f"tag {tag} not found in {repo}", field="rc", hint="push the tag, or check VP_GIT_REPO"
        )
    return commit


def is_local_repo(repo: str) -> bool:
    return Path(repo).is_dir()


def checkout_head(path: Path) -> str:
    """The commit checked out at `path`: what an RC that is not a git tag is (the demo's case)."""
    return _git(["rev-parse", "--verify", "HEAD^{commit}"], cwd=str(path)).strip()
