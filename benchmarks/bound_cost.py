"""What the SLO bounds cost beside `k6 summarize` on the same file (issue 26).

Writes k6 `--out csv` files of 10^4, 10^5 and 10^6 requests (three lines per request, as k6
writes `http_reqs`, `http_req_duration` and `http_req_failed`; 1,000 requests a second),
lognormal latencies (median 30 ms, sigma 0.5) and 0.1 % failures, either independent with
independent latencies ("plain") or with slow stretches: latencies x3 for stretches of 200-2,000
requests covering 5 % of the run, and failures in bursts of mean 5 ("stretches"), the runs on
which a p95 bound took 46 s at 10^6 before.

For each file, in the same run and taking turns (`--rounds`, median), wall seconds and, in
brackets, CPU seconds (user + system: what a shared machine's load does not inflate):
- `k6 summarize FILE` and `k6 gate FILE --p95 .. --error-rate .. --confidence 0.95`, each the
  command line in a fresh interpreter, as a user runs it;
- "bounds": the gate's two SLO rows (p95 and error rate with their one-sided bounds, what
  `compute_slo_metrics` does) on the requests already read, in this process.

    uv run python benchmarks/bound_cost.py [--sizes 10000,100000,1000000] [--rounds 3] [--before DIR]

`--before DIR`: also the bounds of an older checkout's package, once per file (e.g. a
`git archive <commit> verification_pipeline | tar -x -C DIR`).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HEADER = (
    "metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,"
    "proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata"
)
GATE = ["--p95", "80", "--error-rate", "0.5", "--confidence", "0.95"]


def slow_stretches(rng: np.random.Generator, n: int, share: float = 0.05) -> np.ndarray:
    """Flags of requests inside stretches of 200-2,000 requests covering `share` of the run."""
    slow = np.zeros(n, bool)
    while slow.mean() < share:
        length = int(rng.integers(200, 2001))
        start = int(rng.integers(0, max(n - length, 1)))
        slow[start : start + length] = True
    return slow


def burst_failures(rng: np.random.Generator, n: int, rate: float, mean_burst: float) -> np.ndarray:
    """Failures in bursts of geometric size (mean `mean_burst`) starting at random requests."""
    failed = np.zeros(n + 1, np.int64)
    count = rng.poisson(rate * n / mean_burst)
    starts = rng.integers(0, n, count)
    np.add.at(failed, starts, 1)
    np.add.at(failed, np.minimum(starts + rng.geometric(1.0 / mean_burst, count), n), -1)
    return np.cumsum(failed[:-1]) > 0


def write_run(path: Path, n: int, stretches: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    latency = 30.0 * np.exp(0.5 * rng.standard_normal(n))
    if stretches:
        latency[slow_stretches(rng, n)] *= 3.0
        failed = burst_failures(rng, n, 0.001, 5.0)
    else:
        failed = rng.random(n) < 0.001
    seconds = 1_795_797_799 + np.arange(n) // 1000
    with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
        out.write(HEADER + "\n")
        for i in range(n):
            bad = bool(failed[i])
            tags = f"{'false' if bad else 'true'},,POST,u,HTTP/1.1,read,,{500 if bad else 200},,,u,op=read,request_id=1-{i}"
            out.write(
                f"http_reqs,{seconds[i]},1,,,,{tags}\n"
                f"http_req_duration,{seconds[i]},{latency[i]:.6f},,,,{tags}\n"
                f"http_req_failed,{seconds[i]},{int(bad)},,,,{tags}\n"
            )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli(arguments: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of the command line in a fresh interpreter."""
    code = (
        f"import sys; sys.path.insert(0, {str(REPO)!r}); sys.argv = ['verification-pipeline', *sys.argv[1:]];"
        "from verification_pipeline.cli import main; sys.exit(main())"
    )
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(
        [sys.executable, "-c", code, *arguments], cwd=REPO, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(arguments)} failed:\n{done.stderr[-2000:]}")
    return elapsed, _children_cpu() - cpu


BOUNDS = """
import sys, time
sys.path.insert(0, sys.argv[1])
from verification_pipeline.loadtest.ingest import ingest
from verification_pipeline.slo.metrics import compute_slo_metrics
from verification_pipeline.slo.spec import Slo, SloSpec

requests = ingest(sys.argv[2], role="read")
spec = SloSpec(
    slos=[
        Slo(name="p95", metric="quantile", source="read", quantile=0.95, threshold=80, unit="ms", min_samples=1),
        Slo(name="error_rate", metric="rate", source="read", threshold=0.5, unit="percent", min_samples=1),
    ]
)
started, cpu = time.perf_counter(), time.process_time()
compute_slo_metrics(spec, read=requests)
print(time.perf_counter() - started, time.process_time() - cpu)
"""


def bounds(path: Path, code: Path = REPO) -> tuple[float, float]:
    """The gate's two SLO rows on the requests of `path` (read first, not counted), with the
    `verification_pipeline` package found in `code` (this checkout, or an older one)."""
    done = subprocess.run(
        [sys.executable, "-c", BOUNDS, str(code), str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"bounds with {code} failed:\n{done.stderr[-2000:]}")
    wall, cpu = done.stdout.split()[-2:]
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--before",
        type=Path,
        help="a directory holding an older `verification_pipeline` package: its bounds, once per file",
    )
    args = parser.parse_args()
    before = " bounds before s |" if args.before else ""
    print(
        "| requests | run | file MB | `k6 summarize` s (CPU) | bounds s (CPU) | bounds / summarize (CPU) |"
        f"{before} `k6 gate --confidence` s (CPU) | gate / summarize (CPU) |"
    )
    print(
        "| ---: | --- | ---: | ---: | ---: | ---: |" + (" ---: |" if args.before else "") + " ---: | ---: |"
    )
    with tempfile.TemporaryDirectory() as scratch:
        for n in (int(size) for size in args.sizes.split(",")):
            for stretches in (False, True):
                path = Path(scratch) / f"run-{n}-{int(stretches)}.csv"
                write_run(path, n, stretches, seed=n + stretches)
                times: dict[str, list[tuple[float, float]]] = {"summarize": [], "bounds": [], "gate": []}
                for _ in range(args.rounds):
                    times["summarize"].append(cli(["k6", "summarize", str(path), "--json"]))
                    times["bounds"].append(bounds(path))
                    times["gate"].append(cli(["k6", "gate", str(path), *GATE]))
                (summarize, summarize_cpu), (bound, bound_cpu), (gate, gate_cpu) = (
                    (
                        statistics.median(wall for wall, _ in times[key]),
                        statistics.median(cpu for _, cpu in times[key]),
                    )
                    for key in ("summarize", "bounds", "gate")
                )
                old = f" {bounds(path, args.before)[0]:.2f} |" if args.before else ""
                print(
                    f"| {n:,} | {'stretches' if stretches else 'plain'} | {path.stat().st_size / 1e6:.0f} | "
                    f"{summarize:.2f} ({summarize_cpu:.2f}) | {bound:.2f} ({bound_cpu:.2f}) | "
                    f"{bound / summarize:.2f} ({bound_cpu / summarize_cpu:.2f}) |{old} {gate:.2f} ({gate_cpu:.2f}) | "
                    f"{gate / summarize:.2f} ({gate_cpu / summarize_cpu:.2f}) |",
                    flush=True,
                )
                path.unlink()


if __name__ == "__main__":
    main()
