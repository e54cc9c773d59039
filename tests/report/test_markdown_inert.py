"""The Dagster UI's Markdown metadata (`report/markdown.py`) shows input text, never lays it out:
an SLO name, a comparison's reason, an RC tag, a unit or a URI holding Markdown, HTML or control
characters is rendered (markdown-it, CommonMark as the UI renders it) without an image, a link,
a tag, a heading or a bold verdict of its own."""

from __future__ import annotations

import html as html_lib
import re

from markdown_it import MarkdownIt

from tests.evidence.test_hostile_text import HUGE_ID, PAYLOAD
from verification_pipeline.report.markdown import (
    budget_table_markdown,
    comparison_chart_markdown,
    decision_markdown,
)

_ROW = {
    "name": f"read_p95 {PAYLOAD}",
    "verdict": "FAIL",
    "value": 401.0,
    "threshold": 350.0,
    "unit": f"ms {PAYLOAD}",
    "ci_low": 380.0,
    "ci_high": 430.0,
    "confidence": 0.95,
    "n": 6,
}


def _rendered(markdown: str) -> str:
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    assert "<img" not in html and "<script" not in html, html
    assert not re.search(r'href="javascript:', html), html
    assert not re.search(r"<h[1-6]>\s*h", html), html
    assert "\x1b" not in html
    return html


def test_every_input_text_in_the_ui_markdown_is_inert() -> None:
    metrics = {"slos": [_ROW]}
    html = _rendered(budget_table_markdown(metrics))
    assert "&lt;img src=x onerror=alert(2)&gt;" in html  # shown, as text
    assert not [b for b in re.findall(r"<strong>([^<]*)</strong>", html) if "PASS" in b]

    html = _rendered(comparison_chart_markdown({"status": "NO_BASELINE", "reason": PAYLOAD}))
    assert not [b for b in re.findall(r"<strong>([^<]*)</strong>", html) if "PASS" in b]

    compared = {
        "status": "COMPARED",
        "verdict": "WARN",
        "rc": "v24.1.0-rc2",
        "baseline": {"rc": PAYLOAD},
        "slos": [{"slo": PAYLOAD, "kind": "error_rate", "classification": HUGE_ID, "verdict": "WARN"}],
    }
    markdown = comparison_chart_markdown(compared)
    html = _rendered(markdown)
    assert HUGE_ID not in markdown and "more characters cut]" in markdown
    assert not [b for b in re.findall(r"<strong>([^<]*)</strong>", html) if "Verdict: PASS" in b]

    markdown = decision_markdown(
        rc=f"v24.1.0-rc1\x1b[2K{PAYLOAD}",
        verdict="FAIL",
        why=PAYLOAD,
        metrics=metrics,
        bundle_uri="s3://b/x```\n# h\n```",
        public_key="k.pub",
        key_fingerprint="SHA256:ab`<img src=x>",
        dev_key=False,
    )
    html = _rendered(markdown)
    assert html.count("<h1>") == 1 and "<h1>v24.1.0-rc1" in html
    assert not [b for b in re.findall(r"<strong>([^<]*)</strong>", html) if "PASS" in b]
    # the verify command stays one code block however many backticks the URI holds
    assert html.count("<pre>") == 1 and "# h" in re.search(r"<pre>(.*?)</pre>", html, re.DOTALL).group(1)


def test_a_failing_rcs_report_shows_pass_only_where_the_pipeline_states_a_verdict(
    inputs, report_html: bytes
) -> None:
    """The signed HTML report of a FAIL RC, with hostile text in the RC tag, every scan gate's
    reason, the baseline's reason and a failing policy's messages: it says PASS exactly as often
    as the same report from plain input (the passing SLOs' own cells), and shows the input's
    verdict words marked as quoted input."""
    import dataclasses

    from verification_pipeline.report.html import render_report

    scans = dict(inputs.scan_summary)
    scans["gates"] = [{**gate, "reason": PAYLOAD} for gate in scans.get("gates") or []]
    hostile = render_report(
        dataclasses.replace(
            inputs,
            rc=f"v24.1.0-rc2 PASSED {PAYLOAD}",
            scan_summary=scans,
            baseline={**(inputs.baseline or {}), "reason": PAYLOAD},
            policies=[{"policy": f"p {PAYLOAD}", "target": "x", "failed": 1, "messages": [PAYLOAD]}],
        )
    ).decode()
    text, plain = (
        html_lib.unescape(re.sub(r"<[^>]+>", "", page)) for page in (hostile, report_html.decode())
    )
    assert "<img src=x" not in hostile and "<script>x" not in hostile
    assert scans["gates"] and text.count("PASS") == plain.count("PASS")
    assert 'Verdict: [input text: "passed"].' in text
