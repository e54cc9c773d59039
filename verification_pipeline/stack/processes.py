"""Start, identify and stop the background processes the stack owns.

A pid alone is not an identity: after a reboot or a long pause the number may belong to some
other program. Each record keeps the process's start time too, and `stop` only signals a
process whose pid *and* start time still match, so `stack down` never kills a stranger.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from verification_pipeline.errors import StackError


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    create_time: float
    log: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> ProcessRecord:
        return cls(
            name=raw["name"], pid=int(raw["pid"]), create_time=float(raw["create_time"]), log=raw["log"]
        )


def ensure_ports_free(host: str, ports: dict[str, int]) -> None:
    """Fail at once, naming the port, instead of letting a server hang or die on a taken port."""
    for role, port in ports.items():
        if not 0 < port < 65536:
            raise StackError(f"{role} port {port} is out of range", hint="choose a --port-base below 55000")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise StackError(
                    f"{role} port {host}:{port} is already in use ({exc.strerror})",
                    hint="stop what holds it, or pick other ports with --port-base / VP_STACK_PORT_BASE",
                ) from None


def spawn(name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> ProcessRecord:
    """Start a detached process (own session, so Ctrl-C in the caller does not kill it)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    return ProcessRecord(
        name=name, pid=proc.pid, create_time=psutil.Process(proc.pid).create_time(), log=str(log_path)
    )


def is_alive(record: ProcessRecord) -> bool:
    try:
        proc = psutil.Process(record.pid)
        return abs(proc.create_time() - record.create_time) < 0.01 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop(record: ProcessRecord, timeout_s: float = 15.0) -> bool:
    """Stop the process group we started; True if something of ours was running."""
    if not is_alive(record):
        return False
    try:
        os.killpg(record.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_alive(record):
            break
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(record.pid, signal.SIGKILL)
    _reap(record.pid)
    _wait_gone(record)
    return True


def _wait_gone(record: ProcessRecord, timeout_s: float = 5.0) -> None:
    """Return only once the process is gone, so its ports are free for the next `up`."""
    with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired, ChildProcessError):
        psutil.Process(record.pid).wait(timeout_s)


def _reap(pid: int) -> None:
    """Collect the exit status when we are the parent, so no zombie of ours is left behind."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def log_tail(path: str | Path, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
