"""Fixtures for the reference target, as a real process on a free loopback port.

- `target` (session): one shared instance without faults. Tests that inject faults at runtime
  use `with target.faults(error_rate=1.0): ...` (or `set_faults` / `clear_faults`) so the
  next test finds it clean.
- `start_target` (factory): a private instance with startup flags, e.g.
  `start_target(rps_limit=5, max_inflight=2)` or `start_target("--error-rate", "0.5")`.

Every instance gets its own JWT secret and admin token, binds port 0 and reports the port it
got through `--ready-file`, so parallel test runs never collide. All are stopped at teardown.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from reference_target.tokens import mint_token
from verification_pipeline.paths import project_root
from verification_pipeline.release.git import checkout_head

START_TIMEOUT_S = 30.0
DEFAULT_SCOPES = ("coherence:read", "coherence:write")


@dataclass
class RunningTarget:
    """A started target: where it listens, its secrets, and helpers to drive it."""

    base_url: str
    graphql_url: str
    jwt_secret: bytes = field(repr=False)
    admin_token: str = field(repr=False)
    process: subprocess.Popen
    log_path: Path

    def token(
        self, tenant: str = "tenant-123", scopes: tuple[str, ...] = DEFAULT_SCOPES, ttl_s: int = 3600
    ) -> str:
        return mint_token(self.jwt_secret, tenant, list(scopes), ttl_s=ttl_s)

    def set_faults(self, **faults: object) -> dict:
        """Apply a partial fault update (`None` switches one off); returns the faults now in force."""
        return self._admin("POST", json=faults)

    def clear_faults(self) -> dict:
        """Back to the faults the instance was started with."""
        return self._admin("DELETE")

    @contextlib.contextmanager
    def faults(self, **faults: object) -> Iterator[dict]:
        try:
            yield self.set_faults(**faults)
        finally:
            self.clear_faults()

    def metrics_text(self) -> str:
        response = httpx.get(f"{self.base_url}/metrics", timeout=10.0)
        response.raise_for_status()
        return response.text

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def _admin(self, method: str, json: dict | None = None) -> dict:
        response = httpx.request(
            method,
            f"{self.base_url}/admin/faults",
            json=json,
            headers={"X-Admin-Token": self.admin_token},
            timeout=10.0,
        )
        if response.status_code != 200:
            raise AssertionError(f"{method} /admin/faults answered {response.status_code}: {response.text}")
        return response.json()["faults"]


def launch_target(home: Path, *flags: str) -> RunningTarget:
    """Start `python -m reference_target` with `flags` and wait until /healthz answers."""
    home.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32).encode()
    admin_token = secrets.token_hex(16)
    (home / "jwt.secret").write_bytes(secret)
    (home / "admin.token").write_text(admin_token)
    ready_file = home / "ready.json"
    ready_file.unlink(missing_ok=True)
    log_path = home / "target.log"
    argv = [
        sys.executable,
        "-m",
        "reference_target",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--jwt-secret-file",
        str(home / "jwt.secret"),
        "--admin-token-file",
        str(home / "admin.token"),
        "--ready-file",
        str(ready_file),
        # the pipeline tests verify RCs that are this checkout's HEAD: the build must say so
        "--build-commit",
        checkout_head(project_root()),
        *flags,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready_file.exists():
        if process.poll() is not None:
            raise RuntimeError(
                f"the target exited with {process.returncode}:\n{log_path.read_text(errors='replace')}"
            )
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(
                f"the target did not start within {START_TIMEOUT_S:.0f}s:\n{log_path.read_text()}"
            )
        time.sleep(0.05)
    ready = json.loads(ready_file.read_text())
    running = RunningTarget(ready["base_url"], ready["graphql_url"], secret, admin_token, process, log_path)
    while True:
        try:
            if httpx.get(f"{running.base_url}/healthz", timeout=2.0).status_code == 200:
                return running
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            running.stop()
            raise RuntimeError(f"the target never answered /healthz:\n{running.log_tail()}")
        time.sleep(0.05)


def _as_flags(options: dict[str, object]) -> list[str]:
    flags: list[str] = []
    for name, value in options.items():
        flags += [f"--{name.replace('_', '-')}", str(value)]
    return flags


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTarget]:
    running = launch_target(tmp_path_factory.mktemp("target"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def start_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RunningTarget]]:
    started: list[RunningTarget] = []

    def start(*flags: str, **options: object) -> RunningTarget:
        running = launch_target(tmp_path_factory.mktemp("target"), *flags, *_as_flags(options))
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in started:
            running.stop()
