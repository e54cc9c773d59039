"""Check 1: `attestations.intoto.jsonl` holds exactly one envelope per predicate we sign, each
signed by the trusted key over its DSSE PAE (keyid is ignored) and each a valid Statement.

As the in-toto bundle spec says, blank lines and attestations of other predicate types are
ignored. Every statement of ours is validated against its schema (`schemas.py`) here, before
any later check reads a field of it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.content import read_document
from verification_pipeline.evidence.dsse import INTOTO_PAYLOAD_TYPE, verify_envelope
from verification_pipeline.evidence.layout import ATTESTATIONS
from verification_pipeline.evidence.statements import (
    SLSA_PROVENANCE_PREDICATE,
    STATEMENT_TYPE,
    TEST_RESULT_PREDICATE,
)
from verification_pipeline.evidence.verify.documents import parsed_json
from verification_pipeline.evidence.verify.schemas import (
    PREDICATE_SCHEMAS,
    ProvenancePredicate,
    Statement,
    TestResultPredicate,
    predicate_where,
    validated,
)


@dataclass(frozen=True)
class SignedStatements:
    """The two validated statements a bundle signs."""

    test_result: Statement
    provenance: Statement
    tested: TestResultPredicate
    built: ProvenancePredicate


def signed_statements(files: Mapping[str, bytes], public_key: Ed25519PublicKey) -> SignedStatements:
    if ATTESTATIONS not in files:
        raise VerificationFailed(
            f"{ATTESTATIONS}: missing; the bundle is unsigned or was not completely written",
        )
    statements: dict[str, tuple[Statement, Any]] = {}
    for number, line in enumerate(read_document(files, ATTESTATIONS).split(b"\n"), start=1):
        if not line.strip():
            continue  # the in-toto bundle spec: consumers ignore blank lines
        where = f"{ATTESTATIONS} line {number}"
        statement = _statement(line, where, public_key)
        if statement is None:
            continue
        if statement.predicateType in statements:
            raise VerificationFailed(f"{where} [predicateType]: a second {statement.predicateType} statement")
        label, schema = PREDICATE_SCHEMAS[statement.predicateType]
        statements[statement.predicateType] = (
            statement,
            validated(schema, statement.predicate, predicate_where(label)),
        )
    for predicate_type in PREDICATE_SCHEMAS:
        if predicate_type not in statements:
            raise VerificationFailed(f"{ATTESTATIONS}: no signed {predicate_type} statement")
    (test_result, tested), (provenance, built) = (
        statements[TEST_RESULT_PREDICATE],
        statements[SLSA_PROVENANCE_PREDICATE],
    )
    return SignedStatements(test_result, provenance, tested, built)


def _statement(line: bytes, where: str, public_key: Ed25519PublicKey) -> Statement | None:
    """The line's verified Statement of a predicate type we sign; None for one we may ignore."""
    envelope = parsed_json(line, where, "a DSSE envelope")
    try:
        payload = verify_envelope(envelope, public_key, where=where)
    except VerificationFailed:
        if _foreign_attestation(envelope):
            return None  # another producer's attestation, of a type we do not sign: not ours to judge
        raise
    document = parsed_json(payload, f"{where} [payload]", "an in-toto Statement")
    if not isinstance(document, dict) or document.get("_type") != STATEMENT_TYPE:
        raise VerificationFailed(f"{where} [_type]: not an in-toto Statement v1 ({STATEMENT_TYPE})")
    kind = document.get("predicateType")
    if isinstance(kind, str) and kind not in PREDICATE_SCHEMAS:
        return None  # signed by the trusted key, but a predicate this bundle does not rely on
    statement: Statement = validated(Statement, document, f"{where} [statement")
    return statement


def _foreign_attestation(envelope: object) -> bool:
    """An envelope that (unverified) says it holds a statement of a predicate type we do not sign.

    Reading the unverified payload only decides whether to skip the envelope; nothing from it is
    trusted. One that claims to be ours, or cannot be read, still fails.
    """
    if not isinstance(envelope, Mapping) or envelope.get("payloadType") != INTOTO_PAYLOAD_TYPE:
        return False
    try:
        statement = json.loads(base64.b64decode(str(envelope.get("payload")), validate=True))
    except (binascii.Error, ValueError, RecursionError):
        return False
    return (
        isinstance(statement, dict)
        and isinstance(statement.get("predicateType"), str)
        and statement["predicateType"] not in PREDICATE_SCHEMAS
    )
