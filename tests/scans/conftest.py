"""Shared helpers for the scan tests: the upstream scanner fixtures (copied from shared/fixtures/scans)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_bytes(relative: str) -> tuple[bytes, str]:
    """A fixture's bytes and the source name parsers get for it."""
    path = FIXTURES / relative
    return path.read_bytes(), str(path)
