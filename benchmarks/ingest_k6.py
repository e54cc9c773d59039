"""Ingestion speed and memory of k6 `--out json` files: ours beside `pl.scan_ndjson` and `grep -F`.

Generates a k6-shaped NDJSON file (Metric declarations, ~16 Point lines per request as k6 v1 writes
them, vus/vus_max gauges every second, some failures, timeouts and dropped iterations), then runs
each contender in its own subprocess so that its peak RSS (ru_maxrss of that child) is its own.
The contenders take turns, `--repeat` rounds (default 3); the table gives each one's median
time and its largest peak RSS, and the ratios compare medians. For ours it also prints where the
time goes (`StageTimes`: read, split, filter, parse, requests), from its median round.

    uv run python benchmarks/ingest_k6.py                 # 650 MB, the issue's figure
    uv run python benchmarks/ingest_k6.py --size-mb 100   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

URL = "http://127.0.0.1:4000/graphql"
HTTP_TRENDS = (
    "http_req_blocked",
    "http_req_connecting",
    "http_req_tls_handshaking",
    "http_req_sending",
    "http_req_waiting",
    "http_req_receiving",
)
METRIC_TYPES = {
    "vus": ("gauge", "default"),
    "vus_max": ("gauge", "default"),
    "http_reqs": ("counter", "default"),
    "http_req_duration": ("trend", "time"),
    **{name: ("trend", "time") for name in HTTP_TRENDS},
    "http_req_failed": ("rate", "default"),
    "checks": ("rate", "default"),
    "graphql_errors": ("rate", "default"),
    "ingest_duration": ("trend", "time"),
    "data_sent": ("counter", "data"),
    "data_received": ("counter", "data"),
    "iteration_duration": ("trend", "time"),
    "iterations": ("counter", "default"),
    "dropped_iterations": ("counter", "default"),
}


class _Writer:
    """Writes Point lines the way k6's JSON output does: Metric line before a metric's first Point."""

    def __init__(self, out) -> None:
        self.out = out
        self.declared: set[str] = set()

    def point(
        self, metric: str, at: datetime, value: float, tags: dict, metadata: dict | None = None
    ) -> None:
        if metric not in self.declared:
            self.declared.add(metric)
            kind, contains = METRIC_TYPES[metric]
            self.out.write(
                f'{{"type":"Metric","data":{{"name":"{metric}","type":"{kind}","contains":"{contains}",'
                f'"thresholds":[],"submetrics":null}},"metric":"{metric}"}}\n'
            )
        data = {
            "time": at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "value": value,
            "tags": tags,
        }
        if metadata:
            data["metadata"] = metadata
        self.out.write(
            f'{{"metric":"{metric}","type":"Point","data":{json.dumps(data, separators=(",", ":"))}}}\n'
        )


def generate(path: Path, size_mb: int, seed: int = 7) -> int:
    """Write a k6-shaped NDJSON file of about `size_mb` MB; return the number of requests in it."""
    rng = random.Random(seed)
    target = size_mb * 1024 * 1024
    clock = datetime(2025, 11, 27, 12, 0, tzinfo=UTC)
    requests = 0
    next_gauge = clock
    with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
        writer = _Writer(out)
        while out.tell() < target:
            clock += timedelta(microseconds=rng.randint(50, 400))
            if clock >= next_gauge:
                writer.point("vus", clock, 30, {})
                writer.point("vus_max", clock, 30, {})
                next_gauge += timedelta(seconds=1)
            op = "write" if rng.random() < 0.3 else "read"
            if op == "write" and rng.random() < 0.002:
                writer.point("dropped_iterations", clock, 1, {"scenario": op})
                continue
            requests += 1
            vu = rng.randint(1, 30)
            meta = {"request_id": f"{vu}-{requests}"}
            roll = rng.random()
            status, error = (
                ("500", None) if roll < 0.002 else ("0", "1050") if roll < 0.0025 else ("200", None)
            )
            failed = status != "200"
            tags = {
                "expected_response": "false" if failed else "true",
                "group": "",
                "method": "POST",
                "name": URL,
                "op": op,
                "proto": "HTTP/1.1",
                "scenario": op,
                "status": status,
                "url": URL,
            }
            if error:
                tags = {"error": "request timeout", "error_code": error, **tags}
            duration = rng.lognormvariate(3.0, 0.6)
            writer.point("http_reqs", clock, 1, tags, meta)
            writer.point("http_req_duration", clock, round(duration, 6), tags, meta)
            for name in HTTP_TRENDS:
                writer.point(name, clock, round(rng.random() * duration / 4, 6), tags, meta)
            writer.point("http_req_failed", clock, int(failed), tags, meta)
            script_tags = {"group": "", "op": op, "scenario": op}
            writer.point("checks", clock, int(not failed), {"check": "200", **script_tags}, meta)
            writer.point("graphql_errors", clock, int(roll > 0.999), script_tags, meta)
            if op == "write":
                writer.point("ingest_duration", clock, round(rng.random() * 20, 3), script_tags, meta)
            writer.point("data_sent", clock, 350, script_tags)
            writer.point("data_received", clock, 210, script_tags)
            writer.point("iteration_duration", clock, round(duration + 0.5, 6), script_tags)
            writer.point("iterations", clock, 1, script_tags)
    return requests


class Measured(NamedTuple):
    seconds: float
    rss: int
    result: str
    stages: dict[str, float]
    """Ours only: seconds per stage, summed over the threads that worked on it."""


def _measure(contender: tuple[str, str], path: Path) -> Measured:
    """Run a contender in a fresh interpreter; its seconds, peak RSS bytes, `result` and stages.

    A contender is (imports, work): only the work is timed. The work sets `result` (a short
    description), may set `stages` (seconds per stage) and may set `measured` to
    `resource.RUSAGE_CHILDREN` when it happens in its own child processes (grep, wc).
    """
    imports, work = contender
    script = (
        "import json, resource, sys, time\n"
        f"{imports}\n"
        f"path = {str(path)!r}\n"
        "measured = resource.RUSAGE_SELF\n"
        "stages = {}\n"
        "t0 = time.perf_counter()\n"
        f"{work}\n"
        "elapsed = time.perf_counter() - t0\n"
        "print(json.dumps(stages))\n"
        "print(elapsed, resource.getrusage(measured).ru_maxrss * 1024, result)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{done.stderr[-2000:]}")
    stages, figures = done.stdout.splitlines()[-2:]
    seconds, rss, result = figures.split(maxsplit=2)
    return Measured(float(seconds), int(rss), result.strip(), json.loads(stages))


OURS = (
    "from verification_pipeline.loadtest.ingest import StageTimes, ingest",
    """
