"""Bugs the properties found in parsers this suite does not own, until the owners fix them.

Each entry says which parser family it is in, how a property recognizes it (the exception type
and a message pattern, kept narrow so a new bug with the same type still fails), or which
output invariant it breaks. `test_reproducers.py` holds one minimal failing input per entry,
marked `xfail(strict=True)` while the entry is here.

To close a bug: fix the parser, delete its entry here. Its reproducer then runs as a plain
regression test, and the properties stop tolerating its signature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class OpenBug:
    key: str
    family: str
    summary: str
    escape: type[BaseException] | None = None
    pattern: str = ""


OPEN_BUGS: tuple[OpenBug, ...] = (
    OpenBug(
        "scans-int-digit-limit",
        "scans",
        "scans.document.decode_json: a JSON integer of more than 4300 digits raises ValueError "
        "(CPython's int->str digit limit) instead of FormatError naming the file",
        ValueError,
        r"Exceeds the limit \(\d+ digits\) for integer string conversion",
    ),
    OpenBug(
        "scans-lone-surrogate",
        "scans",
        "scans parsers: a string with a lone surrogate escape (\\ud800) reaches a polars table and "
        "raises UnicodeEncodeError instead of FormatError naming the file and field",
        UnicodeEncodeError,
        r"surrogates not allowed",
    ),
    OpenBug(
        "scans-count-over-int64",
        "scans",
        "scans parsers: a count past Int64 (conftest `successes`, trivy `Successes`: 9223372036854775808) "
        "passes Node.count() and then raises polars ComputeError building the policies table, instead "
        "of FormatError naming the field",
        pl.exceptions.ComputeError,
        r"could not append value: -?\d+ of type: i128",
    ),
    OpenBug(
        "k6-csv-cut-in-last-field",
        "k6",
        "loadtest.ingest: a k6 CSV file cut inside the last field (metadata) of its last line, with no "
        "trailing newline, is accepted as complete: the request_id is silently shortened, so that "
        "request's graphql_errors/ingest_duration no longer join (a GraphQL failure is lost)",
    ),
    OpenBug(
        "k6-durations-not-checked",
        "k6",
        "loadtest.ingest: a negative or infinite http_req_duration / ingest_duration value "
        '(e.g. "value":-5 or Infinity) is stored as a latency instead of refused with the line',
    ),
    OpenBug(
        "k6-unit-separator-byte",
        "k6",
        "loadtest.ingest: a raw 0x1f byte inside a Point line the reader extracts fields from "
        "(the separator it gives pl.read_csv) raises polars SchemaError instead of FormatError",
        pl.exceptions.SchemaError,
        r"column names not specified in schema",
    ),
    OpenBug(
        "k6-dropped-iterations-unbounded",
        "k6",
        "loadtest.ingest: a dropped_iterations value >= 2**32 raises polars InvalidOperationError "
        "(cast to u32); a value below that (e.g. 2e9) is expanded into that many rows and exhausts "
        "memory (a hang, not an error). A count per Point line is never more than a few thousand",
        pl.exceptions.InvalidOperationError,
        r"conversion from `f64` to `u32` failed",
    ),
    OpenBug(
        "k6-deep-last-line",
        "k6",
        "loadtest.ingest: a last line without newline nested deeper than the recursion limit "
        "raises RecursionError from json.loads in _check_last_line instead of FormatError",
        RecursionError,
        r"maximum recursion depth exceeded",
    ),
    OpenBug(
        "bundle-int-digit-limit",
        "bundle",
        "evidence.verify._json: a JSON integer of more than 4300 digits in an attestation line, a "
        "signed payload or manifest.json raises ValueError instead of VerificationFailed",
        ValueError,
        r"Exceeds the limit \(\d+ digits\) for integer string conversion",
    ),
    OpenBug(
        "bundle-deep-json",
        "bundle",
        "evidence.verify._json: JSON nested deeper than the recursion limit in an attestation line "
        "(e.g. 100000 '[') raises RecursionError instead of VerificationFailed",
        RecursionError,
        r"maximum recursion depth exceeded",
    ),
    OpenBug(
        "bundle-surrogate-payload-type",
        "bundle",
        "evidence.dsse.pae: an envelope whose payloadType holds a lone surrogate escape "
        '("payloadType": "\\ud800") raises UnicodeEncodeError instead of VerificationFailed',
        UnicodeEncodeError,
        r"surrogates not allowed",
    ),
    OpenBug(
        "bundle-manifest-files-shape",
        "bundle",
        "evidence.verify._check_manifest: a signed manifest.json whose `files` is not an array "
        "(a number, null, true), or whose entry has a `name` that is an array or object, raises "
        "TypeError instead of VerificationFailed naming manifest.json [files]",
        TypeError,
        r"object is not iterable|unhashable type",
    ),
    OpenBug(
        "bundle-predicate-values-unchecked",
        "bundle",
        "evidence.verify: a signed test-result predicate whose `result` is missing, not one of "
        "PASSED/WARNED/FAILED, or contradicts the verdict (verdict INCOMPLETE, result PASSED) verifies, "
        "and the report prints e.g. `verdict: INCOMPLETE (test-result None)`; only a consistent "
        "verdict/result pair should verify",
    ),
    OpenBug(
        "fanout-deep-json",
        "fanout.json",
        "fanout.seed_import.import_seed_fanout: JSON nested deeper than the recursion limit "
        "(e.g. 100000 '[') raises RecursionError instead of FormatError naming the file",
        RecursionError,
        r"maximum recursion depth exceeded",
    ),
    OpenBug(
        "fanout-int-digit-limit",
        "fanout.json",
        "fanout.seed_import.import_seed_fanout: a JSON integer of more than 4300 digits raises "
        "ValueError (caught only as JSONDecodeError) instead of FormatError",
        ValueError,
        r"Exceeds the limit \(\d+ digits\) for integer string conversion",
    ),
    OpenBug(
        "fanout-int-over-float",
        "fanout.json",
        "fanout.seed_import._latency: an integer p95_ms/p99_ms too large for a float (e.g. 400 nines) "
        "raises OverflowError from math.isfinite instead of InputError naming the field",
        OverflowError,
        r"int too large to convert to float",
    ),
    OpenBug(
        "fanout-negative-latency",
        "fanout.json",
        "fanout.seed_import: negative p95_ms/p99_ms (e.g. -5, -1) are imported as latencies; no "
        "set of delivery latencies has a negative quantile",
    ),
    OpenBug(
        "slo-deep-yaml",
        "slos.yaml",
        "slo.spec.load_slo_spec: YAML/JSON nested deeper than the recursion limit raises "
        "RecursionError from yaml.safe_load instead of ConfigError naming the file",
        RecursionError,
        r"maximum recursion depth exceeded",
    ),
    OpenBug(
        "slo-threshold-infinite",
        "slos.yaml",
        "slo.spec: `threshold: .inf` (or 1e400) is accepted for a quantile SLO, which then can never "
        "fail; thresholds should be finite (pydantic allow_inf_nan=False)",
    ),
    OpenBug(
        "slo-int-digit-limit",
        "slos.yaml",
        "slo.spec.load_slo_spec: a YAML integer of more than 4300 digits raises ValueError from "
        "PyYAML's int constructor (not a YAMLError, so not caught) instead of ConfigError",
        ValueError,
        r"Exceeds the limit \(\d+ digits\) for integer string conversion",
    ),
)

_BY_KEY = {bug.key: bug for bug in OPEN_BUGS}


def is_open(key: str) -> bool:
    return key in _BY_KEY


def reason(key: str) -> str:
    return _BY_KEY[key].summary


def failure(key: str) -> type[BaseException]:
    """What the bug raises through the oracle: its escaping exception, or the oracle's AssertionError."""
    return _BY_KEY[key].escape or AssertionError


def open_keys(family: str) -> frozenset[str]:
    return frozenset(bug.key for bug in OPEN_BUGS if bug.family == family)


def known_escape(family: str, error: BaseException) -> str | None:
    """The key of the open bug this exception is the signature of, if any."""
    for bug in OPEN_BUGS:
        if (
            bug.family == family
            and bug.escape is not None
            and isinstance(error, bug.escape)
            and re.search(bug.pattern, str(error))
        ):
            return bug.key
    return None
