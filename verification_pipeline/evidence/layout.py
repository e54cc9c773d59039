"""The bundle's file layout: which files it holds, and which names are safe to hold.

Names are POSIX paths relative to the bundle root (`evidence/<version>/`), the same in the
manifest, in the signed subjects, in a directory, in the archive and under the S3 prefix, so
a bundle means the same thing wherever it is stored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from verification_pipeline.errors import ConfigError, PipelineError

ATTESTATIONS = "attestations.intoto.jsonl"
MANIFEST = "manifest.json"
LINEAGE = "lineage.json"
GENERATED_FILES = (LINEAGE, MANIFEST, ATTESTATIONS)
"""Written by the bundle itself; callers never supply them."""

ARCHIVE_NAME = "bundle.tar.gz"
REPORT = "report/index.html"
"""Our signed HTML report; k6's own exported dashboards sit beside it (`k6_dashboard_name`)."""


def k6_dashboard_name(role: str, segment: int | None = None) -> str:
    """k6's web dashboard export for one script (and one execution segment of a split test)."""
    return (
        f"report/k6-dashboard-{role}.html"
        if segment is None
        else f"report/k6-dashboard-{role}-segment-{segment}.html"
    )


_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
MAX_NAME_LENGTH = 512


def expected_files(version: str) -> tuple[str, ...]:
    """The seed's layout plus what makes the evidence checkable; a missing one makes the bundle INCOMPLETE."""
    return (
        "slo/read.json",
        "slo/write.json",
        "slo/fanout.json",
        "slo/metrics.json",
        "policy/opa_report.json",
        "security/sbom.syft.json",
        "security/vulns.grype.json",
        "ops/dashboards/grafana-v24-slos.json",
        "ops/alerts/slo-burn-rate.yaml",
        "raw/read.parquet",
        "raw/write.parquet",
        "raw/fanout.parquet",
        f"release/PR_BODY_{version}.md",
        f"release/RELEASE_NOTES_{version}.md",
        REPORT,
    )


def bundle_root(version: str) -> str:
    return f"evidence/{version}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_segment(value: str, field: str) -> str:
    """An RC tag, version or run id that becomes one segment of a path or an S3 key."""
    if not _SEGMENT.match(value) or ".." in value or len(value) > 200:
        raise ConfigError(
            f"{value!r} cannot be a path segment",
            field=field,
            hint="use letters, digits and . _ + - only, starting with a letter or digit",
        )
    return value


def check_relative_name(name: str, fail: Callable[[str], PipelineError]) -> str:
    """A file name inside the bundle that cannot point outside it; `fail` builds the error to raise."""
    if not name or len(name) > MAX_NAME_LENGTH:
        raise fail(f"{name[:80]!r}: a bundle file name must be 1..{MAX_NAME_LENGTH} characters")
    if "\\" in name or "\x00" in name or name.startswith("/"):
        raise fail(f"{name!r}: not a relative POSIX path")
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise fail(f"{name!r}: empty, '.' or '..' path segment")
    return name
