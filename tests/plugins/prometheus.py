"""A real Prometheus server (Debian's `prometheus` package) scraping given targets on loopback.

`running_prometheus(home, ["127.0.0.1:4000"])` starts it with a 1 s scrape interval under job
`coherence` (the job the packaged slos.yaml's PromQL names), waits until it is ready and has
scraped every target once, yields its base URL, and stops it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import yaml

READY_TIMEOUT_S = 30.0
JOB = "coherence"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_prometheus(home: Path, targets: list[str]) -> Iterator[str]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus not found: scripts/system-deps.sh installs it (apt-get install prometheus)"
    home.mkdir(parents=True, exist_ok=True)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": targets}]}],
    }
    (home / "prometheus.yml").write_text(yaml.safe_dump(config))
    base = f"http://127.0.0.1:{_free_port()}"
    log_path = home / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={home / 'prometheus.yml'}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address={base.removeprefix('http://')}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while True:
                try:
                    up = httpx.get(
                        f"{base}/api/v1/query", params={"query": f'up{{job="{JOB}"}} == 1'}, timeout=2
                    )
                    if up.status_code == 200 and len(up.json()["data"]["result"]) == len(targets):
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(
                        f"prometheus did not scrape {targets}:\n{log_path.read_text()[-3000:]}"
                    )
                time.sleep(0.25)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
