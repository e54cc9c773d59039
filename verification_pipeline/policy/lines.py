"""The policies of each release line: `lines.yaml` (the package's, or one named by VP_POLICY_LINES).

`policy_for_line("v24.1")` says which Rego policies the policy gate evaluates on which files of the
RC's commit, and which release policy `release_decision` judges the verified bundle with. A line
not listed takes `default`, and a field a line leaves out takes the default's. Every path is
checked when the file is read, so a typo fails naming the file, line and field, not later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pydantic

from verification_pipeline.config_files import load_yaml_with_lines, validate
from verification_pipeline.errors import ConfigError
from verification_pipeline.fileio import CONFIG_MAX_BYTES, read_capped

PACKAGED = Path(__file__).resolve().parent / "lines.yaml"
_LINE = re.compile(r"^v[0-9]{1,9}\.[0-9]{1,9}$")


class _Entry(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    policy_dir: str | None = pydantic.Field(default=None, min_length=1, max_length=1024)
    files: list[str] | None = pydantic.Field(default=None, min_length=1, max_length=100)
    namespaces: list[str] | None = pydantic.Field(default=None, min_length=1, max_length=100)
    release_policy: str | None = pydantic.Field(default=None, max_length=1024)


class _Default(_Entry):
    policy_dir: str = pydantic.Field(min_length=1, max_length=1024)
    files: list[str] = pydantic.Field(min_length=1, max_length=100)
    namespaces: list[str] = pydantic.Field(default_factory=lambda: ["main"], min_length=1, max_length=100)
    release_policy: str = pydantic.Field(default="", max_length=1024)


class _File(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    version: int = pydantic.Field(ge=1, le=1)
    default: _Default
    lines: dict[str, _Entry] = pydantic.Field(default_factory=dict, max_length=1000)


@dataclass(frozen=True)
class LinePolicy:
    """What one release line's policies are, with where the answer came from."""

    line: str
    policy_dir: Path
    files: tuple[str, ...]
    namespaces: tuple[str, ...]
    release_policy: Path | None
    source: str
    """`lines.yaml lines.v24.1` or `lines.yaml default`: which entry said so."""


def policy_for_line(line: str, path: Path | None = None) -> LinePolicy:
    """The policies of release line `line` (`v24.1`), from `path` (default the package's lines.yaml)."""
    path = path or PACKAGED
    if not _LINE.match(line):
        raise ConfigError(
            f"'{line[:40]}' is not a release line", field="line", hint="vMAJOR.MINOR, e.g. v24.1"
        )
    name = str(path)
    loaded = load_yaml_with_lines(
        read_capped(path, limit=CONFIG_MAX_BYTES, what="the policy lines file", error=ConfigError),
        source=name,
    )
    table = validate(_File, loaded.document, source=name, lines=loaded.lines)
    for key in table.lines:
        if not _LINE.match(key):
            raise ConfigError(
                f"'{key[:40]}' is not a release line",
                source=name,
                line=loaded.lines.of(("lines", key)),
                field=f"lines.{key[:40]}",
                hint="vMAJOR.MINOR, e.g. v24.1",
            )
    entry = table.lines.get(line)
    where = ("lines", line) if entry is not None else ("default",)
    entry = entry or _Entry()
    base = path.resolve().parent

    def located(value: str, field: str) -> Path:
        found = (base / value).resolve() if not Path(value).is_absolute() else Path(value)
        from_entry = getattr(entry, field) is not None
        if not found.exists():
            key = (*where, field) if from_entry else ("default", field)
            raise ConfigError(
                f"{field} {value}: no such file or directory",
                source=name,
                line=loaded.lines.of(key),
                field=".".join(str(k) for k in key),
            )
        return found

    release = entry.release_policy if entry.release_policy is not None else table.default.release_policy
    return LinePolicy(
        line=line,
        policy_dir=located(entry.policy_dir or table.default.policy_dir, "policy_dir"),
        files=tuple(entry.files or table.default.files),
        namespaces=tuple(entry.namespaces or table.default.namespaces),
        release_policy=located(release, "release_policy") if release else None,
        source=f"{path.name} {'.'.join(where)}",
    )
