"""One minimal input per bug the properties found, through the same oracle without tolerance.

While a bug is listed in `open_bugs.OPEN_BUGS` its case is `xfail(strict=True)`: it must keep
failing until the owner fixes the parser, and then the owner deletes the entry and the case
becomes a plain regression test. Every open bug has a case here and every case is an entry or a
fixed bug's regression test.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.properties.bundle_seed import (
    FILES,
    NAMES,
    SOURCE,
    STATEMENTS,
    TRUSTED,
    report_invariants,
    sign_all,
    with_subject,
)
from tests.properties.open_bugs import OPEN_BUGS, failure, is_open, reason
from tests.properties.oracles import typed_outcome
from tests.properties.test_fanout_import import metrics_invariants
from tests.properties.test_k6_ingest import sample_invariants
from tests.properties.test_slo_spec import spec_invariants
from verification_pipeline.errors import PipelineError
from verification_pipeline.evidence.layout import ATTESTATIONS, MANIFEST
from verification_pipeline.evidence.verify import verify_files
from verification_pipeline.fanout.seed_import import import_seed_fanout
from verification_pipeline.loadtest.ingest import CSV_DEFAULT_HEADER, ingest
from verification_pipeline.scans import parse_report
from verification_pipeline.slo.spec import load_slo_spec


@dataclass(frozen=True)
class Case:
    key: str
    family: str
    source: str
    call: Callable[[], Any]
    invariants: Callable[[Any], Any] | None = None
    names: tuple[str, ...] = ()
    variant: str = ""
    raises: type[BaseException] | None = None  # when it fails otherwise than the bug's own signature

    @property
    def id(self) -> str:
        return f"{self.key}-{self.variant}" if self.variant else self.key


CHILD_MEMORY_BYTES = 2 << 30
_CHILD = """
import json, sys
from verification_pipeline.errors import PipelineError
from verification_pipeline.loadtest.ingest import ingest
try:
    rows = ingest(sys.stdin.buffer.read(), name=sys.argv[1]).height
    print(json.dumps({"rows": rows}))
except PipelineError as error:
    print(json.dumps({"typed": str(error)}))
except Exception as error:
    print(json.dumps({"escaped": f"{type(error).__name__}: {error}"[:300]}))
"""


def ingest_in_a_memory_limited_child(data: bytes, name: str) -> int:
    """ingest in a child process with 2 GiB of address space: a reader that tries to build
    billions of rows fails this test instead of taking the machine down."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))

    child = subprocess.run(
        [sys.executable, "-c", _CHILD, name],
        check=False,
        input=data,
        capture_output=True,
        preexec_fn=limit,
        timeout=120,
    )
    if child.returncode != 0:
        raise MemoryError(
            f"ingest died (exit {child.returncode}) within {CHILD_MEMORY_BYTES} bytes: {child.stderr[-200:]!r}"
        )
    outcome = json.loads(child.stdout)
    if "typed" in outcome:
        raise PipelineError(outcome["typed"])
    if "escaped" in outcome:
        raise RuntimeError(outcome["escaped"])
    return outcome["rows"]


def _dropped(count: str) -> bytes:
    return (
        b'{"metric":"dropped_iterations","type":"Point","data":{"time":"2026-11-27T16:59:07Z","value":'
        + count.encode()
        + b',"tags":{"scenario":"write"}}}\n'
    )


def _k6_point(metric: str, value: str, *, op: bytes = b"read", rid: str = "1-0") -> bytes:
    return (
        b'{"metric":"'
        + metric.encode()
        + b'","type":"Point","data":{"time":"2026-11-27T16:59:15.1Z","value":'
        + value.encode()
        + b',"tags":{"op":"'
        + op
        + b'","scenario":"read","status":"200"},"metadata":{"request_id":"'
        + rid.encode()
        + b'"}}}\n'
    )


def _bundle(key: str, files: dict[str, bytes]) -> Case:
    return Case(
        key,
        "bundle",
        SOURCE,
        lambda: verify_files(files, TRUSTED, source=SOURCE),
        report_invariants,
        tuple(NAMES),
    )


def _resigned_manifest(edit: Callable[[dict], None]) -> dict[str, bytes]:
    manifest = json.loads(FILES[MANIFEST])
    edit(manifest)
    body = json.dumps(manifest).encode()
    statements = with_subject(json.loads(json.dumps(STATEMENTS)), MANIFEST, body)
    return {**FILES, MANIFEST: body, ATTESTATIONS: sign_all(statements)}


def _resigned_result(result: str) -> dict[str, bytes]:
    statements = json.loads(json.dumps(STATEMENTS))
    for statement in statements:
        if "result" in statement["predicate"]:
            statement["predicate"]["result"] = result
    return {**FILES, ATTESTATIONS: sign_all(statements)}


def _envelope_with(field: str, value: str) -> bytes:
    envelope = json.loads(FILES[ATTESTATIONS].splitlines()[0])
    envelope[field] = value
    return json.dumps(envelope).encode() + b"\n" + FILES[ATTESTATIONS].splitlines()[1] + b"\n"


GRYPE_LONE_SURROGATE = (
    b'{"matches":[{"vulnerability":{"id":"\\ud800"},"artifact":{"name":"openssl"}}],"source":{}}'
)
CSV_CUT = (
    CSV_DEFAULT_HEADER.encode()
    + b"\nhttp_req_duration,1795798755,12.5,,,,true,,POST,u,HTTP/1.1,read,,200,,,u,op=read,request_id=1-0"
    + b"\ngraphql_errors,1795798755,1,,,,,,,,,read,,,,,,op=read,request_id=1-"  # cut: "1-0" lost its last byte
)
SLO = "slos:\n  - {name: read_p95, metric: quantile, source: read, quantile: 0.95, threshold: %s, unit: ms, min_samples: 1}\n"


