"""Flags named for the reader: a boolean flag reads as an on/off pair, never a doubled negative."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer.main

from verification_pipeline.cli import app


def _commands(command: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every command under `command` by its path ("stack up"); groups have `commands`."""
    yield path, command
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, f"{path} {name}".strip())


def _flags() -> dict[str, list[str]]:
    root = typer.main.get_command(app)
    return {
        path or "<root>": [flag for param in command.params for flag in (*param.opts, *param.secondary_opts)]
        for path, command in _commands(root)
    }


def test_no_flag_is_a_doubled_negative():
    doubled = {path: [f for f in flags if f.startswith("--no-no-")] for path, flags in _flags().items()}
    assert not {path: flags for path, flags in doubled.items() if flags}


def test_the_walk_sees_every_command():
    assert {"<root>", "stack up", "k6 summarize", "verify", "audit"} <= set(_flags())


def test_stack_up_says_target_or_no_target():
    flags = _flags()["stack up"]
    assert "--target" in flags and "--no-target" in flags
