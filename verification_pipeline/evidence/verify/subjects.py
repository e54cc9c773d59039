"""Check 4: both statements list the same subjects, and every subject is in the bundle with every
digest it is given (not only the first algorithm we know), with no file left over."""

from __future__ import annotations

import re
from collections.abc import Mapping

from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.content import DIGEST_ALGORITHMS, file_digest
from verification_pipeline.evidence.layout import ATTESTATIONS, check_relative_name
from verification_pipeline.evidence.verify.schemas import Statement
from verification_pipeline.textsafe import mark_verdict_words

_HEX = re.compile(r"^[0-9a-f]+$")


def signed_subjects(test_result: Statement, provenance: Statement) -> dict[str, dict[str, str]]:
    """name -> {algorithm: hex}, the same in both statements; every subject has a sha256."""
    tested = _subjects(test_result)
    if _subjects(provenance) != tested:
        raise VerificationFailed(f"{ATTESTATIONS}: the two statements list different subjects")
    return tested


def _subjects(statement: Statement) -> dict[str, dict[str, str]]:
    where = f"{ATTESTATIONS} [{statement.predicateType} subject]"
    signed: dict[str, dict[str, str]] = {}
    for entry in statement.subject:
        check_relative_name(entry.name, lambda message: VerificationFailed(f"{where}: {message}"))
        if entry.name in signed:
            raise VerificationFailed(f"{where}: {entry.name} is listed twice")
        if "sha256" not in entry.digest:
            raise VerificationFailed(f"{where} {entry.name}: no sha256 digest")
        for algorithm, value in entry.digest.items():
            if algorithm not in DIGEST_ALGORITHMS:
                raise VerificationFailed(
                    f"{where} {entry.name}.digest.{algorithm[:40]}: an algorithm this verifier cannot check",
                    hint=f"a signed digest is either checked or refused; known: {', '.join(DIGEST_ALGORITHMS)}",
                )
            if not _HEX.match(value):
                raise VerificationFailed(f"{where} {entry.name}.digest.{algorithm}: not lowercase hex")
        signed[entry.name] = dict(entry.digest)
    return signed


def check_files(files: Mapping[str, bytes], signed: Mapping[str, Mapping[str, str]]) -> None:
    """Every signed subject present with every signed digest; nothing else but the attestations."""
    for name in sorted(signed):
        if name not in files:
            raise VerificationFailed(f"{name}: missing from the bundle, but it is a signed subject")
        for algorithm, expected in sorted(signed[name].items()):
            actual = file_digest(files, name, algorithm)
            if actual != expected:
                raise VerificationFailed(
                    f"{name}: {algorithm} {actual[:16]}… does not match the signed subject {expected[:16]}…",
                    hint="the file was changed after the bundle was signed",
                )
    for name in sorted(set(files) - set(signed) - {ATTESTATIONS}):
        raise VerificationFailed(
            f"{mark_verdict_words(name)}: extra file, not a subject of the signed statements"
        )
