"""What a format parser hands back: the tool that wrote the report and the tables it holds."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Parsed:
    tool: str
    tool_version: str | None = None
    components: pl.DataFrame | None = None
    vulnerabilities: pl.DataFrame | None = None
    policies: pl.DataFrame | None = None


def known_version(version: str | None) -> str | None:
    """A tool version, or None where the tool wrote a placeholder (dev builds print "[not provided]")."""
    return None if not version or version == "[not provided]" else version
