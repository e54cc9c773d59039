"""Scan-report parsers (grype, trivy, SARIF, OPA eval/test, conftest, syft, CycloneDX, SPDX) under
mutated and random input: a normalized report with the fixed table schemas, or our typed error
naming the file. Seeds are the real scanner outputs in tests/scans/fixtures/."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.properties.budget import examples
from tests.properties.mutations import (
    dumps_with_tokens,
    json_paths,
    json_values,
    key_names,
    mutated_bytes,
    mutated_json,
    replace_at,
)
from tests.properties.oracles import typed_outcome
from verification_pipeline.errors import FormatError
from verification_pipeline.scans import (
    COMPONENT_SCHEMA,
    POLICY_SCHEMA,
    VULNERABILITY_SCHEMA,
    ReportFormat,
    ReportKind,
    ScanReport,
    parse_policy_report,
    parse_report,
    parse_sbom,
    parse_vulnerability_report,
    report_summary,
)

FIXTURES = Path(__file__).resolve().parents[1] / "scans" / "fixtures"
SEEDS = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.json"))
FAMILY = "scans"
KIND_PARSERS = {
    ReportKind.SBOM: parse_sbom,
    ReportKind.VULNERABILITIES: parse_vulnerability_report,
    ReportKind.POLICY: parse_policy_report,
}
TABLE_SCHEMAS = {
    "components": COMPONENT_SCHEMA,
    "vulnerabilities": VULNERABILITY_SCHEMA,
    "policies": POLICY_SCHEMA,
}
POLICY_COUNTS = ("passed", "failed", "warnings", "errors", "skipped")


@cache
def seed(name: str) -> tuple[bytes, Any, list, list[str]]:
    data = (FIXTURES / name).read_bytes()
    doc = json.loads(data)
    return data, doc, json_paths(doc), key_names(doc)


def label(name: str) -> str:
    """Tally label: the scanner family of a fixture (its directory)."""
    return name.split("/")[0]


def report_invariants(data: bytes, source: str) -> Callable[[ScanReport], Mapping[str, str]]:
    """A parsed report holds the original bytes and at least one table, each with its exact schema,
    identified vulnerabilities and non-negative counts."""

    def broken(report: ScanReport) -> Mapping[str, str]:
        problems: dict[str, str] = {}
        if report.source != source or report.raw != data or report.format not in ReportFormat:
            problems["identity"] = "the report must keep its source, its original bytes and a known format"
        if not report.kinds:
            problems["no-tables"] = "a report parsed without error must carry at least one table"
        for attribute, schema in TABLE_SCHEMAS.items():
            table = getattr(report, attribute)
            if table is not None and table.schema != schema:
                problems[f"{attribute}-schema"] = f"{attribute} has schema {table.schema}"
        if report.vulnerabilities is not None:
            ids = report.vulnerabilities["id"]
            if ids.null_count() or (ids.str.strip_chars() == "").any():
                problems["vulnerability-id"] = "a vulnerability without an id"
        if report.policies is not None:
            counts = report.policies.select(POLICY_COUNTS)
            if counts.null_count().sum_horizontal().item() or not (counts.min_horizontal() >= 0).all():
                problems["policy-counts"] = "policy counts must be present and non-negative"
        if _negative_counts(report_summary(report)):
            problems["summary-counts"] = f"negative count in {report_summary(report)}"
        return problems

    return broken


def _negative_counts(summary: Any) -> bool:
    if isinstance(summary, dict):
        return any(_negative_counts(value) for value in summary.values())
    return isinstance(summary, int | float) and not isinstance(summary, bool) and summary < 0


def parse_and_check(data: bytes, source: str, tally_label: str) -> ScanReport | None:
    """parse_report, then each kind-specific entry point on the same bytes, all to the same oracle."""
    invariants = report_invariants(data, source)
    report = typed_outcome(
        tally_label, lambda: parse_report(data, source), source=source, family=FAMILY, invariants=invariants
    )
    for kind, parse_kind in KIND_PARSERS.items():
        if report is None or kind in report.kinds:
            narrowed = typed_outcome(
                tally_label,
                lambda parse=parse_kind: parse(data, source),
                source=source,
                family=FAMILY,
                invariants=invariants,
            )
            if narrowed is not None:
                assert kind in narrowed.kinds
        else:
            with pytest.raises(
                FormatError
            ) as refused:  # the wrong kind of report is refused, naming the file
                parse_kind(data, source)
            assert source in str(refused.value)
    return report


def encodings(text: str) -> st.SearchStrategy[bytes]:
    """Report text as scanners and shells write it: UTF-8, with a BOM, CRLF, or UTF-16 (PowerShell)."""
    return st.sampled_from(
        [
            text.encode("utf-8", "surrogatepass"),
            b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass"),
            text.replace("\n", "\r\n").encode("utf-8", "surrogatepass"),
            text.encode("utf-16", "surrogatepass"),
        ]
    )


@st.composite
def mutated_report(draw: st.DrawFn, name: str) -> bytes:
    _, doc, paths, keys = seed(name)
    mutated = draw(mutated_json(doc, paths=paths, keys=keys))
    text = dumps_with_tokens(mutated, indent=draw(st.sampled_from([None, 2])))
    return draw(encodings(text))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", SEEDS)
@examples(12)
@given(data=st.data())
def test_mutated_json_values(name: str, data: st.DataObject) -> None:
    """Values replaced by other types, keys deleted, hostile tokens (NaN, huge ints, deep arrays...)."""
    source = f"s3://ci-artifacts/rc1/{name}"
    parse_and_check(data.draw(mutated_report(name)), source, label(name))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", SEEDS)
@examples(8)
@given(data=st.data())
def test_mutated_bytes(name: str, data: st.DataObject) -> None:
    """Flipped, inserted, deleted and duplicated bytes and lines; non-UTF-8, NUL, BOMs, CRLF."""
    raw, *_ = seed(name)
    source = f"reports/{name}"
    parse_and_check(data.draw(mutated_bytes(raw)), source, label(name))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", SEEDS)
@examples(5)
@given(data=st.data())
def test_truncated_report_is_refused(name: str, data: st.DataObject) -> None:
    """No partial report: any cut that loses more than trailing whitespace is a typed error."""
    raw, *_ = seed(name)
    body = raw.rstrip()
    cut = data.draw(st.integers(0, len(body) - 1))
    source = f"reports/{name}"
    report = typed_outcome(label(name), lambda: parse_report(raw[:cut], source), source=source, family=FAMILY)
    assert report is None, f"a report cut at byte {cut} of {len(body)} parsed as complete"


@st.composite
def grafted_report(draw: st.DrawFn) -> tuple[str, bytes]:
    """A fixture with one subtree replaced by a subtree of another format's fixture: type confusion
    with realistic values (a CycloneDX component where a grype match was)."""
    host, donor = draw(st.sampled_from(SEEDS)), draw(st.sampled_from(SEEDS))
    _, host_doc, host_paths, _ = seed(host)
    _, donor_doc, donor_paths, _ = seed(donor)
    path = draw(st.sampled_from(host_paths))
    graft = donor_doc
    for key in draw(st.sampled_from(donor_paths)):
        graft = graft[key]
    grafted = replace_at(json.loads(json.dumps(host_doc)), path, json.loads(json.dumps(graft)))
    return host, json.dumps(grafted).encode()


@pytest.mark.timeout(300)
@examples(100)
@given(case=grafted_report())
def test_grafted_subtrees_from_other_formats(case: tuple[str, bytes]) -> None:
    host, data = case
    parse_and_check(data, f"grafted/{host}", label(host))


@st.composite
def shaped_documents(draw: st.DrawFn) -> bytes:
    """Random documents that carry one format's detection keys, so they reach the format parsers."""
    values = json_values(max_leaves=6)
    shapes: list[dict[str, Any]] = [
        {"matches": st.lists(values, max_size=3), "descriptor": values, "source": values},
        {"artifacts": st.lists(values, max_size=3), "schema": values, "descriptor": values},
        {"bomFormat": st.just("CycloneDX"), "components": values, "metadata": values},
        {"spdxVersion": st.just("SPDX-2.3"), "packages": values, "creationInfo": values},
        {"version": st.just("2.1.0"), "runs": st.lists(values, max_size=3)},
        {"SchemaVersion": values, "Results": values, "ArtifactName": values},
        {"result": values, "errors": values},
    ]
    shape = draw(st.sampled_from(shapes))
    doc = {
        key: draw(strategy)
        for key, strategy in shape.items()
        if draw(st.booleans())
        or key in ("matches", "artifacts", "bomFormat", "spdxVersion", "runs", "SchemaVersion", "result")
    }
    return json.dumps(doc).encode()


