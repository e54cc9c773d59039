"""The bundle's file layout: which files it holds, and which names are safe to hold.

Names are POSIX paths relative to the bundle root (`evidence/<version>/`), the same in the
manifest, in the signed subjects, in a directory, in the archive and under the S3 prefix, so
a bundle means the same thing wherever it is stored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from verification_pipeline.errors import ConfigError, PipelineError

ATTESTATIONS = "attestations.intoto.jsonl"
MANIFEST = "manifest.json"
LINEAGE = "lineage.json"
GENERATED_FILES = (LINEAGE, MANIFEST, ATTESTATIONS)
"""Written by the bundle itself; callers never supply them."""

ARCHIVE_NAME = "bundle.tar.gz"
REPORT = "report/index.html"
"""Our signed HTML report; k6's own exported dashboards sit beside it (`k6_dashboard_name`)."""
_K6_DASHBOARD = "report/k6-dashboard-{role}.html"
_K6_DASHBOARD_SEGMENT = "report/k6-dashboard-{role}-segment-{segment}.html"
# The files code reads or writes by name; every other use of a bundle path looks it up here.
SLO_METRICS = "slo/metrics.json"
SLO_BASELINE = "slo/baseline.json"
SBOM = "security/sbom.syft.json"
VULNERABILITIES = "security/vulns.grype.json"
POLICY_REPORT = "policy/opa_report.json"
POLICY_EVALUATION = "policy/evaluation.json"
"""What the policy gate judged (commit, policy and input digests, engine), when it ran in process."""
DASHBOARD = "ops/dashboards/grafana-v24-slos.json"
ALERT_RULES = "ops/alerts/slo-burn-rate.yaml"
PR_BODY = "release/PR_BODY_{version}.md"
RELEASE_NOTES = "release/RELEASE_NOTES_{version}.md"
AUTHZ_DOCUMENT = "policy/authz_under_load.json"
COST_DOCUMENT = "cost/resources.json"
_SLO_SUMMARY = "slo/{stem}.json"
_RAW_DIR = "raw/"
_RAW_SUFFIX = ".parquet"


def slo_summary_name(stem: str) -> str:
    """`slo/read.json`, `slo/write.json`, `slo/fanout.json`: one measurement's summary."""
    return _SLO_SUMMARY.replace("{stem}", stem)


def raw_name(stem: str) -> str:
    """`raw/read.parquet`, `raw/write.parquet`, `raw/fanout.parquet`: one measurement's raw rows."""
    return f"{_RAW_DIR}{stem}{_RAW_SUFFIX}"


AUTHZ_ROWS = raw_name("authz")
OVERLOAD_DOCUMENT = "slo/overload.json"
"""The overload phase's gates (issue 22): the per-tenant limit past which a tenant is shed."""
OVERLOAD_ROWS = raw_name("overload")
COST_ROWS = raw_name("cost")
# the concurrent baseline (issue 24): its rows, measured in the same run as this RC's
CONCURRENT_BASELINE_STEM = "baseline"
CONCURRENT_BASELINE_FANOUT_STEM = "baseline_fanout"


def raw_stem(name: str) -> str | None:
    """The stem ("read") of a raw measurement file (`raw/read.parquet`); None for a name that is not a raw measurement file."""
    if name.startswith(_RAW_DIR) and name.endswith(_RAW_SUFFIX):
        return name.removeprefix(_RAW_DIR).removesuffix(_RAW_SUFFIX)
    return None


def k6_dashboard_name(role: str, segment: int | None = None) -> str:
    """k6's web dashboard export for one script (and one execution segment of a split test)."""
    if segment is None:
        return _K6_DASHBOARD.replace("{role}", role)
    return _K6_DASHBOARD_SEGMENT.replace("{role}", role).replace("{segment}", str(segment))


_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
MAX_NAME_LENGTH = 512


@dataclass(frozen=True)
class CiImport:
    """CI uploads this file under `<prefix>/incoming/<rc>/<path>`; `asset`'s config `field` imports it."""

    asset: str
    field: str
    required: bool = False
    """An upload counts as complete (and starts a run) only once every required file is there."""


@dataclass(frozen=True)
class BundleFile:
    """One file of the bundle: where it goes, which asset makes it, and what it is derived from.

    `path` may hold `{version}` (`release/PR_BODY_{version}.md`), and an optional file `{segment}`
    (one file per execution segment of a split load: any number of them). A missing `required`
    file makes the bundle INCOMPLETE; a missing optional one is simply absent.
    """

    path: str
    asset: str
    derived_from: tuple[str, ...] = ()
    ci_import: CiImport | None = None
    required: bool = True

    def name(self, version: str) -> str:
        return self.path.replace("{version}", version)

    def matches(self, name: str, version: str) -> bool:
        """Whether `name` is this entry's file for `version` (any segment number where the path has one)."""
        pattern = r"\d+".join(re.escape(part) for part in self.name(version).split("{segment}"))
        return re.fullmatch(pattern, name) is not None


_RAW = tuple(raw_name(stem) for stem in ("read", "write", "fanout"))

