"""Which RC this one is compared with, and its raw data, taken only from a bundle that verifies.

The baseline is the most recent earlier RC of the same release line (same `vMAJOR.MINOR`, the
bundle's version: `v24.1.0-rc2` -> `v24.1.0-rc1`, `v24.1.1-rc1` -> `v24.1.0-rcN`) whose signed
bundle verifies with the trusted key, or an RC named explicitly. Where a candidate's bundle is
(a pointer in the store, a Dagster record) only says where to look, and both must agree: its
figures come from the bundle's signed `raw/*.parquet`, after `verify_files` accepted it for that
RC, stored under its own version and run, with a signed PASS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verification_pipeline.errors import PipelineError, VerificationFailed
from verification_pipeline.evidence.bundle_io import root_version_of
from verification_pipeline.evidence.content import read_document
from verification_pipeline.evidence.layout import SLO_METRICS
from verification_pipeline.evidence.raw import raw_frames
from verification_pipeline.evidence.verify import verify_files
from verification_pipeline.release.tags import is_rc, parse_rc
from verification_pipeline.verdict import Verdict


@dataclass(frozen=True)
class VerifiedBaseline:
    """A baseline RC whose bundle verified: where it is, what it says, and its raw rows."""

    rc: str
    bundle_uri: str
    commit: str
    bundle_verdict: str
    key_fingerprint: str
    frames: Mapping[str, pl.DataFrame] = field(repr=False)
    metrics: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """Its signed slo/metrics.json (the measurement health the comparison weighs)."""

    def info(self) -> dict[str, Any]:
        """The `baseline` block of slo/baseline.json."""
        return {
            "rc": self.rc,
            "bundle_uri": self.bundle_uri,
            "commit": self.commit,
            "verified": True,
            "bundle_verdict": self.bundle_verdict,
            "key_fingerprint": self.key_fingerprint,
        }


@dataclass(frozen=True)
class BaselineSearch:
    """The baseline found (or None), and every candidate passed over with why: nothing is skipped silently."""

    baseline: VerifiedBaseline | None
    passed_over: tuple[str, ...]

    def reason(self, rc: str) -> str:
        if self.baseline is not None:
            return f"baseline {self.baseline.rc}"
        if not self.passed_over:
            return f"no earlier RC of the release line of {rc} is known: there is nothing to compare with"
        return f"no earlier RC of the release line of {rc} has a bundle that verifies ({'; '.join(self.passed_over)})"


def earlier_in_line(rc: str, known: Iterable[str]) -> list[str]:
    """RCs of the same release line before `rc`, newest first."""
    current = parse_rc(rc)
    return [
        c.tag
        for c in sorted((parse_rc(tag) for tag in set(known) if is_rc(tag)), reverse=True)
        if c.version == current.version and c < current
    ]


def verified_baseline(
    candidate: str, uri: str, files: Mapping[str, bytes], public_key: Ed25519PublicKey
) -> VerifiedBaseline:
    """`files` as the baseline of record, once they verify as `candidate`'s signed bundle, stored
    where that bundle belongs (its version root, its run), with a signed verdict of PASS: a failed
    or incomplete RC is no reference for what "no regression" means."""
    report = verify_files(
        files, public_key, expected_rc=candidate, source=uri, root_version=root_version_of(uri)
    )
    stored_run = _run_of(uri)
    if stored_run is not None and stored_run != report.run_id:
        raise VerificationFailed(
            f"{uri}: stored under run {stored_run}, but signed by run {report.run_id}",
            hint="a bundle copied under another run's name is not that run's evidence",
        )
    if report.verdict != Verdict.PASS:
        raise VerificationFailed(f"{uri}: its signed verdict is {report.verdict}; only a PASS is a baseline")
    return VerifiedBaseline(
        rc=candidate,
        bundle_uri=uri,
        commit=str(report.release_candidate.get("commit") or ""),
        bundle_verdict=report.verdict,
        key_fingerprint=report.key_fingerprint,
        frames=raw_frames(files),
        metrics=_metrics(files),
    )


def _metrics(files: Mapping[str, bytes]) -> Mapping[str, Any]:
    """The bundle's slo/metrics.json (verified with the rest), or nothing when it has none."""
    document = json.loads(read_document(files, SLO_METRICS)) if SLO_METRICS in files else {}
    return document if isinstance(document, dict) else {}


def _run_of(uri: str) -> str | None:
    """`<run-id>` of `.../<rc>/<run-id>/evidence/<version>`; None for a location that does not say."""
    parts = uri.rstrip("/").split("/")
    return parts[-3] if len(parts) >= 4 and parts[-2] == "evidence" else None


def find_baseline(
    candidates: Iterable[str],
    *,
    locate: Callable[[str], str | Sequence[str] | None],
    read: Callable[[str], Mapping[str, bytes]],
    public_key: Ed25519PublicKey,
) -> BaselineSearch:
    """The first candidate (newest first) whose bundle verifies.

    `locate(rc)`: where that RC's bundle is said to be, by each place that records it (the
    store's overwritable `latest.json`, the Dagster record): None or nothing when nowhere known,
    and a candidate whose records name different bundles is passed over, never resolved by
    trusting one of them. `read(uri)`: its files. A candidate that cannot be read or does not
    verify is passed over, with the reason.
    """
    passed_over: list[str] = []
    for candidate in candidates:
        located = locate(candidate)
        uris = sorted(
            {u.rstrip("/") + "/" for u in ([located] if isinstance(located, str) else located or [])}
        )
        if not uris:
            passed_over.append(f"{candidate}: no bundle recorded")
            continue
        if len(uris) > 1:
            passed_over.append(f"{candidate}: its records name different bundles ({', '.join(uris)})")
            continue
        uri = located if isinstance(located, str) else uris[0]
        try:
            return BaselineSearch(
                verified_baseline(candidate, uri, read(uri), public_key), tuple(passed_over)
            )
        except PipelineError as exc:
            passed_over.append(f"{candidate}: {exc.message}")
    return BaselineSearch(None, tuple(passed_over))
