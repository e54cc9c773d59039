"""What the machine was doing while a phase measured: the client's CPU, the host's, the target's.

A latency is only the service's if the client that stamped it could run when the answer came.
Once a second, for the duration of a phase, `HealthSampler` reads from /proc:

- the client's CPU use (the given processes and every descendant, e.g. k6, or the probe and its
  subscriber workers), as a share of the machine's cores, and how long its threads waited in a
  run queue for a core (`schedstat`): the share of the time the client wanted a CPU and had none;
- the host's CPU steal (a hypervisor running someone else on our cores) and load average;
- when the target listens on this host (found by its loopback port), the target's CPU use, so a
  report can say how much of the machine the service got.

Linux only (/proc); elsewhere the sampler records nothing and says so (`available`), so a
verdict is never changed on figures that were not measured.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
SAMPLE_INTERVAL_S = 1.0


@dataclass(frozen=True)
class HealthSample:
    """One second of a phase. CPU figures in percent: client and steal of all cores, target of one core."""

    t: float
    client_cpu_pct: float
    client_wait_pct: float
    steal_pct: float
    load1: float
    target_cpu_pct: float | None


@dataclass
class _Reading:
    at: float
    client_cpu_s: float
    client_wait_s: float
    host_total: int
    host_steal: int
    target_cpu_s: float | None


@dataclass
class HealthSampler:
    """Sample once a second in a thread while the block runs; `samples` holds the result.

    `client_pids`: the load generator's processes (with `with_descendants`, their descendants are
    found each second, so workers started later count too); more can be added with `add_client`.
    `target_pid`: the target's process when it runs here, else None.
    """

    client_pids: list[int]
    target_pid: int | None = None
    with_descendants: bool = True
    interval_s: float = SAMPLE_INTERVAL_S
    samples: list[HealthSample] = field(default_factory=list)
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def available(self) -> bool:
        return (PROC / "stat").exists()

    def add_client(self, pid: int) -> None:
        with self._lock:
            self.client_pids.append(pid)

    def __enter__(self) -> Self:
        if self.available:
            self._thread = threading.Thread(target=self._run, name="health-sampler", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        previous = self._read()
        while not self._stop.wait(self.interval_s):
            current = self._read()
            sample = _between(previous, current, self.cores)
            if sample is not None:
                self.samples.append(sample)
            previous = current

    def _read(self) -> _Reading:
        with self._lock:
            roots = list(self.client_pids)
        pids = descendants(roots) if self.with_descendants else roots
        cpu_s = wait_s = 0.0
        for pid in pids:
            used, waited = process_cpu(pid)
            cpu_s += used
            wait_s += waited
        total, steal = host_cpu()
        target = process_cpu(self.target_pid)[0] if self.target_pid is not None else None
        return _Reading(time.time(), cpu_s, wait_s, total, steal, target)


def _between(before: _Reading, after: _Reading, cores: int) -> HealthSample | None:
    elapsed = after.at - before.at
    if elapsed <= 0:
        return None
    host_ticks = after.host_total - before.host_total
    return HealthSample(
        t=after.at,
        # A process that ended between readings takes its time with it: never below 0.
        client_cpu_pct=max(0.0, after.client_cpu_s - before.client_cpu_s) / (elapsed * cores) * 100.0,
        client_wait_pct=_wait_share(
            max(0.0, after.client_wait_s - before.client_wait_s),
            max(0.0, after.client_cpu_s - before.client_cpu_s),
            elapsed,
        ),
        steal_pct=(after.host_steal - before.host_steal) / host_ticks * 100.0 if host_ticks > 0 else 0.0,
        load1=os.getloadavg()[0],
        target_cpu_pct=(
            max(0.0, after.target_cpu_s - before.target_cpu_s) / elapsed * 100.0
            if after.target_cpu_s is not None and before.target_cpu_s is not None
            else None
        ),
    )


MIN_WAIT_CORE_SHARE = 0.1
"""A wait that cost the client less than this share of one core over the second is no starvation:
a load generator idle on slow responses that waits 2 ms to run 1 ms has a 67 % wait share and
lost nothing (on 2 cores beside the target, such seconds made a designed FAIL INCONCLUSIVE)."""


def _wait_share(waited_s: float, ran_s: float, elapsed_s: float) -> float:
    """Of the time the client's threads wanted a core, the share they spent waiting for one; 0 when
    the wait was immaterial (under `MIN_WAIT_CORE_SHARE` of a core over `elapsed_s`)."""
    wanted = waited_s + ran_s
    if wanted <= 0 or waited_s < MIN_WAIT_CORE_SHARE * elapsed_s:
        return 0.0
    return waited_s / wanted * 100.0


def process_cpu(pid: int) -> tuple[float, float]:
    """(CPU seconds used, seconds waited in a run queue) of every thread of `pid`; (0, 0) once it is gone."""
    used = waited = 0.0
    with contextlib.suppress(OSError):
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        used = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
        for task in (PROC / str(pid) / "task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                waited += int((task / "schedstat").read_text().split()[1]) / 1e9
    return used, waited


def host_cpu() -> tuple[int, int]:
    """(all CPU ticks, steal ticks) since boot, from the `cpu` line of /proc/stat."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = (PROC / "stat").read_text().split("\n", 1)[0].split()
        ticks = [int(value) for value in first[1:]]
        # user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
        return sum(ticks[:8]), ticks[7] if len(ticks) > 7 else 0
    return 0, 0


def descendants(roots: list[int]) -> list[int]:
    """`roots` and every process below them (one pass over /proc: a parent -> children map)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    pending = list(roots)
    while pending:
        pid = pending.pop()
        if pid in found:
            continue
        found.append(pid)
        pending.extend(children.get(pid, ()))
    return found


def local_listener_pid(port: int) -> int | None:
    """The process listening on TCP `port` on this host (the target, when it runs here), if visible."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (PROC / "net" / table).read_text().splitlines()[1:]:
                parts = line.split()
                if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(parts[9])
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        return int(entry.name)
    return None