# k6's own exports: none for an import-mode run or a test too short for k6 to draw, so optional
_K6_EXPORTS = tuple(
    BundleFile(pattern.replace("{role}", role), f"{role}_load_samples", (raw_name(role),), required=False)
    for role in ("read", "write")
    for pattern in (_K6_DASHBOARD, _K6_DASHBOARD_SEGMENT)
)

# The one table of the bundle's files: the expected files, the lineage and CI's import names
# are all read from it, so a new file is one line here.
BUNDLE_FILES: tuple[BundleFile, ...] = (
    BundleFile(slo_summary_name("read"), "slo_metrics", (raw_name("read"),), CiImport("read_load_samples", "read_files", required=True)),
    BundleFile(slo_summary_name("write"), "slo_metrics", (raw_name("write"),), CiImport("write_load_samples", "write_files", required=True)),
    BundleFile(slo_summary_name("fanout"), "slo_metrics", (raw_name("fanout"),), CiImport("fanout_latencies", "path")),
    BundleFile(SLO_METRICS, "slo_metrics", _RAW),
    BundleFile(SLO_BASELINE, "baseline_comparison", _RAW),
    BundleFile(POLICY_REPORT, "policy_report", ci_import=CiImport("policy_report", "path")),
    BundleFile(POLICY_EVALUATION, "policy_report", (POLICY_REPORT,), required=False),
    BundleFile(SBOM, "sbom", ci_import=CiImport("sbom", "path")),
    BundleFile(VULNERABILITIES, "vulnerability_report", ci_import=CiImport("vulnerability_report", "path")),
    BundleFile(DASHBOARD, "ops_artifacts"),
    BundleFile(ALERT_RULES, "ops_artifacts"),
    BundleFile(raw_name("read"), "read_load_samples"),
    BundleFile(raw_name("write"), "write_load_samples"),
    BundleFile(raw_name("fanout"), "fanout_latencies"),
    BundleFile(PR_BODY, "release_docs", (SLO_METRICS,)),
    BundleFile(RELEASE_NOTES, "release_docs", (SLO_METRICS,)),
    BundleFile(REPORT, "report", (SLO_METRICS, *_RAW)),
    # forbidden requests during the load (issue 22); optional: a bundle made before them still verifies
    BundleFile(AUTHZ_DOCUMENT, "authz_under_load", (AUTHZ_ROWS,), required=False),
    BundleFile(AUTHZ_ROWS, "authz_under_load", required=False),
    # the overload phase (issue 22); optional: a bundle made before it still verifies
    BundleFile(OVERLOAD_DOCUMENT, "overload_phase", (OVERLOAD_ROWS,), required=False),
    BundleFile(OVERLOAD_ROWS, "overload_phase", required=False),
    # cost per request (issue 22); optional, as above
    BundleFile(COST_DOCUMENT, "cost_per_request", (COST_ROWS,), required=False),
    BundleFile(COST_ROWS, "cost_per_request", required=False),
    # the concurrent baseline's raw rows (issue 24); optional: absent from older bundles
    BundleFile(raw_name(CONCURRENT_BASELINE_STEM), "concurrent_baseline_samples", required=False),
    BundleFile(raw_name(CONCURRENT_BASELINE_FANOUT_STEM), "fanout_latencies", required=False),
    *_K6_EXPORTS,
)  # fmt: skip


def expected_files(version: str) -> tuple[str, ...]:
    """The seed's layout plus what makes the evidence checkable; a missing one makes the bundle INCOMPLETE."""
    return tuple(entry.name(version) for entry in BUNDLE_FILES if entry.required)


def bundle_file(name: str, version: str) -> BundleFile | None:
    """The table's entry for a bundle file name; None for a name the layout does not know."""
    return next((entry for entry in BUNDLE_FILES if entry.matches(name, version)), None)


def by_file_name(asset: str, version: str) -> dict[str, str]:
    """`asset`'s files keyed by their name without the directory: where a renderer's output goes.

    Only files named once per bundle (no `{segment}`), e.g. `ops_artifacts`:
    {"grafana-v24-slos.json": "ops/dashboards/grafana-v24-slos.json", ...}.
    """
    return {
        PurePosixPath(name).name: name
        for entry in BUNDLE_FILES
        if entry.asset == asset and "{segment}" not in entry.path
        for name in (entry.name(version),)
    }


def is_k6_dashboard(name: str) -> bool:
    """Whether a bundle file is one of k6's own exported dashboards (any role, any segment)."""
    return any(entry.matches(name, "") for entry in _K6_EXPORTS)


def producing_assets() -> tuple[str, ...]:
    """Every asset some bundle file comes from, in table order, each once."""
    return tuple(dict.fromkeys(entry.asset for entry in BUNDLE_FILES))


def ci_imports() -> dict[str, CiImport]:
    """Bundle path -> how CI's upload of that file is imported (paths without `{version}`)."""
    return {entry.path: entry.ci_import for entry in BUNDLE_FILES if entry.ci_import is not None}


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
