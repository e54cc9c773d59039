"""Evidence-bundle verification (`verify_files`, `verify_path` on directories and tar.gz) under
mutated and hostile input.

Two kinds of property:
- integrity: any change to a signed file, a missing or an extra file fails verification, naming
  the file; a mutated attestation that still verifies must report exactly what the original did;
- robustness: whatever the bytes, members, names or signed-but-malformed statements, the only
  outcome besides success is our typed error (VerificationFailed or InputError), and reading an
  archive never writes anything to disk.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.properties.budget import examples
from tests.properties.bundle_seed import (
    BUNDLE,
    FAMILY,
    FILES,
    NAMES,
    RC,
    REFERENCE,
    SIGNED,
    SOURCE,
    STATEMENTS,
    TRUSTED,
    report_invariants,
    same_claims,
    sign_all,
    verify,
    with_subject,
)
from tests.properties.mutations import dumps_with_tokens, json_values, mutated_bytes, mutated_json
from tests.properties.oracles import typed_outcome
from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.bundle_io import archive_bytes, write_directory
from verification_pipeline.evidence.layout import ATTESTATIONS, MANIFEST
from verification_pipeline.evidence.statements import (
    EXTENSION,
    TEST_RESULT_PREDICATE,
    GateOutcome,
    build_test_result_statement,
)
from verification_pipeline.evidence.verify import VerificationReport, verify_files, verify_path

# --- integrity ------------------------------------------------------------------------------------


@pytest.mark.timeout(300)
@examples(80)
@given(name=st.sampled_from(SIGNED), data=st.data())
def test_any_change_to_a_signed_file_fails_naming_it(name: str, data: st.DataObject) -> None:
    changed = data.draw(mutated_bytes(FILES[name]).filter(lambda b: b != FILES[name]))
    files = {**FILES, name: changed}
    assert verify(files, "bundle-files") is None, f"{name} was changed and the bundle still verified"
    with pytest.raises(VerificationFailed, match=name.replace(".", r"\.")):
        verify_files(files, TRUSTED, source=SOURCE)


@st.composite
def member_names(draw: st.DrawFn) -> str:
    return draw(
        st.one_of(
            st.sampled_from(
                [
                    "slo/fanout.json",
                    "extra.txt",
                    "raw/extra.parquet",
                    "../escape",
                    "/etc/passwd",
                    "a//b",
                    "./x",
                    "a\\b",
                    "x\x00y",
                    "",
                    "a/",
                    ".hidden",
                    "evidence/v24.1/slo/read.json",
                    "x" * 600,
                    "caf\u00e9.json",
                    ATTESTATIONS + ".bak",
                    "MANIFEST.JSON",
                ]
            ),
            st.text(min_size=1, max_size=30),
        )
    )


@pytest.mark.timeout(300)
@examples(80)
@given(
    removed=st.sets(st.sampled_from(NAMES), max_size=4),
    added=st.dictionaries(member_names(), st.binary(max_size=40), max_size=3),
)
def test_missing_or_extra_files_fail(removed: set[str], added: dict[str, bytes]) -> None:
    files = {name: data for name, data in FILES.items() if name not in removed}
    files.update({name: data for name, data in added.items() if name not in FILES})
    report = verify(files, "bundle-files", names=list(added))
    if files != dict(FILES):
        assert report is None, f"removed {sorted(removed)}, added {sorted(added)} and it still verified"


@st.composite
def mutated_attestations(draw: st.DrawFn) -> bytes:
    """Envelope lines edited as JSON (types swapped, keys deleted, tokens) or as bytes and lines."""
    raw = FILES[ATTESTATIONS]
    if draw(st.booleans()):
        return draw(mutated_bytes(raw))
    lines = [json.loads(line) for line in raw.splitlines()]
    at = draw(st.integers(0, len(lines) - 1))
    lines[at] = draw(mutated_json(lines[at], max_edits=2))
    return b"\n".join(dumps_with_tokens(line).encode("utf-8", "surrogatepass") for line in lines) + b"\n"


@pytest.mark.timeout(300)
@examples(150)
@given(attestations=mutated_attestations())
def test_mutated_attestations(attestations: bytes) -> None:
    """Either refused, or (keyid changed, whitespace, an extra signature) it reports the same claims."""
    report = verify({**FILES, ATTESTATIONS: attestations}, "bundle-attestations")
    if report is not None:
        assert same_claims(report), f"an edited attestation verified with different claims: {report}"


# --- signed but malformed content -----------------------------------------------------------------


@pytest.mark.timeout(300)
@examples(150)
@given(data=st.data())
def test_signed_statements_with_malformed_content(data: st.DataObject) -> None:
    """A producer bug, not an attacker: statements signed by the trusted key but with fields of the
    wrong type, missing keys or hostile values must still end in our error, never a traceback."""
    statements = json.loads(json.dumps(STATEMENTS))
    at = data.draw(st.integers(0, len(statements) - 1))
    statements[at] = data.draw(mutated_json(statements[at], max_edits=2))
    verify({**FILES, ATTESTATIONS: sign_all(statements)}, "bundle-signed")


@pytest.mark.timeout(300)
@examples(100)
@given(data=st.data())
def test_signed_malformed_manifest(data: st.DataObject) -> None:
    """manifest.json edited, its new digest signed into both statements: the manifest checks decide."""
    manifest = json.loads(FILES[MANIFEST])
    edited = dumps_with_tokens(data.draw(mutated_json(manifest, max_edits=2)))
    body = edited.encode("utf-8", "surrogatepass")
    statements = with_subject(json.loads(json.dumps(STATEMENTS)), MANIFEST, body)
    report = verify({**FILES, MANIFEST: body, ATTESTATIONS: sign_all(statements)}, "bundle-signed")
    if report is not None:
        assert report.verdict == REFERENCE.verdict and report.release_candidate == REFERENCE.release_candidate


@pytest.mark.timeout(300)
@examples(60)
@given(
    payload=st.one_of(
        st.binary(max_size=200), json_values(max_leaves=10).map(lambda v: json.dumps(v).encode())
    )
)
def test_signed_random_payloads(payload: bytes) -> None:
    """Any payload bytes under a valid signature: our error."""
    second = dumps_with_tokens(STATEMENTS[1]).encode()
    assert verify({**FILES, ATTESTATIONS: sign_all([], [payload, second])}, "bundle-signed") is None


# --- signed figures that contradict their verdicts ------------------------------------------------

_FIGURE = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def contradicting_gates(draw: st.DrawFn) -> dict:
    """A gate whose signed verdict its own signed figures refute (an independent statement of the
    SLO, delivery-ratio, scan and baseline rules: what makes each verdict impossible, not how
    verify decides). Every other signed figure is consistent, so the verdict is the one lie."""
    case = draw(st.sampled_from(sorted(_CASES)))
    return draw(_CASES[case]())


def _slo_case() -> st.SearchStrategy[dict]:
    @st.composite
    def build(draw: st.DrawFn) -> dict:
        threshold = draw(st.floats(min_value=1, max_value=1e4, allow_nan=False))
        above = draw(
            st.floats(min_value=threshold * 1.0001 + 1e-9, max_value=threshold * 100, allow_nan=False)
        )
        at_most = draw(st.floats(min_value=0, max_value=threshold, allow_nan=False))
        minimum = draw(st.integers(1, 10_000))
        n = draw(st.integers(minimum, 10**7))  # enough samples: the figures alone decide
        sizes = {"n": n, "min_samples": minimum}
        case = draw(st.sampled_from(["pass-breached", "lower-bound-above", "fail-within", "warn", "too-few"]))
        if case == "pass-breached":  # PASS although the value or the upper bound is above the threshold
            breached = draw(st.sampled_from(["value", "ci_high"]))
            figures = {"value": at_most, "ci_high": at_most, breached: above}
            return {"name": "slo:read_p95", "verdict": "PASS", "threshold": threshold, **figures, **sizes}
        if case == "lower-bound-above":  # the lower bound above the threshold is a FAIL, nothing else
            verdict = draw(st.sampled_from(["PASS", "INCONCLUSIVE", "WARN"]))
            figures = {"ci_low": above, "value": above}
            return {"name": "slo:read_p95", "verdict": verdict, "threshold": threshold, **figures, **sizes}
        if case == "fail-within":  # FAIL although every figure is within the threshold
            figures = {"value": at_most, "ci_low": at_most, "ci_high": at_most}
            return {"name": "slo:read_p95", "verdict": "FAIL", "threshold": threshold, **figures, **sizes}
        if case == "too-few":  # PASS on fewer samples than the signed min_samples
            few = {
                "n": draw(st.integers(0, minimum - 1)) if minimum > 1 else 0,
                "min_samples": max(minimum, 1),
            }
            figures = {"value": at_most, "ci_low": at_most, "ci_high": at_most}
            return {"name": "slo:read_p95", "verdict": "PASS", "threshold": threshold, **figures, **few}
        # an SLO gate never WARNs
        return {
            "name": "slo:read_p95",
            "verdict": "WARN",
            "threshold": threshold,
            "value": draw(_FIGURE),
            **sizes,
        }

    return build()


def _ratio_case() -> st.SearchStrategy[dict]:
    @st.composite
    def build(draw: st.DrawFn) -> dict:
        minimum = draw(st.floats(min_value=0.01, max_value=1, allow_nan=False))
        ratio = draw(st.floats(min_value=0, max_value=1, allow_nan=False))
        verdict = "FAIL" if ratio >= minimum else "PASS"
        return {
            "name": "slo:fanout_delivery_ratio",
            "verdict": verdict,
            "delivery_ratio": ratio,
            "min_delivery_ratio": minimum,
        }

    return build()


_COUNT = st.integers(0, 50)
_VERDICTS = ["PASS", "WARN", "INCONCLUSIVE", "FAIL"]


def _scan_case() -> st.SearchStrategy[dict]:
    @st.composite
    def build(draw: st.DrawFn) -> dict:
        kind = draw(st.sampled_from(["sbom", "vulnerabilities", "policies"]))
        if kind == "sbom":  # PASS only with at least one component listed
            components = draw(st.one_of(st.none(), _COUNT))
            truth = "PASS" if components else "FAIL"
            figures = {"components": components, "min_components": 1}
            name = "scan:sbom_present"
        elif kind == "vulnerabilities":  # any Critical, or a High with a fix, not waived, fails
            found = {s: draw(_COUNT) for s in ("Critical", "High", "Medium")}
            fixable = {s: draw(st.integers(0, found[s])) for s in found}
            breaching = found["Critical"] + fixable["High"]
            waived = draw(st.integers(0, breaching))
            figures = {
                "by_severity": found,
                "fixable_by_severity": fixable,
                "fail_on": ["Critical"],
                "fail_on_fixable": ["High"],
                "waived": waived,
                "violations": breaching - waived,
                "max_violations": 0,
            }
            truth, name = ("FAIL" if breaching > waived else "PASS"), "scan:vulnerability_policy_met"
        else:  # a failure or an error fails; nothing passed is not a pass
            counts = {k: draw(_COUNT) for k in ("passed", "failed", "errors", "warnings")}
            truth = (
                "FAIL"
                if counts["failed"] + counts["errors"]
                else "PASS"
                if counts["passed"]
                else "INCONCLUSIVE"
            )
            figures, name = {"counts": counts, "max_failures": 0}, "scan:policies_pass"
        verdict = draw(st.sampled_from([v for v in _VERDICTS if v != truth]))
        return {"name": name, "verdict": verdict, **figures}

    return build()


def _baseline_case() -> st.SearchStrategy[dict]:
    @st.composite
    def build(draw: st.DrawFn) -> dict:
        fail = draw(st.booleans())
        regression, undecided = ("FAIL", "INCONCLUSIVE") if fail else ("WARN", "WARN")
        limit = 1 + draw(st.floats(min_value=0, max_value=100, allow_nan=False)) / 100
        n = {"n_current": draw(st.integers(30, 10**6)), "n_baseline": draw(st.integers(30, 10**6))}
        scenario = draw(st.sampled_from(["regression", "no-change", "too-few"]))
        if scenario == "regression":  # slower, and the whole ratio interval above the tolerance
            low = draw(st.floats(min_value=0.001, max_value=100, allow_nan=False))
            shift = {"estimate": low * 2, "lower": low, "upper": low * 3}
            ratio_low = limit * draw(st.floats(min_value=1.001, max_value=10, allow_nan=False))
            ratio = {"estimate": ratio_low * 1.1, "lower": ratio_low, "upper": ratio_low * 1.2}
            classification, truth = "slower", regression
        elif scenario == "no-change":  # the shift interval holds 0: no change to call
            shift = {"estimate": 0.0, "lower": -draw(_FIGURE), "upper": draw(_FIGURE)}
            ratio = {"estimate": 1.0, "lower": 0.5, "upper": 2.0}
            classification, truth = "no_change", "PASS"
        else:  # fewer than 30 samples on a side: never called
            n["n_baseline"] = draw(st.integers(0, 29))
            shift, ratio, classification, truth = None, None, None, undecided
        verdict = draw(st.sampled_from([v for v in _VERDICTS if v != truth]))
        row = {
            "slo": "read_p95",
            "kind": "latency",
            **n,
            "shift_ms": shift,
            "p95_ratio": ratio,
            "rate_diff_pp": None,
            "classification": classification,
            "saturated": {"current": False, "baseline": False},
            "verdict": verdict,
        }
        policy = {
            "on_regression": "fail" if fail else "warn",
            "max_p95_increase_pct": (limit - 1) * 100,
            "max_error_rate_increase_pp": 0.1,
            "min_compared_samples": 30,
        }
        return {
            "name": "baseline:no_regression",
            "verdict": verdict,  # the gate follows its row: the row's verdict is the lie
            "status": "COMPARED",
            "policy": policy,
            "comparisons": [row],
        }

    return build()


_CASES = {"slo": _slo_case, "ratio": _ratio_case, "scan": _scan_case, "baseline": _baseline_case}


@pytest.mark.timeout(300)
@examples(120)
@given(gate=contradicting_gates())
def test_signed_figures_that_contradict_their_verdict_are_refused(gate: dict) -> None:
    """The predicate is rebuilt around the gate as the builder would (verdict, result and test
    lists follow from it, gateFigures marks it), so the figures are the one contradiction left;
    verify must see it and name the gate's verdict."""
    statements = json.loads(json.dumps(STATEMENTS))
    tested = next(s for s in statements if s["predicateType"] == TEST_RESULT_PREDICATE)
    detail = {k: v for k, v in gate.items() if k not in ("name", "verdict")}
    tested["predicate"] = build_test_result_statement(
        tested["subject"],
        RC,
        [GateOutcome(gate["name"], gate["verdict"], detail)],
        missing_files=tested["predicate"][EXTENSION]["missingFiles"],
        configuration=tested["predicate"]["configuration"],
    )["predicate"]
    with pytest.raises(
        VerificationFailed,
        match=r"gates\.0\.(comparisons\.0\.)?verdict\]: .* but its signed figures make it",
    ):
        verify_files({**FILES, ATTESTATIONS: sign_all(statements)}, TRUSTED, source=SOURCE)


