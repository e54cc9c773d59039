"""Where the benchmarks find the seed's client scripts: the copy in tests/fixtures, or $VP_SEED_DIR/clients."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def seed_clients() -> Path:
    """The seed's `clients/` folder; exits with a message when the chosen copy lacks the scripts."""
    override = os.environ.get("VP_SEED_DIR")
    clients = Path(override) / "clients" if override else REPO / "tests" / "fixtures" / "seed" / "clients"
    if not (clients / "graphql_read.js").is_file():
        sys.exit(f"the seed's client scripts are not in {clients} (VP_SEED_DIR={override!r})")
    return clients
