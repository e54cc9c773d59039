"""Audit a bundle: recompute slo/metrics.json from raw/*.parquet and show where every figure came from.

Verification proves the files are the ones that were signed; the audit proves the signed
figures follow from the signed raw measurements, with the same SLO code the pipeline runs.
Given the trusted public key it verifies the bundle first; without one it checks the files only
against manifest.json, which anyone can rewrite, and says so. Either way the content is read as
hostile: raw data is checked as ingestion checks it, and Parquet row counts and JSON nesting
are bounded before anything large is built from them.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verification_pipeline.errors import FormatError, InputError, VerificationFailed
from verification_pipeline.evidence.bundle_io import DEFAULT_LIMITS, ReadLimits, read_bundle
from verification_pipeline.evidence.layout import ATTESTATIONS, LINEAGE, MANIFEST, sha256_hex
from verification_pipeline.evidence.verify import VerificationReport, verify_files
from verification_pipeline.fanout.accounting import DELIVERY_SCHEMA
from verification_pipeline.jsonio import decode_json
from verification_pipeline.loadtest.ingest import SAMPLE_SCHEMA
from verification_pipeline.slo.document import recompute_bundle_metrics

METRICS_FILE = "slo/metrics.json"
RAW_PREFIX = "raw/"
RAW_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "read": SAMPLE_SCHEMA,
    "write": SAMPLE_SCHEMA,
    "fanout": DELIVERY_SCHEMA,
}
"""The raw measurements a bundle holds (raw/<stem>.parquet), each in the schema the pipeline writes."""
DURATION_COLUMNS = ("latency_ms", "ingest_ms")
"""Milliseconds: null where nothing was measured (a dropped iteration, a lost event), else finite and >= 0."""
MAX_RAW_ROWS = 20_000_000
"""Rows per raw file: a 3-minute seed run holds ~10^5; the cap stops a tiny file that claims
hundreds of millions of rows from being expanded in memory."""
_UNREADABLE_PARQUET = (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError)
"""What polars raises on a corrupt file; a crafted footer can make its reader panic."""
MAX_JSON_DEPTH = 64
"""No document of ours nests deeper; comparing deeper ones would exhaust the stack."""
Recompute = Callable[[dict[str, pl.DataFrame], dict[str, Any]], dict[str, Any]]
"""(raw frames keyed by stem ("read", "write", "fanout"), the recorded document) -> the document again."""


@dataclass(frozen=True)
class MetricDifference:
    field: str
    recorded: Any
    recomputed: Any


@dataclass(frozen=True)
class AuditReport:
    source: str
    raw_rows: Mapping[str, int]
    differences: tuple[MetricDifference, ...]
    lineage: Mapping[str, Any]
    verification: VerificationReport | None
    """The verified signature, or None when no trusted key was given (the files are then unproven)."""

    @property
    def matches(self) -> bool:
        return not self.differences


def audit_path(
    path: Path,
    *,
    recompute: Recompute | None = None,
    public_key: Ed25519PublicKey | None = None,
    rel_tol: float = 1e-9,
    abs_tol: float = 1e-6,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> AuditReport:
    read = read_bundle(path, limits)
    verification = (
        verify_files(read.files, public_key, source=str(path), root_version=read.root_version)
        if public_key is not None
        else None
    )
    return audit_files(
        read.files,
        source=str(path),
        recompute=recompute,
        rel_tol=rel_tol,
        abs_tol=abs_tol,
        verification=verification,
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
    _check_against_manifest(files)
    if METRICS_FILE not in files:
        raise InputError("the bundle has no slo/metrics.json to audit", source=source)
    recorded = _json_object(files[METRICS_FILE], METRICS_FILE)
    lineage = _lineage(files[LINEAGE]) if LINEAGE in files else {}
    frames = {
        name.removeprefix(RAW_PREFIX).removesuffix(".parquet"): _raw_frame(files[name], name)
        for name in sorted(files)
        if name.startswith(RAW_PREFIX) and name.endswith(".parquet")
    }
    if not frames:
        raise InputError("the bundle has no raw/*.parquet measurements to recompute from", source=source)
    recomputed = (recompute or recompute_bundle_metrics)(frames, recorded)
    # Through JSON once, so tuples, numpy scalars and dates compare as the file stores them.
    recomputed = json.loads(json.dumps(recomputed, default=str))
    differences = tuple(_differences(recorded, recomputed, "", rel_tol, abs_tol))
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


def _check_against_manifest(files: Mapping[str, bytes]) -> None:
    # Auditing files that are not the ones the manifest lists would prove nothing.
    if MANIFEST not in files:
        raise InputError("the bundle has no manifest.json", source=MANIFEST)
    manifest = _json_object(files[MANIFEST], MANIFEST)
    entries = manifest.get("files")
    if not isinstance(entries, list) or not all(
        isinstance(e, Mapping) and isinstance(e.get("name"), str) and isinstance(e.get("sha256"), str)
        for e in entries
    ):
        raise FormatError("'files' is not a list of {name, sha256} objects", source=MANIFEST)
    listed = {e["name"]: e["sha256"] for e in entries}
    for name in sorted(files):
        if name in (MANIFEST, ATTESTATIONS):
            continue
        if name not in listed:
            raise VerificationFailed(f"{name}: not listed in manifest.json", hint="run `verify` first")
        if sha256_hex(files[name]) != listed[name]:
            raise VerificationFailed(
                f"{name}: does not match its sha256 in manifest.json", hint="run `verify` first"
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
        for index, (a, b) in enumerate(zip(recorded, recomputed)):
            yield from _differences(a, b, f"{path}[{index}]", rel_tol, abs_tol)
    elif _is_number(recorded) and _is_number(recomputed):
        if not _close(float(recorded), float(recomputed), rel_tol, abs_tol):
            yield MetricDifference(path, recorded, recomputed)
    elif recorded != recomputed:
        yield MetricDifference(path, recorded, recomputed)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _close(a: float, b: float, rel_tol: float, abs_tol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def _raw_frame(data: bytes, name: str) -> pl.DataFrame:
    """A raw measurement file, refused (naming it) unless it is what the pipeline writes:
    its schema, at most MAX_RAW_ROWS rows (read from the footer before any row), durations
    that are durations."""
    stem = name.removeprefix(RAW_PREFIX).removesuffix(".parquet")
    schema = RAW_SCHEMAS.get(stem)
    if schema is None:
        raise FormatError(
            f"not a raw measurement this pipeline records (expected one of "
            f"{', '.join(f'raw/{s}.parquet' for s in RAW_SCHEMAS)})",
            source=name,
        )
    try:
        found = pl.read_parquet_schema(io.BytesIO(data))
        rows = pl.scan_parquet(io.BytesIO(data)).select(pl.len()).collect().item()
    except _UNREADABLE_PARQUET as exc:
        raise FormatError(f"not a readable Parquet file ({type(exc).__name__})", source=name) from None
    if dict(found) != dict(schema):
        raise FormatError(
            f"columns {_schema_text(found)} are not the raw schema {_schema_text(schema)}", source=name
        )
    if rows > MAX_RAW_ROWS:
        raise FormatError(f"{rows:,} rows is over the {MAX_RAW_ROWS:,}-row limit per raw file", source=name)
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except _UNREADABLE_PARQUET as exc:
        raise FormatError(f"not a readable Parquet file ({type(exc).__name__})", source=name) from None
    for column in DURATION_COLUMNS:
        if column not in frame.columns:
            continue
        value = pl.col(column)
        bad = frame.with_row_index("row").filter(value.is_nan() | value.is_infinite() | (value < 0))
        if bad.height:
            raise FormatError(
                f"row {bad['row'][0]}: {column} {bad[column][0]!r} is not a duration "
                "(negative, NaN or infinite milliseconds)",
                source=name,
                hint="ingestion refuses such points; this file was not written by the pipeline",
            )
    return frame


def _schema_text(schema: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in schema.items()) + "}"


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
