"""The reference target as a process of a benchmark: loopback, a free port, a fresh JWT secret.

`start_target(work, args)` is back once the target answers; the caller reads `graphql_url` and
`secret` and calls `stop()` when done.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import jwt


def token(secret: bytes, tenant: str) -> str:
    """A token with the target's published contract (HS256; sub, tenant, both scopes, iat, exp):
    the benchmark is a client."""
    now = int(time.time())
    claims = {
        "sub": "benchmark",
        "tenant": tenant,
        "scopes": ["coherence:read", "coherence:write"],
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass
class StartedTarget:
    process: subprocess.Popen
    info: dict[str, Any]
    """The target's ready file: host, port, pid, base_url and graphql_url."""
    secret: bytes
    """The HS256 secret its tokens are signed with."""
    log: IO[bytes]

    @property
    def base_url(self) -> str:
        return str(self.info["base_url"])

    @property
    def graphql_url(self) -> str:
        return str(self.info["graphql_url"])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def start_target(work: Path, args: Sequence[str] = (), *, timeout_s: float = 60) -> StartedTarget:
    """`python -m reference_target` on 127.0.0.1, a free port, with `args` after its secret and ready
    file; back once /healthz answers 200. Its output goes to `work`/target.log; exits the benchmark
    with that log when the target does not come up within `timeout_s`."""
    secret = secrets.token_hex(32).encode()
    (work / "jwt.secret").write_bytes(secret)
    ready = work / "ready.json"
    log = (work / "target.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "reference_target", "--host", "127.0.0.1", "--port", "0",
         "--jwt-secret-file", str(work / "jwt.secret"), "--ready-file", str(ready), *args],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    target = StartedTarget(process, {}, secret, log)
    deadline = time.monotonic() + timeout_s
    while not ready.exists() or not ready.read_text().strip():
        if process.poll() is not None or time.monotonic() > deadline:
            target.stop()
            sys.exit("the reference target did not start:\n" + (work / "target.log").read_text()[-4000:])
        time.sleep(0.05)
    target.info = json.loads(ready.read_text())
    while httpx.get(f"{target.base_url}/healthz", timeout=2).status_code != 200:
        if time.monotonic() > deadline:
            target.stop()
            sys.exit(
                "the reference target did not become healthy:\n" + (work / "target.log").read_text()[-4000:]
            )
        time.sleep(0.05)
    return target
