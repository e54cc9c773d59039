"""Shared helpers for the fan-out tests: where the seed's client scripts are."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures import seed_clients_dir


@pytest.fixture(scope="session")
def seed_fanout_script() -> Path:
    return seed_clients_dir() / "subscription_fanout.js"