# --- archives and directories -----------------------------------------------------------------------

ARCHIVE = archive_bytes(BUNDLE)


def verify_archive(
    data: bytes, label: str, *, suffix: str = ".tar.gz", added: list[str] | None = None
) -> VerificationReport | None:
    """verify_path on the bytes as an archive file in a fresh directory; nothing else may appear there."""
    with tempfile.TemporaryDirectory(prefix="vp-prop-") as tmp:
        path = Path(tmp) / f"bundle{suffix}"
        path.write_bytes(data)
        report = typed_outcome(
            label,
            lambda: verify_path(path, TRUSTED),
            source=str(path),
            family=FAMILY,
            names=[*NAMES, *(added or ())],
            invariants=report_invariants,
        )
        assert sorted(os.listdir(tmp)) == [path.name], "reading an archive wrote to disk"
        return report


@pytest.mark.timeout(300)
@examples(80)
@given(data=st.data())
def test_mutated_archive_bytes(data: st.DataObject) -> None:
    damaged = data.draw(mutated_bytes(ARCHIVE, max_edits=2))
    report = verify_archive(damaged, "bundle-archive")
    if report is not None:
        assert same_claims(report)


@pytest.mark.timeout(300)
@examples(40)
@given(cut=st.integers(0, len(ARCHIVE) - 1))
def test_truncated_archive_fails(cut: int) -> None:
    assert verify_archive(ARCHIVE[:cut], "bundle-archive") is None


