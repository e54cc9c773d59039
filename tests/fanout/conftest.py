"""Shared helpers for the fan-out tests: where the seed's client scripts are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def seed_clients_dir() -> Path:
    """The seed's `clients/` folder: $VP_SEED_DIR, the repo's `seed/`, or `shared/seed` beside the repo."""
    candidates = [Path(os.environ["VP_SEED_DIR"]) / "clients"] if os.environ.get("VP_SEED_DIR") else []
    candidates += [REPO / "seed" / "clients", REPO.parent / "shared" / "seed" / "clients"]
    for candidate in candidates:
        if (candidate / "subscription_fanout.js").exists():
            return candidate
    raise FileNotFoundError(
        f"the seed's clients/ not found in {[str(c) for c in candidates]}; set VP_SEED_DIR"
    )


@pytest.fixture(scope="session")
def seed_fanout_script() -> Path:
    return seed_clients_dir() / "subscription_fanout.js"
