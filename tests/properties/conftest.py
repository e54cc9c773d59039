"""Hypothesis profiles for the parser properties, and the session report of how many cases ran.

Profiles: `vp-properties` (dev, about a minute in all) and `vp-properties-ci` (selected by
`CI=true`, three times the examples). They are applied per test through `budget.examples`,
not loaded globally, so other areas' hypothesis tests keep their own settings.

At the end of the session the per-parser tally (cases, successes, typed errors, escapes,
seconds inside the parser) goes to `.cache/property-cases.json` at the repository root, and
one line `property cases: ...` is printed in the terminal summary, with the seed the session
ran with: Hypothesis draws at random, so a red run is replayed with `--hypothesis-seed=<seed>`
(a seed given that way is kept; otherwise one is drawn here and forced for the session).
"""

from __future__ import annotations

import json
import random
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.properties.budget import CI_PROFILE, DEV_PROFILE, active_profile
from tests.properties.tally import TALLY

_COMMON = {
    # A parse of a few KB takes milliseconds; ten seconds for one example is a hang, on any machine.
    "deadline": timedelta(seconds=10),
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    "print_blob": True,
}
settings.register_profile(DEV_PROFILE, **_COMMON)
settings.register_profile(CI_PROFILE, **_COMMON)

REPORT_PATH = Path(".cache") / "property-cases.json"
_HERE = Path(__file__).resolve().parent
_test_seconds: dict[str, float] = {}
_started = time.monotonic()
_seed: list[object] = []


def pytest_configure(config: pytest.Config) -> None:
    from hypothesis import core

    seed = config.getoption("hypothesis_seed", default=None)
    if seed is None:
        seed = random.SystemRandom().randrange(1 << 32)
        core.global_force_seed = seed  # what --hypothesis-seed would set: every test draws from it
    _seed[:] = [seed]


def _replay() -> str:
    return f"seed {_seed[0]} (replay: pytest --hypothesis-seed={_seed[0]})" if _seed else "seed unknown"


def _ours(nodeid: str) -> bool:
    return nodeid.replace("\\", "/").startswith("tests/properties/")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _ours(report.nodeid) and report.when == "call":
        _test_seconds[report.nodeid] = round(report.duration, 3)


def _summary_line() -> str:
    parts = ", ".join(f"{name} {entry.cases}" for name, entry in sorted(TALLY.items()))
    total = sum(entry.cases for entry in TALLY.values())
    known = sum(entry.known for entry in TALLY.values())
    return (
        f"property cases ({active_profile()}): {parts}; total {total} "
        f"({known} hit open bugs) in {time.monotonic() - _started:.0f} s; {_replay()}"
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not TALLY:
        return
    path = session.config.rootpath / REPORT_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "profile": active_profile(),
        "seed": _seed[0] if _seed else None,
        "total_cases": sum(entry.cases for entry in TALLY.values()),
        "wall_seconds": round(time.monotonic() - _started, 1),
        "parsers": {name: entry.as_json() for name, entry in sorted(TALLY.items())},
        "tests": dict(sorted(_test_seconds.items())),
    }
    path.write_text(json.dumps(report, indent=2) + "\n")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY:
        terminalreporter.write_line(_summary_line())
        terminalreporter.write_line(f"property case report: {REPORT_PATH}")
