"""Real k6 runs against a small loopback GraphQL stand-in, shared by the load tests.

The stand-in answers like the target would (JSON bodies, `Server-Timing: ingest;dur=`) and
fails on purpose at set rates: HTTP 500s and GraphQL errors under HTTP 200. Each k6 run is a
few seconds with a few VUs; runs are session-scoped so every test reads the same files.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from verification_pipeline.loadtest.runner import K6Run, execution_segments, run_k6, script_path
from verification_pipeline.paths import tool_path

JWT = "test-jwt-4a7c0f0e9b"  # a made-up token; the runner must mask it everywhere
OK_READ = b'{"data":{"tenantCoherence":{"score":0.5,"status":"ok","updatedAt":"2025-11-27T12:00:00Z"}}}'
OK_WRITE = b'{"data":{"publishCoherenceSignal":"7d1f"}}'
GRAPHQL_ERROR = b'{"data":null,"errors":[{"message":"boom"}]}'
SUMMARY_TREND_STATS = "avg,min,med,max,p(90),p(95),p(99)"


@dataclass(frozen=True)
class Faults:
    http_500: float = 0.0
    graphql_errors: float = 0.0
    delay_ms: tuple[float, float] = (0.0, 3.0)


@contextmanager
def graphql_stub(faults: Faults, seed: int = 1) -> Iterator[str]:
    """A GraphQL-shaped HTTP server on a free loopback port; yields its /graphql URL."""
    rng = random.Random(seed)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                roll, delay, ingest = rng.random(), rng.uniform(*faults.delay_ms), rng.uniform(0.1, 9.0)
            threading.Event().wait(delay / 1000)
            is_write = b"publishCoherenceSignal" in body
            if roll < faults.http_500:
                status, payload = 500, GRAPHQL_ERROR
            elif roll < faults.http_500 + faults.graphql_errors:
                status, payload = 200, GRAPHQL_ERROR
            else:
                status, payload = 200, OK_WRITE if is_write else OK_READ
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if is_write:
                self.send_header("Server-Timing", f"db;dur=1.5, ingest;dur={ingest:.3f}")
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/graphql"
    finally:
        server.shutdown()
        server.server_close()


def k6_env(url: str, **settings: str) -> dict[str, str]:
    return {"GRAPHQL_URL": url, "JWT": JWT, "DURATION": "3s", "VUS": "3", **settings}


def k6_summary(run_or_path: K6Run | Path) -> dict:
    path = run_or_path.summary_path if isinstance(run_or_path, K6Run) else run_or_path
    return json.loads(Path(path).read_text())["metrics"]


@pytest.fixture(scope="session")
def k6_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("k6")


@pytest.fixture(scope="session")
def closed_read_run(k6_dir: Path) -> K6Run:
    """Closed model (constant VUs), with HTTP 500s and GraphQL errors."""
    with graphql_stub(Faults(http_500=0.04, graphql_errors=0.04)) as url:
        return run_k6(
            script_path("read"),
            k6_dir / "read.json",
            env=k6_env(url),
            summary_path=k6_dir / "read.summary.json",
        )


@pytest.fixture(scope="session")
def open_write_run(k6_dir: Path) -> K6Run:
    """Open model (constant arrival rate) with too few VUs, so k6 drops iterations; no GraphQL errors."""
    with graphql_stub(Faults(http_500=0.03, delay_ms=(5.0, 25.0))) as url:
        return run_k6(
            script_path("write"),
            k6_dir / "write.json",
            env=k6_env(url, EXECUTOR="arrival", RATE="150", VUS="1", MAX_VUS="2"),
            summary_path=k6_dir / "write.summary.json",
        )


@pytest.fixture(scope="session")
def clean_read_run(k6_dir: Path) -> Path:
    """No failures at all; k6 writes JSON and CSV of the same run, and a summary with p(99)."""
    return _clean_read(k6_dir, "clean", "3s")


@pytest.fixture(scope="session")
def clean_read_run_10s(k6_dir: Path) -> Path:
    """`clean_read_run` for 10 s, for the rate from the CSV's whole-second times: the mean count of
    the whole seconds between the first and the last, two of them in a 3 s run, where one slow
    second on a busy machine moved it 2-7 % from k6's (6 runs, load average 1.2-2.8); with nine,
    0.2-2.0 % (6 runs, load average 5.5-6)."""
    return _clean_read(k6_dir, "clean10", "10s")


def _clean_read(k6_dir: Path, name: str, duration: str) -> Path:
    """`name`.json, `name`.csv and `name`.summary.json in `k6_dir`: one failure-free run."""
    with graphql_stub(Faults()) as url:
        subprocess.run(
            [
                str(tool_path("k6")),
                "run",
                "--quiet",
                "--no-usage-report",
                "--address",
                "",
                "--out",
                f"json={k6_dir / f'{name}.json'}",
                "--out",
                f"csv={k6_dir / f'{name}.csv'}",
                "--summary-trend-stats",
                SUMMARY_TREND_STATS,
                "--summary-export",
                str(k6_dir / f"{name}.summary.json"),
                str(script_path("read")),
            ],
            env={**os.environ, **k6_env(url, VUS="2", DURATION=duration)},
            check=True,
            capture_output=True,
        )
    return k6_dir


@pytest.fixture(scope="session")
def mixed_run(k6_dir: Path) -> K6Run:
    """One k6 process with both ops (read closed, write open), failures of every answered kind.

    Thresholds on `{op:...}` submetrics make k6's summary report each op on its own.
    """
    script = k6_dir / "mixed.js"
    scripts = script_path("read").parent
    script.write_text(
        f"import readIteration from '{scripts / 'read.js'}';\n"
        f"import writeIteration from '{scripts / 'write.js'}';\n"
        "export const options = {\n"
        "  scenarios: {\n"
        "    read: { executor: 'constant-vus', vus: 2, duration: '3s', exec: 'read', tags: { op: 'read' } },\n"
        "    write: { executor: 'constant-arrival-rate', rate: 40, timeUnit: '1s', duration: '3s',\n"
        "             preAllocatedVUs: 2, maxVUs: 4, exec: 'write', tags: { op: 'write' } },\n"
        "  },\n"
        "  thresholds: {\n"
        "    'http_req_duration{op:read}': ['p(95)>=0'], 'http_req_duration{op:write}': ['p(95)>=0'],\n"
        "    'http_req_failed{op:read}': ['rate>=0'], 'http_req_failed{op:write}': ['rate>=0'],\n"
        "  },\n"
        "};\n"
        "export function read() { readIteration(); }\n"
        "export function write() { writeIteration(); }\n"
    )
    with graphql_stub(Faults(http_500=0.03, graphql_errors=0.03)) as url:
        return run_k6(
            script, k6_dir / "mixed.json", env=k6_env(url), summary_path=k6_dir / "mixed.summary.json"
        )


@pytest.fixture(scope="session")
def segment_runs(k6_dir: Path) -> list[K6Run]:
    """One closed-model read test split in two k6 processes running at once; one writes .gz."""
    segments = execution_segments(2)
    outputs = [k6_dir / "read-seg0.json", k6_dir / "read-seg1.json.gz"]
    with graphql_stub(Faults(http_500=0.05)) as url, ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(
                run_k6,
                script_path("read"),
                out,
                env=k6_env(url, VUS="4"),
                segment=segment,
                summary_path=out.with_name(out.name.split(".")[0] + ".summary.json"),
            )
            for segment, out in zip(segments, outputs, strict=True)
        ]
        return [future.result() for future in futures]