def cases() -> list[Case]:
    return [
        Case(
            "scans-int-digit-limit",
            "scans",
            "vulns.grype.json",
            lambda: parse_report(b'{"matches":[],"source":{},"n":' + b"1" * 4301 + b"}", "vulns.grype.json"),
        ),
        Case(
            "scans-lone-surrogate",
            "scans",
            "vulns.grype.json",
            lambda: parse_report(GRYPE_LONE_SURROGATE, "vulns.grype.json"),
        ),
        Case(
            "scans-count-over-int64",
            "scans",
            "conftest.json",
            lambda: parse_report(
                b'[{"filename": "svc.yaml", "successes": 9223372036854775808}]', "conftest.json"
            ),
        ),
        Case(
            "k6-csv-cut-in-last-field",
            "k6",
            "read.csv",
            lambda: ingest(CSV_CUT, name="read.csv", segment="seg-0"),
            lambda frame: {"k6-csv-cut-in-last-field": f"{frame.height} rows, ok={frame['ok'].to_list()}"},
        ),
        Case(
            "k6-durations-not-checked",
            "k6",
            "read.json",
            lambda: ingest(_k6_point("http_req_duration", "-5"), name="read.json", segment="seg-0"),
            sample_invariants("seg-0"),
        ),
        Case(
            "k6-invalid-utf8-line",
            "k6",
            "read.json",
            lambda: ingest(
                _k6_point("http_req_duration", "12.5", op=b"\xff"), name="read.json", segment="seg-0"
            ),
        ),
        Case(
            "k6-unit-separator-byte",
            "k6",
            "read.json",
            lambda: ingest(
                _k6_point("http_req_duration", "12.5", op=b"a\x1fb"), name="read.json", segment="seg-0"
            ),
        ),
        *(
            Case(
                "k6-dropped-iterations-unbounded",
                "k6",
                "write.json",
                lambda count=count: ingest_in_a_memory_limited_child(_dropped(count), "write.json"),
                variant=count,
                raises=raises,
            )
            for count, raises in (
                ("2e9", MemoryError),
                ("1e12", RuntimeError),
            )  # 2e9: rows until memory runs out; 1e12: polars cast error
        ),
        Case(
            "k6-deep-last-line",
            "k6",
            "read.json",
            lambda: ingest(b'{"metric":' + b"[" * 100_000, name="read.json", segment="seg-0"),
        ),
        _bundle("bundle-int-digit-limit", {**FILES, ATTESTATIONS: b"1" * 4301 + b"\n"}),
        _bundle("bundle-deep-json", {**FILES, ATTESTATIONS: b"[" * 100_000 + b"\n"}),
        _bundle(
            "bundle-surrogate-payload-type", {**FILES, ATTESTATIONS: _envelope_with("payloadType", "\ud800")}
        ),
        _bundle("bundle-manifest-files-shape", _resigned_manifest(lambda m: m.update(files=1.5))),
        _bundle("bundle-predicate-values-unchecked", _resigned_result("PASSED")),
        Case(
            "fanout-deep-json",
            "fanout.json",
            "fanout.json",
            lambda: import_seed_fanout(b"[" * 100_000, "fanout.json"),
        ),
        Case(
            "fanout-int-digit-limit",
            "fanout.json",
            "fanout.json",
            lambda: import_seed_fanout(
                b'{"count": 1, "p95_ms": ' + b"1" * 4301 + b', "p99_ms": 2}', "fanout.json"
            ),
        ),
        Case(
            "fanout-int-over-float",
            "fanout.json",
            "fanout.json",
            lambda: import_seed_fanout(
                b'{"count": 1, "p95_ms": 1, "p99_ms": ' + b"9" * 400 + b"}", "fanout.json"
            ),
        ),
        Case(
            "fanout-negative-latency",
            "fanout.json",
            "fanout.json",
            lambda: import_seed_fanout(b'{"count": 200, "p95_ms": -5, "p99_ms": -1}', "fanout.json"),
            metrics_invariants,
        ),
        Case(
            "slo-deep-yaml",
            "slos.yaml",
            "slos.yaml",
            lambda: load_slo_spec(b"slos: " + b"[" * 10_000, source="slos.yaml"),
        ),
        Case(
            "slo-threshold-infinite",
            "slos.yaml",
            "slos.yaml",
            lambda: load_slo_spec(SLO % ".inf", source="slos.yaml"),
            spec_invariants,
        ),
        Case(
            "slo-int-digit-limit",
            "slos.yaml",
            "slos.yaml",
            lambda: load_slo_spec(SLO % ("1" * 4301), source="slos.yaml"),
            spec_invariants,
        ),
    ]


CASES = cases()


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case,
            id=case.id,
            marks=[
                pytest.mark.xfail(
                    strict=True, raises=case.raises or failure(case.key), reason=reason(case.key)
                )
            ]
            if is_open(case.key)
            else [],
        )
        for case in CASES
    ],
)
def test_reproducer(case: Case) -> None:
    typed_outcome(
        "reproducers",
        case.call,
        source=case.source,
        family=case.family,
        names=case.names,
        invariants=case.invariants,
        tolerate=False,
    )


def test_every_open_bug_has_a_reproducer() -> None:
    missing = {bug.key for bug in OPEN_BUGS} - {case.key for case in CASES}
    assert not missing, f"open bugs without a reproducer: {sorted(missing)}"
