"""Vulnerable packages the SBOM does not list: a sign the SBOM and the scan saw different things.

A package is in the SBOM when its purl identity (type/namespace/name@version) or its name and
version match a component. Versions are compared with any rpm/deb epoch (`1:`) removed, since
scanners disagree on whether to print it.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from verification_pipeline.scans.purl import purl_identity
from verification_pipeline.scans.schemas import frame, schema

MISSING_SCHEMA = schema(
    {
        "package": pl.Utf8,
        "version": pl.Utf8,
        "package_type": pl.Utf8,
        "purl": pl.Utf8,
        "vulnerability_ids": pl.List(pl.Utf8),
    }
)


def _without_epoch(version: str | None) -> str:
    if not version:
        return ""
    head, sep, rest = version.partition(":")
    return rest if sep and head.isdigit() else version


def _name_key(name: str | None, version: str | None) -> tuple[str, str]:
    return ((name or "").casefold(), _without_epoch(version))


def _purl_key(purl: str | None) -> str | None:
    identity = purl_identity(purl)
    if identity is None:
        return None
    # the epoch sometimes sits in the version part of the purl, sometimes in a qualifier
    head, _, version = identity.rpartition("@")
    return f"{head}@{_without_epoch(version)}".casefold() if head else identity.casefold()


def missing_from_sbom(vulnerabilities: pl.DataFrame, components: pl.DataFrame) -> pl.DataFrame:
    """One row per vulnerable package (package, version, type, purl) absent from the SBOM."""
    purls = {found for p in components["purl"].to_list() if (found := _purl_key(p))}
    names = {
        _name_key(n, v)
        for n, v in zip(components["name"].to_list(), components["version"].to_list(), strict=True)
    }
    missing: dict[tuple[str, str], dict[str, Any]] = {}
    for row in vulnerabilities.iter_rows(named=True):
        if row["package"] is None:
            continue  # a SARIF finding that is not about a package
        key = _name_key(row["package"], row["version"])
        purl_key = _purl_key(row["purl"])
        if key in names or (purl_key is not None and purl_key in purls):
            continue
        entry = missing.setdefault(
            key,
            {
                "package": row["package"],
                "version": row["version"],
                "package_type": row["package_type"],
                "purl": row["purl"],
                "vulnerability_ids": [],
            },
        )
        if row["id"] not in entry["vulnerability_ids"]:
            entry["vulnerability_ids"].append(row["id"])
    return frame(missing.values(), MISSING_SCHEMA)
