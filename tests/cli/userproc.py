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


# A small launcher forks the CLI and reports its peak RSS: wait4 on a child forked straight from
# pytest would count pytest's own pages (a forked child starts with its parent's RSS, which the
# kernel keeps as the child's high-water mark across exec), and pytest may be gigabytes by then.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status))
"""


def peak_rss(args: list[str], *, timeout: float = 300) -> tuple[int, str, int]:
    """Exit code, stderr and peak RSS in bytes of one CLI run (that process alone, by wait4)."""
    finished = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, CLI, *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=True,
    )
    rss, code = finished.stdout.split()
    return int(code), finished.stderr.decode("utf-8", "backslashreplace"), int(rss)
