"""Running the installed `verification-pipeline` as a user would, in its own process.

`unprivileged=True` runs it without the capabilities that let root read and write any file
(setpriv drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from every set): a mode-000 file is then
as closed to it as to any user. (setpriv --reuid=65534 cannot be used here: the interpreter lives
under /root, which only root may enter.) As a non-root user nothing needs dropping.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

CLI = str(Path(sys.executable).parent / "verification-pipeline")
_DROP = "-dac_override,-dac_read_search"
UNPRIVILEGED = (
    ["setpriv", f"--inh-caps={_DROP}", f"--ambient-caps={_DROP}", f"--bounding-set={_DROP}"]
    if os.geteuid() == 0
    else []
)
# What a message must never show: Python's reprs and tracebacks, and libraries' own wording.
LEAK = re.compile(
    r"""(?<!\w)b['"]|\['|\\udc|Traceback|Input should|Error -3|String should|Value error|ValidationError"""
)


def leaks(text: str) -> list[str]:
    """Every repr or library phrase in `text` (`b'..'`, `['..'`, `\\udcff`, a traceback...)."""
    return LEAK.findall(text)


@dataclass
class Finished:
    code: int
    out: str
    err: str


def run_cli(
    args: list[str | bytes],
    *,
    env: dict[str, str] | None = None,
    unprivileged: bool = False,
    timeout: float = 120,
    cwd: Path | None = None,
) -> Finished:
    """Run the CLI to its end; its exit code, output, and its peak resident memory (wait4's rusage)."""
    command: list[str | bytes] = [*(UNPRIVILEGED if unprivileged else []), CLI, *args]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return Finished(
        process.returncode, out.decode("utf-8", "backslashreplace"), err.decode("utf-8", "backslashreplace")
    )


def peak_rss(args: list[str], *, timeout: float = 300) -> tuple[int, str, int]:
    """Exit code, stderr and peak RSS in bytes of one CLI run, measured by wait4 on that process alone."""
    process = subprocess.Popen(
        [CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    assert process.stderr is not None
    timer = threading.Timer(timeout, process.kill)  # a run past its time fails the test, never hangs it
    timer.start()
    try:
        err = process.stderr.read()  # a few lines: the error message
        _, status, usage = os.wait4(process.pid, 0)  # this process's own peak, not the children's so far
    finally:
        timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, err.decode("utf-8", "backslashreplace"), usage.ru_maxrss * 1024
