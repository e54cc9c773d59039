from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verification_pipeline.cli import main

CONFTEST = Path(__file__).resolve().parents[1] / "fixtures" / "conftest"


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err
        self.lines = [line for line in out.splitlines() if line]  # bats' ${lines[@]}: no empty lines

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def policy_test(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """`verification-pipeline policy test ...` run from conftest's repository root, as its bats tests are."""
    monkeypatch.chdir(CONFTEST)

    def run(*args: str) -> Run:
        code = main(["policy", "test", *args])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