MEMBER_TYPES = (
    tarfile.REGTYPE,
    tarfile.DIRTYPE,
    tarfile.SYMTYPE,
    tarfile.LNKTYPE,
    tarfile.FIFOTYPE,
    tarfile.CHRTYPE,
)


@st.composite
def hostile_archives(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """The real members plus hostile ones: traversal, absolute, links out, devices, duplicates,
    names outside the root, size headers that lie."""
    members = [(f"evidence/{RC.version}/{name}", tarfile.REGTYPE, FILES[name], "") for name in NAMES]
    added = []
    for _ in range(draw(st.integers(1, 3))):
        inner = draw(member_names())
        added.append(inner.split("\x00")[0])  # tar cuts a name at its first NUL
        name = draw(st.sampled_from([f"evidence/{RC.version}/{inner}", inner, f"evidence/other/{inner}"]))
        kind = draw(st.sampled_from(MEMBER_TYPES))
        link = draw(
            st.sampled_from(["/etc/passwd", "../../outside", f"evidence/{RC.version}/{MANIFEST}", ""])
        )
        members.insert(draw(st.integers(0, len(members))), (name, kind, draw(st.binary(max_size=30)), link))
    if draw(st.booleans()):
        del members[draw(st.integers(0, len(members) - 1))]
    raw = io.BytesIO()
    with tarfile.open(
        fileobj=raw, mode="w:gz", format=draw(st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]))
    ) as tar:
        for name, kind, content, link in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = link
            info.size = len(content) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(content) if kind == tarfile.REGTYPE else None)
    return raw.getvalue(), added


