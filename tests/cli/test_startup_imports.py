"""`--help` of the root and of every sub-command imports none of the heavy libraries.

polars, socketio, dagster, boto3 and matplotlib (the report's charts) cost seconds at start-up; each command imports what it
uses when it runs, so a CI step's `k6 gate` or a release script's `verify` does not pay for the
rest. Checked in a fresh interpreter: the commands run one after another, and each heavy module
that appears is charged to the first `--help` that imported it. No timing is asserted here
(benchmarks/cli_startup.py measures it).
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "polars",
    "socketio",
    "engineio",
    "dagster",
    "boto3",
    "botocore",
    "cryptography",
    "httpx",
    "matplotlib",
)

PROBE = f"""
import contextlib, io, json, sys
import typer.main
from verification_pipeline.cli import app, main

def walk(command, path):
    yield path
    for name, sub in sorted(getattr(command, "commands", {{}}).items()):
        yield from walk(sub, [*path, name])

heavy = {HEAVY!r}
charged, codes = {{}}, {{}}
for path in walk(typer.main.get_command(app), []):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        codes[" ".join(path)] = main([*path, "--help"])
    for module in heavy:
        if module in sys.modules and module not in charged:
            charged[module] = " ".join(path) or "(root)"
print(json.dumps({{"charged": charged, "codes": codes}}))
"""


def run_probe() -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_of_every_command_imports_no_heavy_library():
    result = run_probe()
    assert result["charged"] == {}
    # the walk reached every command (the root, groups and leaves), and each help exited 0
    assert {"", "k6 gate", "fanout run", "scan summarize", "verify", "demo", "lineage", "promote"} <= set(
        result["codes"]
    )
    assert set(result["codes"].values()) == {0}


def test_importing_the_cli_alone_imports_no_heavy_library():
    code = f"import sys, verification_pipeline.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
