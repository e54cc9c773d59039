"""Example budgets: one place sizes every property for a dev run or for CI.

The dev profile keeps the whole suite near a minute on a busy 2-core machine; CI (`CI=true`)
runs three times the examples and stays under three minutes. Tests ask for `examples(n)`
with their dev-size count instead of hard-coding `max_examples`, so the ratio between
parsers stays the same in both profiles. `VP_PROPERTY_SCALE=10` multiplies every budget
for a longer bug hunt by hand.
"""

from __future__ import annotations

import os

from hypothesis import settings

DEV_PROFILE = "vp-properties"
CI_PROFILE = "vp-properties-ci"
CI_SCALE = 3


def active_profile() -> str:
    return CI_PROFILE if os.environ.get("CI", "").lower() == "true" else DEV_PROFILE


def examples(dev_count: int) -> settings:
    """The active profile's settings with `dev_count` examples (scaled up under CI or by hand)."""
    scale = (CI_SCALE if active_profile() == CI_PROFILE else 1) * float(
        os.environ.get("VP_PROPERTY_SCALE", "1")
    )
    return settings(settings.get_profile(active_profile()), max_examples=max(1, round(dev_count * scale)))
