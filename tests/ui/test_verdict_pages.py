"""What a person sees in the Dagster UI after a run: the verdict as a filterable run tag, and the
charts embedded in the metadata of slo_metrics, fanout_latencies and release_decision, rendered
by a real browser. Screenshots go to .cache/screenshots/ (named in benchmarks/RESULTS.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugins.webserver import DagsterUI
from tests.report.conftest import SCREENSHOTS
from tests.ui.browser import Chromium
from tests.ui.test_materialize import RUN_CONFIG, launch_and_wait

pytestmark = pytest.mark.slow

RC = "v24.1.0-rc7"

RUN_TAGS = """
query RunTags($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { tags { key value } } }
}
"""

# The runs list's filter by tag is this query with a tag filter.
RUNS_WITH_TAG = """
query RunsWithTag($value: String!) {
  runsOrError(filter: {tags: [{key: "verdict", value: $value}]}) { ... on Runs { results { runId } } }
}
"""

VERDICTS = {"PASS", "WARN", "INCONCLUSIVE", "INCOMPLETE", "FAIL"}


@pytest.fixture(scope="module")
def decided_run(dagster_ui: DagsterUI) -> str:
    run_id, _status = launch_and_wait(dagster_ui, RC, RUN_CONFIG)
    return run_id


def test_the_run_carries_its_verdict_as_a_tag_the_runs_list_filters_on(
    dagster_ui: DagsterUI, decided_run: str
):
    tags = {
        t["key"]: t["value"]
        for t in dagster_ui.graphql(RUN_TAGS, {"runId": decided_run})["runOrError"]["tags"]
    }
    assert tags.get("verdict") in VERDICTS - {"INCOMPLETE"}, tags  # the run decided: it did not break
    found = dagster_ui.graphql(RUNS_WITH_TAG, {"value": tags["verdict"]})["runsOrError"]["results"]
    assert decided_run in {r["runId"] for r in found}


def test_the_runs_list_filtered_by_verdict_shows_the_run(
    dagster_ui: DagsterUI, decided_run: str, tmp_path: Path
):
    tags = {
        t["key"]: t["value"]
        for t in dagster_ui.graphql(RUN_TAGS, {"runId": decided_run})["runOrError"]["tags"]
    }
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with Chromium(tmp_path / "profile", window=(1600, 900)) as browser:
        browser.open(f"{dagster_ui.url}/runs?q[]=tag%3Averdict%3D{tags['verdict']}")
        missing = browser.wait_for_words({decided_run[:8], f"verdict={tags['verdict']}"})
        browser.screenshot(SCREENSHOTS / "ui-runs-by-verdict.png")
    assert decided_run[:8] not in missing


# Markdown metadata opens in a dialog from its row's "[Show Markdown]": the row to open, the images in it.
@pytest.mark.parametrize(
    ("asset", "row", "images"),
    [("slo_metrics", "charts", 4), ("fanout_latencies", "charts", 1), ("release_decision", "summary", 0)],
)
def test_asset_pages_render_the_charts_from_the_metadata(
    dagster_ui: DagsterUI, decided_run: str, tmp_path: Path, asset: str, row: str, images: int
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    open_row = (
        "(() => { const tr = [...document.querySelectorAll('tr')].find(r => r.cells.length > 1 && "
        f"r.cells[0].innerText.trim() === '{row}'); if (!tr) return false; "
        "const link = [...tr.querySelectorAll('*')].find(e => e.childElementCount === 0 && "
        "/Show Markdown/.test(e.innerText)); if (!link) return false; link.click(); return true; })()"
    )
    with Chromium(tmp_path / "profile", window=(1600, 1400)) as browser:
        browser.open(f"{dagster_ui.url}/assets/{asset}?view=events&partition={RC}")
        assert browser.wait_for_words({asset, row}) == set()
        assert browser.evaluate(open_row), f"no [Show Markdown] in the {row} row"
        texts = {"summary": {"share", "budget", "verify"}, "charts": set()}[row]
        assert browser.wait_for_words(texts, timeout=30) == set()
        shown = 0
        for _ in range(30):
            shown = browser.evaluate(
                "[...document.querySelectorAll('img[src^=\"data:image/png\"]')].filter(i => i.naturalWidth > 0).length"
            )
            if shown >= images:
                break
            browser.wait_for_words({"never-rendered"}, timeout=1)
        browser.screenshot(SCREENSHOTS / f"ui-{asset}.png")
        assert shown >= images