@pytest.mark.timeout(300)
@examples(80)
@given(case=hostile_archives())
def test_hostile_archive_members(case: tuple[bytes, list[str]]) -> None:
    """Nothing extracted, nothing followed: our error (or, if only harmless members moved, the same claims).
    Errors name the archive or the member at fault."""
    archive, added = case
    report = verify_archive(archive, "bundle-archive", added=added)
    if report is not None:
        assert same_claims(report)


@pytest.mark.timeout(300)
@examples(60)
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".tar.gz", ".tgz", ".json", ""]))
def test_random_bytes_as_a_bundle_file(data: bytes, suffix: str) -> None:
    assert verify_archive(data, "bundle-archive", suffix=suffix) is None


# Each edit, and the entry its error may name instead of the directory.
DIRECTORY_EDITS = {
    "symlink-out": None,
    "symlink-in": None,
    "fifo": "stray.fifo",
    "extra-dir": "stray/deeper/x",
    "second-version": None,
    "empty-file": None,
    "nested-evidence": f"evidence/{RC.version}/x",
}


@pytest.mark.timeout(300)
@examples(40)
@given(edit=st.sampled_from(sorted(DIRECTORY_EDITS)), name=st.sampled_from(NAMES))
def test_directory_with_links_devices_or_extra_entries(edit: str, name: str) -> None:
    with tempfile.TemporaryDirectory(prefix="vp-prop-") as tmp:
        root = write_directory(BUNDLE, Path(tmp))
        target = root / name
        apply_directory_edit(edit, root, target)
        report = typed_outcome(
            "bundle-dir",
            lambda: verify_path(Path(tmp), TRUSTED),
            source=tmp,
            family=FAMILY,
            names=[*NAMES, DIRECTORY_EDITS[edit] or ""],
            invariants=report_invariants,
        )
        assert report is None, f"directory edit {edit} on {name} still verified"