clock = StageTimes()
frame = ingest(path, role="read", stages=clock)
stages = clock.seconds
result = f"{frame.height} rows (requests and dropped iterations)"
""",
)
# Ours with the compiled scanner turned off: every chunk the polars way (the code before it, issue 28).
OURS_POLARS = (
    OURS[0] + "\nfrom verification_pipeline.loadtest.ingest import ndjson",
    "ndjson.scanned_points = lambda data, clock: None\n" + OURS[1],
)
STAGE_MEANING = {
    "read": "file -> chunks of whole lines (reader thread)",
    "split": "the compiled scan of a chunk: layout check of every line, wanted lines picked, fields cut "
    "(polars path: chunk -> column of lines by read_csv), per worker",
    "filter": "polars path only: layout check of every line + pick the wanted metrics' lines",
    "parse": "the scanner's columns into a frame (polars path: fields cut by regex), then typed and checked",
    "requests": "points joined into requests, dropped iterations, sort by time",
}
SCAN_NDJSON = (
    "import polars as pl",
    """
frame = pl.scan_ndjson(path).collect()
result = f"{frame.height} lines"
""",
)
GREP = (
    "import subprocess",
    """
grep = subprocess.Popen(["grep", "-F", '"type":"Point"', path], stdout=subprocess.PIPE)
count = subprocess.run(["wc", "-l"], stdin=grep.stdout, capture_output=True, text=True, check=True)
grep.wait()
measured = resource.RUSAGE_CHILDREN
result = f"{int(count.stdout)} point lines"
""",
)
# The floor the issue named: `grep -F` of the request lines, counted by grep itself, in the C
# locale (no pipe, no multibyte handling): the fastest a tool that looks at every byte can go.
GREP_REQUESTS = (
    "import os, subprocess",
    """
