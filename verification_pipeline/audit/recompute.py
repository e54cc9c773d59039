"""Audit a bundle: recompute slo/metrics.json from raw/*.parquet and show where every figure came from.

Verification proves the files are the ones that were signed; the audit proves the signed
figures follow from the signed raw measurements, with the same SLO code the pipeline runs.
Given the trusted public key it verifies the bundle first; without one it checks the files only
against manifest.json, which anyone can rewrite, and says so. Either way the content is read as
hostile: raw data is checked as ingestion checks it (`evidence/raw.py`), and Parquet row counts
and JSON nesting are bounded before anything large is built from them. Given the baseline RC's
bundle too, it recomputes slo/baseline.json from both bundles' raw data; with the key it
verifies the baseline bundle first, as the audited one, and names whichever does not verify.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from verification_pipeline.authz.document import recompute_authz_document
from verification_pipeline.compare.document import (
    CONCURRENT,
    SEQUENTIAL,
    Samples,
    comparison_document,
    concurrent_samples,
    regression_method_of,
)
from verification_pipeline.cost.document import recompute_cost_document
from verification_pipeline.errors import FormatError, InputError, VerificationFailed
from verification_pipeline.evidence.bundle_io import DEFAULT_LIMITS, BundleFiles, ReadLimits, read_bundle
from verification_pipeline.evidence.content import file_digest, read_document
from verification_pipeline.evidence.layout import (
    ATTESTATIONS,
    AUTHZ_DOCUMENT,
    COST_DOCUMENT,
    LINEAGE,
    MANIFEST,
    OVERLOAD_DOCUMENT,
    SLO_BASELINE,
    SLO_METRICS,
    raw_name,
)
from verification_pipeline.evidence.raw import raw_frames
from verification_pipeline.evidence.verify import TrustedKeys, VerificationReport, verify_files
from verification_pipeline.jsonio import decode_json
from verification_pipeline.slo.document import recompute_bundle_metrics
from verification_pipeline.slo.overload import recompute_overload_document
from verification_pipeline.slo.spec import SloSpec, load_slo_spec

MAX_JSON_DEPTH = 64
"""No document of ours nests deeper; comparing deeper ones would exhaust the stack."""
Recompute = Callable[[dict[str, pl.DataFrame], dict[str, Any]], dict[str, Any]]
"""(raw frames keyed by stem ("read", "write", "fanout"), the recorded document) -> the document again."""


class MetricDifference(NamedTuple):
    """One figure the signed document and the recomputation disagree on."""

    field: str
    """Where in the document: `slos[0].p95_ms`, `phases[1].reasons[0]`, `(length)` for a list."""
    recorded: Any
    """As signed."""
    recomputed: Any
    """As recomputed from the raw rows."""


@dataclass(frozen=True)
class AuditReport:
    source: str
    raw_rows: Mapping[str, int]
    differences: tuple[MetricDifference, ...]
    lineage: Mapping[str, Any]
    verification: VerificationReport | None
    """The verified signature, or None when no trusted key was given (the files are then unproven)."""
    baseline_differences: tuple[MetricDifference, ...] | None = None
    """slo/baseline.json against its recomputation; None when no baseline bundle was given."""
    baseline_verification: VerificationReport | None = None
    """The baseline bundle's verified signature (with a key and a baseline bundle)."""

    @property
    def matches(self) -> bool:
        return not self.differences and not self.baseline_differences