def apply_directory_edit(edit: str, root: Path, target: Path) -> None:
    if edit in ("symlink-out", "symlink-in"):
        target.unlink()
        inside = root / (ATTESTATIONS if target.name == MANIFEST else MANIFEST)
        target.symlink_to("/etc/hostname" if edit == "symlink-out" else inside)
    elif edit == "fifo":
        os.mkfifo(root / "stray.fifo")
    elif edit in ("extra-dir", "nested-evidence"):
        folder = root / ("stray/deeper" if edit == "extra-dir" else f"evidence/{RC.version}")
        folder.mkdir(parents=True)
        (folder / "x").write_bytes(b"x")
    elif edit == "second-version":
        (root.parent / "v24.2").mkdir()
    else:
        target.write_bytes(b"")


def test_the_reference_bundle_verifies() -> None:
    """The seed the properties mutate is itself a valid bundle, as a mapping and as an archive."""
    assert REFERENCE.verdict == "INCOMPLETE" and REFERENCE.missing_files == ("slo/fanout.json",)
    assert same_claims(verify_path_bytes(ARCHIVE))


def verify_path_bytes(data: bytes) -> VerificationReport:
    with tempfile.TemporaryDirectory(prefix="vp-prop-") as tmp:
        path = Path(tmp) / "bundle.tar.gz"
        path.write_bytes(data)
        return verify_path(path, TRUSTED)