@pytest.mark.timeout(300)
@examples(100)
@given(data=shaped_documents())
def test_random_documents_in_each_format_shape(data: bytes) -> None:
    parse_and_check(data, "ci/scan-report.json", "scans-random")


@st.composite
def array_reports(draw: st.DrawFn) -> bytes:
    """Random arrays of objects shaped like `opa test` and conftest results."""
    values = json_values(max_leaves=4)
    keys = draw(st.sampled_from([("package", "name"), ("filename", "successes")]))
    extra = (
        "fail",
        "error",
        "skip",
        "duration",
        "failures",
        "warnings",
        "exceptions",
        "namespace",
        "location",
    )
    items = draw(
        st.lists(
            st.fixed_dictionaries({key: values for key in keys}, optional={key: values for key in extra}),
            min_size=1,
            max_size=4,
        )
    )
    return json.dumps(items).encode()


@pytest.mark.timeout(300)
@examples(80)
@given(data=array_reports())
def test_random_opa_test_and_conftest_arrays(data: bytes) -> None:
    parse_and_check(data, "ci/policy.json", "scans-random")


@pytest.mark.timeout(300)
@examples(100)
@given(
    data=st.one_of(
        json_values(max_leaves=20).map(lambda doc: json.dumps(doc).encode()), st.binary(max_size=400)
    )
)
def test_random_json_and_bytes(data: bytes) -> None:
    parse_and_check(data, "upload.bin", "scans-random")
