"""A real browser (Debian's Chromium, headless) renders the asset graph pages with our assets."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from tests.plugins.webserver import LOCATION_NAME, DagsterUI
from tests.ui.browser import Chromium

pytestmark = pytest.mark.slow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assets_by_group() -> dict[str, set[str]]:
    from verification_pipeline.definitions import defs as load_defs

    defs = load_defs()

    graph = defs.resolve_asset_graph()
    groups: dict[str, set[str]] = defaultdict(set)
    for key in graph.get_all_asset_keys():
        groups[graph.get(key).group_name].add(key.to_user_string())
    return dict(groups)


def test_each_asset_group_page_renders_its_assets(dagster_ui: DagsterUI, tmp_path: Path):
    groups = assets_by_group()
    missing: dict[str, set[str]] = {}
    # tall enough for the release group, whose bundle step has many upstream assets in other groups
    with Chromium(tmp_path / "profile", window=(1920, 2400)) as browser:
        for group, assets in sorted(groups.items()):
            browser.open(f"{dagster_ui.url}/locations/{LOCATION_NAME}/asset-groups/{group}")
            not_rendered = browser.wait_for_words(assets)
            shot = browser.screenshot(tmp_path / f"asset-group-{group}.png")
            assert shot.read_bytes().startswith(PNG_MAGIC)
            if not_rendered:
                missing[group] = not_rendered
    assert missing == {}, f"asset names not rendered (screenshots in {tmp_path})"