count = subprocess.run(
    ["grep", "-cF", '"metric":"http_req_duration"', path],
    capture_output=True, text=True, check=True, env={**os.environ, "LC_ALL": "C"},
)
measured = resource.RUSAGE_CHILDREN
result = f"{int(count.stdout)} request lines"
""",
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=650, help="size of the generated file (default 650)")
    parser.add_argument("--keep", action="store_true", help="keep the generated file and print its path")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of all contenders (default 3)")
    parser.add_argument(
        "--skip-scan-ndjson",
        action="store_true",
        help="leave out pl.scan_ndjson (2 GB and a minute or more a round on a shared machine); "
        "the ratio to the grep floor does not need it",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ingest_k6_"))
    try:
        path = workdir / "read.json"
        t0 = time.perf_counter()
        requests = generate(path, args.size_mb)
        size = path.stat().st_size
        print(
            f"generated {size / 1e6:.0f} MB, {requests} requests in {time.perf_counter() - t0:.1f} s: {path}"
        )
        _measure(GREP, path)  # warm the page cache so every contender reads from memory

        contenders = [
            ("verification_pipeline ingest", OURS),
            ("verification_pipeline ingest, polars path (scanner off)", OURS_POLARS),
            ("pl.scan_ndjson(...).collect()", SCAN_NDJSON),
            ('grep -F \'"type":"Point"\' | wc -l', GREP),
            ('LC_ALL=C grep -cF \'"metric":"http_req_duration"\' (the floor)', GREP_REQUESTS),
        ]
        if args.skip_scan_ndjson:
            del contenders[2]
        runs: dict[str, list[Measured]] = {name: [] for name, _ in contenders}
        for round_ in range(1, max(1, args.repeat) + 1):
            for name, contender in contenders:
                runs[name].append(_measure(contender, path))
            times = ", ".join(f"{name.split()[0]} {runs[name][-1].seconds:.2f} s" for name, _ in contenders)
            print(f"round {round_}: {times}", flush=True)
        rows = [
            (
                name,
                statistics.median(run.seconds for run in runs[name]),
                max(run.rss for run in runs[name]),
                runs[name][-1].result,
            )
            for name, _ in contenders
        ]
        ours, grep, floor = rows[0][1], rows[-2][1], rows[-1][1]
        print()
        print(f"k6 NDJSON file: {size / 1e6:.0f} MB, {requests} requests, {os.cpu_count()} CPUs")
        print()
        print("| reader | seconds | MB/s | peak RSS MB | RSS / file size | result |")
        print("| --- | ---: | ---: | ---: | ---: | --- |")
        for name, seconds, rss, result in rows:
            print(
                f"| {name} | {seconds:.2f} | {size / 1e6 / seconds:.0f} | {rss / 1e6:.0f} | "
                f"{rss / size:.2f} | {result} |"
            )
        print()
        if not args.skip_scan_ndjson:
            print(f"ours vs scan_ndjson: {rows[2][1] / ours:.1f}x faster (goal >= 5x)")
        print(f"ours vs grep -F | wc -l: {ours / grep:.1f}x its time")
        print(
            f"ours vs the floor (LC_ALL=C grep -cF of the request lines): {ours / floor:.1f}x its time (goal <= 3x, issue 28)"
        )
        for who, name in (("ours", rows[0][0]), ("polars path", rows[1][0])):
            per_round = [a.seconds / b.seconds for a, b in zip(runs[name], runs[rows[-1][0]], strict=True)]
            print(f"{who} / the floor per round: {', '.join(f'{ratio:.1f}' for ratio in per_round)}")
        print(f"ours peak RSS / file size: {rows[0][2] / size:.2f} (goal < 0.5)")
        median_round = sorted(runs[rows[0][0]], key=lambda run: run.seconds)[len(runs[rows[0][0]]) // 2]
        print()
        print(
            f"where our time goes (median round, {median_round.seconds:.2f} s wall; seconds summed over "
            "the threads in each stage, so stages that overlap add up to more than the wall time):"
        )
        print()
        print("| stage | seconds | what |")
        print("| --- | ---: | --- |")
        for stage, seconds in median_round.stages.items():
            print(f"| {stage} | {seconds:.2f} | {STAGE_MEANING[stage]} |")
        if size < 600e6:
            print("(the goals are set for a file of at least 600 MB: the default --size-mb 650)")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
