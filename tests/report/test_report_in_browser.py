"""The signed report opens in a real browser (Debian's headless Chromium) offline: nothing is
fetched, nothing complains, every chart is drawn, and the figures shown are slo/metrics.json's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.report.conftest import SCREENSHOTS
from tests.ui.browser import Chromium

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LATENCY_SLOS = ("read_latency_p95", "write_latency_p95", "fanout_latency_p95", "ingest_latency_p95")


@pytest.fixture(scope="module")
def opened(report_html: bytes, tmp_path_factory: pytest.TempPathFactory):
    """The report loaded from a file:// URL with the network, console and log domains watched."""
    base = tmp_path_factory.mktemp("report-browser")
    page = base / "index.html"
    page.write_bytes(report_html)
    with Chromium(base / "profile", window=(1280, 900)) as browser:
        for domain in ("Network", "Runtime", "Log"):
            browser.call(f"{domain}.enable")
        browser.events.clear()
        browser.open(page.as_uri())
        browser.wait_for_event("Page.loadEventFired")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.full_page_screenshot(SCREENSHOTS / "report-index.png")
        yield browser, page.as_uri()


def test_the_report_fetches_nothing_but_itself(opened):
    browser, url = opened
    requested = [
        e["params"]["request"]["url"] for e in browser.events if e["method"] == "Network.requestWillBeSent"
    ]
    assert requested == [url]


def test_the_report_logs_no_error_and_throws_nothing(opened):
    browser, _ = opened
    complaints = [
        e
        for e in browser.events
        if e["method"] == "Runtime.exceptionThrown"
        or (
            e["method"] == "Runtime.consoleAPICalled"
            and e["params"]["type"] in ("error", "warning", "assert")
        )
        or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] in ("error", "warning"))
    ]
    assert complaints == []


def test_every_chart_is_drawn_as_an_svg_with_content(opened):
    browser, _ = opened
    charts = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('figure[data-chart]')].map(f => "
        "[f.dataset.chart, f.querySelector('svg') ? f.querySelector('svg').getBoundingClientRect().height : 0]))"
    )
    expected = {f"cdf-{name}" for name in LATENCY_SLOS} | {
        "timeline",
        "errors",
        "fanout",
        "baseline-shifts",
        "baseline-read_latency_p95",
        "baseline-write_latency_p95",
    }
    assert set(charts) == expected
    assert all(height > 100 for height in charts.values()), charts


def test_the_verdict_comes_first_and_names_the_tightest_slo(opened, sample):
    browser, _ = opened
    first = browser.evaluate("document.querySelector('h1').nextElementSibling.nextElementSibling.id")
    assert first == "verdict"
    banner = browser.evaluate("document.getElementById('verdict').innerText")
    # the error rate FAILs (16 failures in 4,200 requests) and uses most of its budget
    assert banner.startswith("FAIL: tightest: error_rate")


def _number(text: str) -> float:
    return float(re.match(r"[-+]?[\d.]+", text.strip()).group())


def test_the_figures_shown_are_those_of_metrics_json(opened, sample):
    browser, _ = opened
    shown = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#slos tr[data-slo]')].map(r => [r.dataset.slo, "
        "Object.fromEntries([...r.querySelectorAll('td[data-field]')].map(c => [c.dataset.field, c.innerText]))]))"
    )
    recorded = {row["name"]: row for row in sample["metrics"]["slos"]}
    assert set(shown) == set(recorded)
    for name, row in recorded.items():
        # rounded for display: ms to 0.1, percent to 0.001
        tolerance = 0.05 if row["unit"] == "ms" else 0.0005
        assert abs(_number(shown[name]["value"]) - row["value"]) <= tolerance, name
        assert abs(_number(shown[name]["threshold"]) - row["threshold"]) <= tolerance, name
        low, high = re.findall(r"[-+]?[\d.]+", shown[name]["interval"])[:2]
        assert (
            abs(float(low) - row["ci_low"]) <= tolerance and abs(float(high) - row["ci_high"]) <= tolerance
        ), name
        assert abs(_number(shown[name]["share"]) - 100 * row["value"] / row["threshold"]) <= 0.5, name


def test_the_screenshot_of_the_report_is_a_png(opened):
    assert (SCREENSHOTS / "report-index.png").read_bytes().startswith(PNG_MAGIC)
    assert Path(SCREENSHOTS / "report-index.png").stat().st_size > 50_000
