"""A real git repository made in a test: the service whose tags name release candidates."""

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def new_repo(path: Path) -> Path:
    """A repository with one commit (a.txt = "1") and a committer identity, no tags yet."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "t@example.invalid")
    git(path, "config", "user.name", "t")
    (path / "a.txt").write_text("1")
    git(path, "add", ".")
    git(path, "commit", "-qm", "one")
    return path
