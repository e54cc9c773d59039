"""A release policy over the evidence: Rego on a bundle's verified statements and figures only.

The input is built after the bundle verified with the trusted key (`evidence.verify`), from the
payloads of envelopes that verify with that key and from files whose sha256 equals the digest the
signed statements list for them: nothing unverified reaches the policy. Denials come from the
policy's `deny`/`violation` rules in namespace `main` (conftest's conventions: a string, or an
object with `msg`), warnings from `warn`.

The input document (`input.*`), what a release engineer writes rules against:

- `releaseCandidate` {tag, commit, commitSource, version}, `verdict`, `result`, `runId`, `createdAt`,
  `ageDays` (from `createdAt` to now), `signer` {keyid, devKey};
- `gates`: the signed gates [{name, verdict, reason, ...}];
- `slos`: `slo/metrics.json`'s rows, each with `min_samples` from the signed slos.yaml;
- `baseline`: `slo/baseline.json` (status, verdict, rows), or null;
- `vulnerabilities`: [{id, severity, package, version, fix_state}] from the signed scan report;
- `policies`: the policy gate's rows [{policy, target, passed, failed, warnings, messages}];
- `statements`: predicateType -> predicate of every verified statement.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.content import file_digest, read_document
from verification_pipeline.evidence.dsse import verify_envelope
from verification_pipeline.evidence.layout import (
    ATTESTATIONS,
    MANIFEST,
    POLICY_REPORT,
    SLO_BASELINE,
    SLO_METRICS,
    VULNERABILITIES,
    sha256_hex,
)
from verification_pipeline.evidence.statements import EXTENSION, STATEMENT_TYPE, TEST_RESULT_PREDICATE
from verification_pipeline.evidence.verify import VerificationReport
from verification_pipeline.policy.conftest import CheckResult, Engine
from verification_pipeline.policy.rego import Module
from verification_pipeline.policy.runner import load_modules

EXAMPLE_POLICY = Path(__file__).resolve().parent / "examples" / "release.rego"


def verified_statements(
    files: Mapping[str, bytes], public_key: Ed25519PublicKey
) -> dict[str, dict[str, Any]]:
    """predicateType -> statement, for every envelope that verifies with the trusted key."""
    found: dict[str, dict[str, Any]] = {}
    data = read_document(files, ATTESTATIONS) if ATTESTATIONS in files else b""
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            payload = verify_envelope(json.loads(line), public_key, where=f"{ATTESTATIONS} line {number}")
        except (VerificationFailed, ValueError):
            continue  # another signer's attestation: not evidence for this policy
        statement = json.loads(payload)
        if isinstance(statement, dict) and statement.get("_type") == STATEMENT_TYPE:
            found[str(statement.get("predicateType"))] = statement
    return found


def _signed_file(files: Mapping[str, bytes], signed: Mapping[str, str], name: str) -> bytes | None:
    """A bundle file's bytes, only when they hash to the digest the signed statement lists."""
    if name not in signed or name not in files:
        return None
    if file_digest(files, name, "sha256") != signed[name]:
        raise VerificationFailed(f"{name}: its bytes are not the signed subject's", hint="the bundle changed")
    return read_document(files, name)


def release_input(
    files: Mapping[str, bytes],
    public_key: Ed25519PublicKey,
    report: VerificationReport,
    *,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The policy's input from a bundle `report` says verified (see the module docstring)."""
    from verification_pipeline.scans import parse_policy_report, parse_vulnerability_report

    statements = verified_statements(files, public_key)
    test_result = statements[TEST_RESULT_PREDICATE]
    signed = {s["name"]: s["digest"]["sha256"] for s in test_result["subject"]}
    ours = test_result["predicate"][EXTENSION]
    metrics_bytes = _signed_file(files, signed, SLO_METRICS)
    metrics = json.loads(metrics_bytes) if metrics_bytes else {}
    spec = yaml.safe_load((metrics.get("spec") or {}).get("yaml") or "") or {}
    min_samples = {s.get("name"): s.get("min_samples") for s in spec.get("slos", []) if isinstance(s, dict)}
    baseline = _signed_file(files, signed, SLO_BASELINE)
    vulns = _signed_file(files, signed, VULNERABILITIES)
    policies = _signed_file(files, signed, POLICY_REPORT)
    manifest = json.loads(_signed_file(files, signed, MANIFEST) or b"{}")
    created = str(manifest.get("createdAt") or report.created_at)
    moment = now or dt.datetime.now(dt.UTC)
    age_days = None
    if created:
        age_days = (moment - dt.datetime.fromisoformat(created)).total_seconds() / 86400
    vulnerability_rows = (
        parse_vulnerability_report(vulns, VULNERABILITIES)
        .vulnerabilities.select("id", "severity", "package", "version", "fix_state")  # type: ignore[union-attr]
        .to_dicts()
        if vulns
        else []
    )
    policy_rows = (
        parse_policy_report(policies, POLICY_REPORT)
        .policies.select("policy", "target", "passed", "failed", "warnings", "messages")  # type: ignore[union-attr]
        .to_dicts()
        if policies
        else []
    )
    return {
        "releaseCandidate": dict(report.release_candidate),
        "verdict": report.verdict,
        "result": report.result,
        "runId": report.run_id,
        "createdAt": created,
        "ageDays": age_days,
        "signer": {"keyid": report.key_fingerprint, "devKey": report.dev_key},
        "gates": ours.get("gates", []),
        "slos": [{**row, "min_samples": min_samples.get(row.get("name"))} for row in metrics.get("slos", [])],
        "baseline": json.loads(baseline) if baseline else None,
        "vulnerabilities": vulnerability_rows,
        "policies": policy_rows,
        "statements": {kind: s["predicate"] for kind, s in statements.items()},
    }


@dataclass(frozen=True)
class ReleasePolicyResult:
    """What a release policy said about one verified bundle."""

    policy: tuple[Module, ...]
    result: CheckResult

    @property
    def denials(self) -> list[str]:
        return [_named(f) for f in self.result.failures]

    @property
    def warnings(self) -> list[str]:
        return [_named(w) for w in self.result.warnings]

    @property
    def policy_digest(self) -> str:
        """One digest over the policy's modules (name and sha256 of each, sorted): the policy's identity."""
        listing = "".join(
            f"{m.name}\0{sha256_hex(m.source.encode())}\n" for m in sorted(self.policy, key=lambda m: m.name)
        )
        return sha256_hex(listing.encode())


def _named(result: Any) -> str:
    rule = str((result.metadata or {}).get("query", "")).removeprefix("data.")
    return f"{rule}: {result.msg}" if rule else result.msg


def load_release_policy(paths: Sequence[Path]) -> Engine:
    """Load and compile first: a policy that does not compile is bad input before any bundle is read."""
    return Engine(load_modules(list(paths)))


def evaluate_release_policy(
    engine: Engine, document: Mapping[str, Any], *, source: str
) -> ReleasePolicyResult:
    return ReleasePolicyResult(
        policy=tuple(engine.modules), result=engine.check(source, dict(document), "main")
    )