def audit_path(
    path: Path,
    *,
    baseline: Path | None = None,
    recompute: Recompute | None = None,
    public_key: TrustedKeys | None = None,
    rel_tol: float = 1e-9,
    abs_tol: float = 1e-6,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> AuditReport:
    """Audit the bundle at `path`; with `baseline` (the baseline RC's bundle), its comparison too.

    With a key, both bundles are verified before anything is recomputed from either, and a
    bundle that does not verify is named: "baseline bundle ..." or "audited bundle ...".
    """
    read = read_bundle(path, limits)
    label = "audited bundle" if baseline is not None else "bundle"
    verification = _verified(read, public_key, f"{label} {path}")
    report = audit_files(
        read.files,
        source=str(path),
        recompute=recompute,
        rel_tol=rel_tol,
        abs_tol=abs_tol,
        verification=verification,
    )
    if baseline is None:
        # a concurrent comparison (issue 24) holds both sides' rows: recomputed from this bundle alone
        concurrent = audit_concurrent_comparison(read.files, rel_tol=rel_tol, abs_tol=abs_tol)
        return report if concurrent is None else dataclasses.replace(report, baseline_differences=concurrent)
    base = read_bundle(baseline, limits)
    base_verification = _verified(base, public_key, f"baseline bundle {baseline}")
    differences = audit_comparison(
        read.files,
        base.files,
        source=str(baseline),
        rel_tol=rel_tol,
        abs_tol=abs_tol,
        baseline_verification=base_verification,
    )
    return dataclasses.replace(
        report, baseline_differences=differences, baseline_verification=base_verification
    )


def _verified(read: BundleFiles, public_key: TrustedKeys | None, label: str) -> VerificationReport | None:
    """The bundle's verification, failing with the bundle named; None without a trusted key."""
    if public_key is None:
        return None
    source = label.split(" ", 2)[-1]
    try:
        return verify_files(read.files, public_key, source=source, root_version=read.root_version)
    except VerificationFailed as exc:
        message = exc.message.removeprefix(f"{source}: ")
        raise VerificationFailed(f"{label}: {message}", hint=exc.hint) from None


def audit_concurrent_comparison(
    files: Mapping[str, bytes], *, rel_tol: float = 1e-9, abs_tol: float = 1e-6
) -> tuple[MetricDifference, ...] | None:
    """slo/baseline.json of the concurrent design recomputed from this bundle's own raw rows (this
    RC's and the baseline deployment's, measured side by side); None for any other comparison."""
    if SLO_BASELINE not in files:
        return None
    try:
        recorded = _json_object(read_document(files, SLO_BASELINE), SLO_BASELINE)
    except FormatError:
        return None  # not a comparison this audit recomputes alone (`audit --baseline` reads it strictly)
    if recorded.get("design") != CONCURRENT or not isinstance(recorded.get("baseline"), dict):
        return None
    metrics = _json_object(read_document(files, SLO_METRICS), SLO_METRICS) if SLO_METRICS in files else {}
    spec = _recorded_spec(metrics)
    own = _named_frames(files, "audited bundle")
    recomputed = comparison_document(
        spec,
        rc=str(recorded.get("rc")),
        current=Samples.from_frames(own, metrics),
        baseline=concurrent_samples(own, metrics),
        baseline_info=recorded["baseline"],
        design=CONCURRENT,
        regression_method=regression_method_of(recorded, SLO_BASELINE),
    )
    recomputed = json.loads(json.dumps(recomputed, default=str))
    return tuple(_differences(recorded, recomputed, "", rel_tol, abs_tol))


def audit_comparison(
    files: Mapping[str, bytes],
    baseline_files: Mapping[str, bytes],
    *,
    source: str = "baseline bundle",
    rel_tol: float = 1e-9,
    abs_tol: float = 1e-6,
    baseline_verification: VerificationReport | None = None,
) -> tuple[MetricDifference, ...]:
    """Recompute slo/baseline.json from both bundles' raw data and the recorded slos.yaml; the differences.

    `baseline_verification`: the baseline bundle's verified signature; without it its files are
    checked only against its own manifest, which proves nothing.
    """
    given = _baseline_release(baseline_files, source, baseline_verification)
    if SLO_BASELINE not in files:
        raise InputError(f"the bundle has no {SLO_BASELINE} to audit", source=SLO_BASELINE)
    recorded = _json_object(read_document(files, SLO_BASELINE), SLO_BASELINE)
    info = recorded.get("baseline")
    if not isinstance(info, dict):
        return (MetricDifference("status", recorded.get("status"), f"compared with {given.get('tag')}"),)
    if (info.get("rc"), info.get("commit") or "") != (given.get("tag"), given.get("commit") or ""):
        raise InputError(
            f"{SLO_BASELINE} compares with {info.get('rc')} (commit {info.get('commit') or 'not recorded'}), "
            f"but this bundle is {given.get('tag')} (commit {given.get('commit') or 'not recorded'})",
            source=source,
            hint=f"pass the bundle of {info.get('rc')}: {info.get('bundle_uri')}"
            if info.get("bundle_uri")
            else f"{info.get('rc')} was measured beside it (concurrent design): both sides' rows are in "
            "this bundle; audit it without --baseline",
        )
    metrics = _json_object(read_document(files, SLO_METRICS), SLO_METRICS) if SLO_METRICS in files else {}
    spec = _recorded_spec(metrics)
    own = _named_frames(files, "audited bundle")
    design = recorded.get("design") or SEQUENTIAL
    recomputed = comparison_document(
        spec,
        rc=str(recorded.get("rc")),
        current=Samples.from_frames(own, metrics),
        # concurrent (issue 24): the baseline was measured in this run, its rows are in this bundle
        baseline=concurrent_samples(own, metrics)
        if design == CONCURRENT
        else Samples.from_frames(
            _named_frames(baseline_files, f"baseline bundle {source}"),
            _json_object(read_document(baseline_files, SLO_METRICS), SLO_METRICS)
            if SLO_METRICS in baseline_files
            else {},
        ),
        baseline_info=info,
        design=str(design),
        regression_method=regression_method_of(recorded, SLO_BASELINE),
    )
    if "design" not in recorded:  # made before the field: sequential, and not signed as such
        recomputed.pop("design", None)
    recomputed = json.loads(json.dumps(recomputed, default=str))
    return tuple(_differences(recorded, recomputed, "", rel_tol, abs_tol))


def _baseline_release(
    baseline_files: Mapping[str, bytes], source: str, verification: VerificationReport | None
) -> dict[str, Any]:
    """The baseline bundle's release candidate: from its verified signature, else from its own
    manifest once its files are checked against it (which proves nothing)."""
    if verification is not None:
        return dict(verification.release_candidate)
    _check_against_manifest(baseline_files, source=f"baseline bundle {source}")
    manifest = _json_object(read_document(baseline_files, MANIFEST), MANIFEST)
    given = manifest.get("releaseCandidate") or {}
    return given if isinstance(given, dict) else {}


def _recorded_spec(metrics: Mapping[str, Any]) -> SloSpec:
    """The slos.yaml the bundle's figures were computed with (signed in slo/metrics.json)."""
    spec_doc = metrics.get("spec") or {}
    return load_slo_spec(
        str(spec_doc.get("yaml", "")).encode(), source=str(spec_doc.get("source", "slos.yaml"))
    )


def _named_frames(files: Mapping[str, bytes], bundle: str) -> dict[str, pl.DataFrame]:
    """raw_frames, with a refused file named by the bundle it is in (two bundles are read here)."""
    try:
        return raw_frames(files)
    except FormatError as exc:
        raise FormatError(
            exc.message.removeprefix(f"{exc.source}: "), source=f"{bundle}: {exc.source}", hint=exc.hint
        ) from None


def _as_stored(document: Mapping[str, Any]) -> Any:
    """Through JSON once, so tuples, numpy scalars and dates compare as the file stores them."""
    return json.loads(json.dumps(document, default=str))


@dataclass(frozen=True)
class _SideDocument:
    """A bundle document beside slo/metrics.json that is recomputed from its own raw rows and its
    recorded inputs."""

    name: str
    rows: str
    """The raw frame it is made from (raw/<rows>.parquet)."""
    recompute: Callable[[pl.DataFrame, Mapping[str, Any]], dict[str, Any]]
    rows_optional: bool = False
    """A document that says it was not measured (`measured` false) has no raw rows."""

    def differences(
        self,
        files: Mapping[str, bytes],
        frames: Mapping[str, pl.DataFrame],
        source: str,
        rel_tol: float,
        abs_tol: float,
    ) -> tuple[MetricDifference, ...]:
        recorded = _json_object(files[self.name], self.name)
        rows = frames.get(self.rows)
        if rows is None and not (self.rows_optional and not recorded.get("measured")):
            raise InputError(f"{self.name} is in the bundle but its raw rows are not", source=source)
        again = _as_stored(self.recompute(rows if rows is not None else pl.DataFrame(), recorded))
        return tuple(_differences(recorded, again, self.name, rel_tol, abs_tol))


_SIDE_DOCUMENTS = (
    # policy/authz_under_load.json from raw/authz.parquet: counts, verdict and leak bound
    _SideDocument(AUTHZ_DOCUMENT, "authz", recompute_authz_document),
    # slo/overload.json from raw/overload.parquet and its recorded inputs: rates, bounds, gates
    _SideDocument(OVERLOAD_DOCUMENT, "overload", recompute_overload_document, rows_optional=True),
    # cost/resources.json from raw/cost.parquet: per phase and source the figures, the comparison, the verdict
    _SideDocument(COST_DOCUMENT, "cost", recompute_cost_document),
)


def audit_files(
    files: Mapping[str, bytes],
    *,
    source: str = "bundle",
    recompute: Recompute | None = None,
    rel_tol: float = 1e-9,
    abs_tol: float = 1e-6,
    verification: VerificationReport | None = None,
) -> AuditReport:
    """Recompute and compare. Numbers match within `abs_tol` (ms) or `rel_tol`; anything else exactly.

    `verification`: the report of `verify_files` on these same files, when the caller verified them.
    """
    _check_against_manifest(files, source=source)
    if SLO_METRICS not in files:
        raise InputError(f"the bundle has no {SLO_METRICS} to audit", source=source)
    recorded = _json_object(read_document(files, SLO_METRICS), SLO_METRICS)
    lineage = _lineage(read_document(files, LINEAGE)) if LINEAGE in files else {}
    frames = raw_frames(files)
    if not frames:
        raise InputError(f"the bundle has no {raw_name('*')} measurements to recompute from", source=source)
    recomputed = _as_stored((recompute or recompute_bundle_metrics)(frames, recorded))
    differences = tuple(_differences(recorded, recomputed, "", rel_tol, abs_tol))
    for document in _SIDE_DOCUMENTS:
        if document.name in files:
            differences += document.differences(files, frames, source, rel_tol, abs_tol)
    return AuditReport(
        source=source,
        raw_rows={name: frame.height for name, frame in frames.items()},
        differences=differences,
        lineage=lineage,
        verification=verification,
    )


def lineage_lines(lineage: Mapping[str, Any]) -> list[str]:
    """inputs -> outputs, with digests and the run that made each; for people, not machines."""
    rc = lineage.get("releaseCandidate") or {}
    lines = [
        f"lineage of {rc.get('tag', '?')} (commit {rc.get('commit', '?')}), run {lineage.get('runId', '?')}"
    ]
    lines.append("inputs:")
    for item in lineage.get("inputs", []):
        digest = item.get("digest")
        sha = str(digest.get("sha256", "")) if isinstance(digest, Mapping) else ""
        lines.append(f"  {item.get('name')}  {('sha256:' + sha[:16]) if sha else item.get('uri', '')}")
    lines.append("outputs:")
    for item in lineage.get("outputs", []):
        derived = item.get("derivedFrom")
        origin = " <- " + ", ".join(map(str, derived)) if isinstance(derived, list) and derived else ""
        run = f"  [run {item['runId']}]" if item.get("runId") else ""
        lines.append(f"  {item.get('name')}  sha256:{str(item.get('sha256', ''))[:16]}{origin}{run}")
    return lines


def _check_against_manifest(files: Mapping[str, bytes], *, source: str) -> None:
    # Auditing files that are not the ones the manifest lists would prove nothing.
    if MANIFEST not in files:
        raise InputError(f"the bundle has no {MANIFEST}", source=f"{source}: {MANIFEST}")
    manifest = _json_object(read_document(files, MANIFEST), MANIFEST)
    entries = manifest.get("files")
    if not isinstance(entries, list) or not all(
        isinstance(e, Mapping) and isinstance(e.get("name"), str) and isinstance(e.get("sha256"), str)
        for e in entries
    ):
        raise FormatError("'files' is not a list of {name, sha256} objects", source=f"{source}: {MANIFEST}")
    listed = {e["name"]: e["sha256"] for e in entries}
    for name in sorted(files):
        if name in (MANIFEST, ATTESTATIONS):
            continue
        if name not in listed:
            raise VerificationFailed(f"{source}: {name}: not listed in {MANIFEST}", hint="run `verify` first")
        if file_digest(files, name, "sha256") != listed[name]:
            raise VerificationFailed(
                f"{source}: {name}: does not match its sha256 in {MANIFEST}", hint="run `verify` first"
            )


def _differences(
    recorded: Any, recomputed: Any, path: str, rel_tol: float, abs_tol: float
) -> Iterator[MetricDifference]:
    if isinstance(recorded, dict) and isinstance(recomputed, dict):
        for key in sorted(set(recorded) | set(recomputed)):
            here = f"{path}.{key}" if path else str(key)
            if key not in recorded or key not in recomputed:
                yield MetricDifference(here, recorded.get(key), recomputed.get(key))
            else:
                yield from _differences(recorded[key], recomputed[key], here, rel_tol, abs_tol)
    elif isinstance(recorded, list) and isinstance(recomputed, list):
        if len(recorded) != len(recomputed):
            yield MetricDifference(f"{path} (length)", len(recorded), len(recomputed))
        # a length difference is reported above; the common prefix is still compared item by item
        for index, (a, b) in enumerate(zip(recorded, recomputed, strict=False)):
            yield from _differences(a, b, f"{path}[{index}]", rel_tol, abs_tol)
    elif _is_number(recorded) and _is_number(recomputed):
        if not _close(float(recorded), float(recomputed), rel_tol, abs_tol):
            yield MetricDifference(path, recorded, recomputed)
    elif (
        _is_reason(path)
        and isinstance(recorded, str)
        and isinstance(recomputed, str)
        and same_reason(recorded, recomputed)
    ):
        return
    elif recorded != recomputed:
        yield MetricDifference(path, recorded, recomputed)


# A number as a reason writes it: digits, a fraction, an exponent.
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?")


def _is_reason(path: str) -> bool:
    """`slos[0].reason`, `...phases[0].reasons[1]`: the sentences written for people."""
    last = path.rsplit(".", 1)[-1]
    return last == "reason" or last.startswith("reasons[")


def same_reason(recorded: str, recomputed: str) -> bool:
    """Whether two reasons say the same, each number read at the precision it is written with.

    A reason is text for people, written from the signed figures (which are compared on their
    own at full precision). How many digits it shows may change between releases (an effective
    n of "10.0165" is now "10"), and a bundle signed before must still audit: the words must be
    identical, and each pair of numbers must agree to within half a unit of the last digit of the
    one written with fewer.
    """
    if _NUMBER.sub("#", recorded) != _NUMBER.sub("#", recomputed):
        return False
    pairs = zip(_NUMBER.findall(recorded), _NUMBER.findall(recomputed), strict=True)
    return all(a == b or _within_last_digit(a, b) for a, b in pairs)


def _within_last_digit(a: str, b: str) -> bool:
    unit = max(_last_digit_unit(a), _last_digit_unit(b))
    return abs(Decimal(a) - Decimal(b)) <= unit / 2


def _last_digit_unit(text: str) -> Decimal:
    exponent = Decimal(text).as_tuple().exponent
    return Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _close(a: float, b: float, rel_tol: float, abs_tol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def _json_object(data: bytes, name: str) -> dict[str, Any]:
    value = decode_json(data, name, expected="a JSON object")
    if not isinstance(value, dict):
        raise FormatError(f"holds a JSON {type(value).__name__}, not an object", source=name)
    if _depth(value) > MAX_JSON_DEPTH:
        raise FormatError(f"nested more than {MAX_JSON_DEPTH} levels deep", source=name)
    return value


def _lineage(data: bytes) -> dict[str, Any]:
    lineage = _json_object(data, LINEAGE)
    for field in ("inputs", "outputs"):
        entries = lineage.get(field, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise FormatError("not a list of objects", source=LINEAGE, field=field)
    if not isinstance(lineage.get("releaseCandidate", {}), dict):
        raise FormatError("not an object", source=LINEAGE, field="releaseCandidate")
    return lineage


def _depth(value: Any) -> int:
    """Nesting depth, without recursion (the document may be hostile)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest
