"""The PR body and release notes, in the seed's shape, with the measured figures filled in.

The seed's documents have blanks where the figures go; these carry every SLO's measured value,
its target, confidence interval, sample size and verdict, the RC, the date and the bundle
location. A verdict other than PASS opens both documents, naming what failed and why, so
nobody ships a failed candidate because the bad news sat in a table further down. The prose
(title, highlights, rollback) comes from a narrative file beside the templates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jinja2
import polars as pl
import pydantic
from markupsafe import Markup

from verification_pipeline.artifacts.cost_lines import cost_summary
from verification_pipeline.config_files import load_yaml_with_lines, validate
from verification_pipeline.errors import ConfigError, InputError
from verification_pipeline.formatting import measured, unit_symbol
from verification_pipeline.slo.document import health_summary
from verification_pipeline.slo.metrics import cannot_exclude, dependence_summary
from verification_pipeline.textsafe import for_code_span, for_markdown, mark_verdict_words
from verification_pipeline.verdict import Verdict

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
NARRATIVE_FILE = TEMPLATES_DIR / "release_narrative.yaml"
SLO_METRICS_COLUMNS = (
    "name",
    "n",
    "value",
    "threshold",
    "unit",
    "ci_low",
    "ci_high",
    "confidence",
    "verdict",
    "reason",
)
# A narrative's title: text with something in it, its edges trimmed; no number or list taken for one.
_Title = Annotated[
    str, pydantic.Field(strict=True), pydantic.StringConstraints(strip_whitespace=True, min_length=1)
]
ROW_VERDICTS = (Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE)
VERDICT_WORDS = {
    Verdict.PASS: "PASSED",
    Verdict.FAIL: "FAILED",
    Verdict.INCONCLUSIVE: "INCONCLUSIVE",
    Verdict.INCOMPLETE: "INCOMPLETE",
}


class ReleaseNarrative(pydantic.BaseModel):
    """The words a person writes for a release; the pipeline fills in the numbers.

    Read from a YAML file (`load_narrative`): the titles non-empty text, the rest lists of text;
    keys it does not know are left alone."""

    model_config = pydantic.ConfigDict(frozen=True)

    title: _Title
    """The PR body's title, after the version."""
    release_title: _Title
    """The release notes' title, after the version."""
    what: tuple[str, ...]
    """The PR body's "What" items."""
    why: tuple[str, ...]
    """The PR body's "Why" items."""
    highlights: tuple[str, ...]
    """The release notes' highlights."""
    rollback: tuple[str, ...]
    """The PR body's rollback steps."""
    ops_notes: tuple[str, ...]
    """The release notes' notes for operators."""


def release_doc_names(version: str) -> tuple[str, str]:
    """`PR_BODY_<version>.md`, `RELEASE_NOTES_<version>.md`, as the seed names them."""
    return f"PR_BODY_{version}.md", f"RELEASE_NOTES_{version}.md"


def load_narrative(data: bytes | None = None, *, source: str = str(NARRATIVE_FILE)) -> ReleaseNarrative:
    """Read a narrative YAML (the seed's v24.1 text when `data` is None); a ConfigError names the
    file, the field and its line."""
    raw = NARRATIVE_FILE.read_bytes() if data is None else data
    loaded = load_yaml_with_lines(raw, source=source)
    if not isinstance(loaded.document, dict):
        raise ConfigError("expected a mapping of narrative fields", source=source)
    return validate(ReleaseNarrative, loaded.document, source=source, lines=loaded.lines)


def render_release_docs(
    slo_metrics: pl.DataFrame,
    *,
    version: str,
    rc: str,
    date: dt.date,
    evidence_uri: str,
    verdict: Verdict | str,
    labels: Mapping[str, str] | None = None,
    findings: Sequence[str] = (),
    narrative: ReleaseNarrative | None = None,
    baseline: Mapping[str, Any] | None = None,
    measurement_health: Mapping[str, Any] | None = None,
    authz: Mapping[str, Any] | None = None,
    policies: Sequence[Mapping[str, Any]] | None = None,
    overload: Mapping[str, Any] | None = None,
    cost: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """`{file name: markdown}` for the PR body and the release notes of one verified RC.

    `slo_metrics` is the `slo_metrics` asset (one row per SLO, "value <= threshold", at least
    the columns `SLO_METRICS_COLUMNS`, the bounds one-sided at `confidence`; the dependence
    diagnostics `lag1_autocorrelation`, `effective_n`, `dispersion_index`, `interval_method`
    are shown when present);
    `evidence_uri` is where the RC's bundles go (`s3://<bucket>/<prefix>/<rc>/`): these documents
    are signed inside a bundle, so they cannot name its run-specific URI;
    `verdict` is the RC's verdict (`gates.rc_verdict`); `labels`
    maps SLO names to display names (`ops.model.from_spec` titles: "Read p95");
    `findings` are further reasons for a non-PASS verdict (a failed scan gate, a missing file), or
    under PASS the warnings that do not block it (the baseline comparison's WARN);
    `baseline` is slo/baseline.json (the comparison with the previous RC), None when none was made;
    `measurement_health` the section of slo/metrics.json saying whether the clients measured the
    service or themselves (one line under the SLO table), None when not recorded;
    `authz` is policy/authz_under_load.json (forbidden requests under load), shown under "Policy and
    cost controls under load";
    `overload` is slo/overload.json (one tenant past its rate limit), shown in the same section;
    `cost` is cost/resources.json (cost per request against the baseline), shown under the same heading;
    `policies` is the policy gate's table (one row per rule and file), None when there is none.
    """
    records = _records(slo_metrics)
    rows = [_row(record, labels or {}) for record in records]
    doc = _document(
        rows,
        version=version,
        rc=rc,
        date=date,
        evidence_uri=evidence_uri,
        verdict=verdict,
        findings=findings,
        confidence=float(records[0]["confidence"]),
    )
    context = {
        "doc": doc,
        "health": health_summary(measurement_health) if measurement_health is not None else None,
        "comparison": _comparison(baseline, labels or {}),
        "policies": policy_summary(policies),
        "narrative": _trusted(narrative or load_narrative()),
        "controls": None
        if authz is None
        else {**authz, "reason": mark_verdict_words(authz.get("reason") or "")},
        "overload": overload,
        "cost": cost_summary(cost),
    }
    pr_name, notes_name = release_doc_names(version)
    environment = _environment()
    return {
        pr_name: environment.get_template("PR_BODY.md.j2").render(context),
        notes_name: environment.get_template("RELEASE_NOTES.md.j2").render(context),
    }


def _trusted(narrative: ReleaseNarrative) -> ReleaseNarrative:
    """The narrative is prose the release's author wrote, Markdown meant as Markdown."""
    fields: dict[str, Any] = {
        name: Markup(value) if isinstance(value, str) else tuple(Markup(item) for item in value)
        for name, value in narrative
    }
    return ReleaseNarrative.model_construct(**fields)  # validated when read; Markup kept as it is


@dataclass(frozen=True)
class _Row:
    name: str
    label: str
    target: str
    measured: str
    ci: str
    n: str
    dependence: str
    verdict: str
    reason: str
    # What the evidence behind the verdict could have missed (fewer bursts than its level is
    # stated for), shown under a PASS too: its reason is not printed there.
    limit: str | None


@dataclass(frozen=True)
class _Document:
    version: str
    rc: str
    date: str
    evidence_uri: str
    verdict: str
    verdict_word: str
    headline: str
    ci_header: str
    level: str
    rows: list[_Row]
    not_passed: list[_Row]
    findings: list[str]
    limits: list[str]
    targets_line: str
    figures_line: str


def _records(slo_metrics: pl.DataFrame) -> list[dict[str, Any]]:
    missing = [column for column in SLO_METRICS_COLUMNS if column not in slo_metrics.columns]
    if missing:
        raise InputError(
            f"slo_metrics lacks column(s) {', '.join(missing)}; it has {', '.join(slo_metrics.columns)}",
            source="slo_metrics",
            field=missing[0],
        )
    if slo_metrics.height == 0:
        raise InputError("slo_metrics has no rows: there are no figures to report", source="slo_metrics")
    return list(slo_metrics.iter_rows(named=True))


def _row(record: Mapping[str, Any], labels: Mapping[str, str]) -> _Row:
    name = str(record["name"])
    verdict = str(record["verdict"]).upper()
    if verdict not in set(ROW_VERDICTS):
        raise InputError(
            f"verdict {record['verdict']!r} of SLO {name!r} is not one of {', '.join(ROW_VERDICTS)}",
            source="slo_metrics",
            field="verdict",
        )
    unit = str(record["unit"] or "")
    low, high = record["ci_low"], record["ci_high"]
    return _Row(
        name=name,
        label=mark_verdict_words(labels.get(name) or name.replace("_", " ").capitalize()),
        target=f"≤ {_figure(record['threshold'], unit, exact=True)}",
        measured=_figure(record["value"], unit) if record["value"] is not None else "no data",
        ci=_interval(low, high, unit),
        n=f"{int(record['n']):,}" if record["n"] is not None else "—",
        dependence=dependence_summary(record),
        verdict=verdict,
        reason=mark_verdict_words(str(record["reason"] or "").strip()),
        limit=_marked(cannot_exclude(str(record["reason"] or ""))),
    )


def _marked(text: str | None) -> str | None:
    return None if text is None else mark_verdict_words(text)


@dataclass(frozen=True)
class _ComparisonRow:
    label: str
    change: str
    estimate: str
    ratio: str
    p_value: str
    effect_size: str
    verdict: str


@dataclass(frozen=True)
class _Comparison:
    headline: Markup
    rows: list[_ComparisonRow]


def _comparison(baseline: Mapping[str, Any] | None, labels: Mapping[str, str]) -> _Comparison:
    """slo/baseline.json as a headline and a table; its absence is said, never left blank."""
    if baseline is None:
        return _Comparison(Markup("No comparison with an earlier RC was made for this document."), [])
    if baseline.get("status") != "COMPARED":
        return _Comparison(
            Markup("**No baseline ({}):** {}.").format(
                for_markdown(baseline["verdict"]), for_markdown(mark_verdict_words(baseline["reason"]))
            ),
            [],
        )
    info = baseline["baseline"]
    rows = [
        _ComparisonRow(
            label=mark_verdict_words(labels.get(row["slo"]) or row["slo"]),
            change=row["classification"] or "not compared",
            estimate=_change(row),
            ratio=_estimate(row.get("p95_ratio"), "×", ".3f"),
            p_value="—" if row["p_value"] is None else f"{row['p_value']:.2g}",
            effect_size="—" if row["effect_size"] is None else f"{row['effect_size']:+.2f}",
            verdict=row["verdict"],
        )
        for row in baseline["slos"]
    ]
    # which design produced the figures (issue 24); a document without the field is sequential
    where = (
        "measured beside this RC in the same run, concurrent design"
        if baseline.get("design") == "concurrent"
        else f"commit {info.get('commit') or 'unknown'}, its signed bundle verified"
    )
    return _Comparison(
        Markup("Against {} ({}), at {} % confidence: **{}** ({}).").format(
            *(
                for_markdown(part)
                for part in (
                    mark_verdict_words(info["rc"]),
                    mark_verdict_words(where),
                    f"{baseline['confidence'] * 100:g}",
                    baseline["verdict"],
                    mark_verdict_words(baseline["reason"]),
                )
            )
        ),
        rows,
    )


def policy_summary(policies: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """The policy gate in a few lines: what was evaluated, then every failure (rule and file, message)."""
    if policies is None:
        return {"line": "No policy results were recorded for this document.", "rules": [], "failures": []}
    rules = sorted({mark_verdict_words(str(row["policy"]).split(" (")[0]) for row in policies})
    files = {str(row["target"]) for row in policies if row.get("target")}
    failed = [row for row in policies if row["failed"] or row.get("errors")]
    line = (
        f"{len(policies)} results: {len(rules)} rules on {len(files) or 'the'} file(s), "
        f"{len(policies) - len(failed)} passed, {len(failed)} failed"
    )
    failures = [
        {
            "policy": mark_verdict_words(row["policy"]),
            "message": mark_verdict_words(str(message).removeprefix("deny: ")),
        }
        for row in failed
        for message in row.get("messages") or []
    ]
    return {"line": line, "rules": rules if len(rules) <= 12 else [], "failures": failures}


def _change(row: Mapping[str, Any]) -> str:
    if row.get("shift_ms"):
        return _estimate(row["shift_ms"], "", "+.1f") + " ms"
    if row.get("rate_diff"):
        return _estimate(row["rate_diff"], "", "+.3f") + " pp"
    return "—"


def _estimate(figure: Mapping[str, Any] | None, prefix: str, spec: str) -> str:
    if not figure:
        return "—"
    low = "−∞" if figure["lower"] is None else format(figure["lower"], spec)
    high = "+∞" if figure["upper"] is None else format(figure["upper"], spec)
    return f"{prefix}{format(figure['estimate'], spec)} ({low} – {high})"


def _document(
    rows: list[_Row],
    *,
    version: str,
    rc: str,
    date: dt.date,
    evidence_uri: str,
    verdict: Verdict | str,
    findings: Sequence[str],
    confidence: float,
) -> _Document:
    word = str(verdict).upper()
    if word not in set(VERDICT_WORDS):
        raise InputError(
            f"overall verdict {word!r} is not one of {', '.join(VERDICT_WORDS)}", field="verdict"
        )
    verdict = Verdict(word)
    not_passed = [row for row in rows if row.verdict != Verdict.PASS]
    failed = [row for row in rows if row.verdict == Verdict.FAIL]
    if verdict is Verdict.PASS and not_passed:
        raise InputError(
            f"overall verdict PASS contradicts SLO {not_passed[0].name} ({not_passed[0].verdict})",
            field="verdict",
        )
    if verdict is Verdict.INCONCLUSIVE and failed:
        raise InputError(
            f"overall verdict INCONCLUSIVE hides SLO {failed[0].name} which FAILED", field="verdict"
        )
    rc = mark_verdict_words(rc)
    return _Document(
        version=version,
        rc=rc,
        date=date.isoformat(),
        evidence_uri=mark_verdict_words(evidence_uri),
        verdict=verdict.value,
        verdict_word=VERDICT_WORDS[verdict],
        headline=_headline(verdict, rc, rows, failed, not_passed),
        ci_header=f"{confidence * 100:g} % bounds",
        level=f"{confidence * 100:g} %",
        rows=rows,
        not_passed=not_passed,
        findings=[mark_verdict_words(finding) for finding in findings],
        limits=[f"{row.label}: {row.limit}" for row in rows if row.verdict == Verdict.PASS and row.limit],
        targets_line="; ".join(f"{row.label} {row.target}" for row in rows) + ".",
        figures_line=" · ".join(f"{row.label}: {row.measured} ({row.verdict})" for row in rows),
    )


def _headline(verdict: Verdict, rc: str, rows: list[_Row], failed: list[_Row], not_passed: list[_Row]) -> str:
    total = len(rows)
    if verdict is Verdict.FAIL:
        if failed:
            return f"{rc} missed {len(failed)} of {total} SLOs. Do not release it."
        return f"{rc} met its SLOs but failed another release gate. Do not release it."
    if verdict is Verdict.INCONCLUSIVE and not not_passed:
        return f"{rc} met its SLOs but the evidence cannot decide another release gate. Do not release on this evidence."
    if verdict is Verdict.INCONCLUSIVE:
        return (
            f"the evidence cannot show that {rc} meets its SLOs ({len(not_passed)} of {total} inconclusive). "
            "Do not release on this evidence."
        )
    return f"the evidence for {rc} is incomplete. Do not release on this evidence."


def _figure(value: float, unit: str, *, exact: bool = False, bare: bool = False) -> str:
    """A measurement as people read it: ms to 0.1, rates in percent to 0.001."""
    unit = unit_symbol(unit)
    number = f"{value:g}" if exact else measured(value, unit)
    if bare or not unit:
        return number
    return f"{number} {unit}"


def _interval(low: float | None, high: float | None, unit: str) -> str:
    """A CI, open-ended where the sample could not bound a side (too few points for it)."""
    if low is None and high is None:
        return "—"
    lower = "−∞" if low is None else _figure(low, unit, bare=True)
    upper = "+∞" if high is None else _figure(high, unit, bare=True)
    return f"{lower} – {upper} {unit_symbol(unit)}".rstrip()


def _markdown(value: object) -> Markup:
    """Every value a template prints, escaped for Markdown unless it is Markup already (the
    templates' own blocks, the narrative a person wrote): text from an input (an SLO name, a
    scan finding, a reason) cannot end a block, emphasise, link, embed HTML or make a heading,
    and a long one is cut with a marker."""
    return value if isinstance(value, Markup) else Markup(for_markdown(value))


def _code(value: object) -> Markup:
    """A value inside a code span the template opens and closes: no backtick of its own."""
    return Markup(for_code_span(value)[1:-1])


def _environment() -> jinja2.Environment:
    # Autoescaping on, with Markdown's escaping as `finalize`: what reaches the output is either
    # the template's own text or an escaped value, never raw input.
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        finalize=_markdown,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["cell"] = _markdown  # a table cell: `|` is escaped with the rest
    environment.filters["code"] = _code
    return environment
