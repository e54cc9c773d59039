"""Suite-wide settings: the real components' fixtures, and which tests measure time.

`make test` runs the suite as two pytest processes on the machine's two cores (scripts/test.sh):
the tests marked `timing` in the foreground at normal priority, one at a time, and every other
test beside them at the lowest CPU priority (nice 19), so that a pure-CPU test never takes a core
from a load test whose latency, or whose load generator's health, is part of what it asserts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.plugins.stack", "tests.plugins.target", "tests.plugins.postgres"]

# Folders whose tests drive real load, start the reference target, the store or the Dagster
# webserver, or assert on elapsed time or latency.
TIMING_FOLDERS = frozenset(
    {
        "authz",
        "cost",
        "fanout",
        "health",
        "loadtest",
        "overload",
        "pipeline",
        "reliability",
        "scale",
        "target",
        "ui",
    }
)
# Fixtures that start a real service: a test using one measures through it.
TIMING_FIXTURES = frozenset({"target", "start_target", "s3_stack", "s3_env"})
_TESTS = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    timing = pytest.mark.timing
    for item in items:
        folder = Path(str(item.path)).relative_to(_TESTS).parts[0]
        if (
            folder in TIMING_FOLDERS
            or item.get_closest_marker("slow") is not None
            or TIMING_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        ):
            item.add_marker(timing)
