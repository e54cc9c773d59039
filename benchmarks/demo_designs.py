"""The demo's rc2-vs-rc1 comparison, sequential and concurrent designs side by side, quiet or under a CPU hog.

Runs `verification-pipeline demo` (rc1, then rc2 with reads slowed 40 ms and rc1's settings on a
second target beside it), optionally with a CPU hog beside it: one busy Python loop per core,
each bounded in time (`--hog-seconds`) and stopped when the demo ends. Then, from the two local
bundles the demo wrote, the comparison both ways on the same run's data:
- sequential: rc2's raw rows against rc1's signed bundle (measured minutes earlier);
- concurrent: rc2's raw rows against the baseline rows measured beside them (raw/baseline.parquet),
  the paired design; this is the one the demo's slo/baseline.json holds.
Prints one table row per SLO and design, and the load average before and after.

Usage: `uv run python benchmarks/demo_designs.py [--hog] [--port-base 31500] [--duration 20s]`.
Loopback only; the demo's own stack, started and stopped by the demo.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from verification_pipeline.compare.document import (
    CONCURRENT,
    REGRESSION_METHOD,
    SEQUENTIAL,
    Samples,
    comparison_document,
    concurrent_samples,
)
from verification_pipeline.evidence.layout import SLO_BASELINE, SLO_METRICS
from verification_pipeline.evidence.raw import raw_frames
from verification_pipeline.slo.spec import load_slo_spec

REPO = Path(__file__).resolve().parents[1]


def _busy(until: float) -> None:
    while time.time() < until:
        pass


def _files(bundle: Path) -> dict[str, bytes]:
    return {str(p.relative_to(bundle)): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}


def _row(design: str, row: dict) -> str:
    figure = row.get("shift_ms") or row.get("rate_diff") or {}
    unit = "ms" if row["kind"] == "latency" else "pp"

    def fixed(value: float | None) -> str:
        return "n/a" if value is None else f"{value:+.1f}"

    return (
        f"| {design} | {row['slo']} | {row['classification'] or 'not compared'}"
        f"{' (' + str(row['rounds']) + ' round pairs)' if 'rounds' in row else ''} "
        f"| {fixed(figure.get('estimate'))} {unit} [{fixed(figure.get('lower'))}, {fixed(figure.get('upper'))}] "
        f"| {row['verdict']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hog", action="store_true", help="a busy Python loop on every core beside the demo")
    parser.add_argument("--hog-seconds", type=float, default=900.0)
    parser.add_argument("--port-base", default="31500")
    parser.add_argument("--duration", default="20s")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    hogs: list[multiprocessing.Process] = []
    if args.hog:
        until = time.time() + args.hog_seconds
        hogs = [multiprocessing.Process(target=_busy, args=(until,)) for _ in range(os.cpu_count() or 1)]
        for hog in hogs:
            hog.start()
    output = Path(tempfile.mkdtemp(prefix="vp-demo-designs-")) / "out"
    started = time.monotonic()
    try:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "verification-pipeline"), "demo", "--port-base", args.port_base,
             "--duration", args.duration, "--output", str(output)],
            cwd=REPO, capture_output=True, text=True, timeout=1500, check=False,
        )  # fmt: skip
    finally:
        for hog in hogs:
            hog.terminate()
            hog.join()
    seconds = time.monotonic() - started
    print(f"demo exit {done.returncode} in {seconds:.0f} s; load average after: {os.getloadavg()}")
    if not (output / "v24.1.0-rc2" / "bundle").exists():
        print(done.stdout[-3000:], done.stderr[-3000:])
        raise SystemExit(1)
    rc1 = _files(output / "v24.1.0-rc1" / "bundle")
    rc2 = _files(output / "v24.1.0-rc2" / "bundle")
    metrics = {name: json.loads(files[SLO_METRICS]) for name, files in (("rc1", rc1), ("rc2", rc2))}
    spec_doc = metrics["rc2"]["spec"]
    spec = load_slo_spec(str(spec_doc["yaml"]).encode(), source=str(spec_doc.get("source", "slos.yaml")))
    frames = {"rc1": raw_frames(rc1), "rc2": raw_frames(rc2)}
    current = Samples.from_frames(frames["rc2"], metrics["rc2"])
    info = {"rc": "v24.1.0-rc1", "commit": "", "verified": True}
    baselines = {
        SEQUENTIAL: Samples.from_frames(frames["rc1"], metrics["rc1"]),
        CONCURRENT: concurrent_samples(frames["rc2"], metrics["rc2"]),
    }
    # both regression methods on the same rows: 1 (before issue 24's floor and round pairing), 2 (now)
    documents = {
        f"{design}, method {method}": comparison_document(
            spec, rc="v24.1.0-rc2", current=current, baseline=baseline, baseline_info=info, design=design,
            regression_method=method,
        )
        for design, baseline in baselines.items()
        for method in (1, REGRESSION_METHOD)
    }  # fmt: skip
    print(f"{'hog on every core' if args.hog else 'no hog'}, demo --duration {args.duration}")
    print("| design | SLO | change | shift / diff [95% CI] | verdict |")
    print("| --- | --- | --- | --- | --- |")
    for design, document in documents.items():
        for row in document["slos"]:
            print(_row(design, row))
    signed = json.loads(rc2[SLO_BASELINE])
    print(
        f"rc2's signed slo/baseline.json: design {signed.get('design')}, method {signed.get('regression_method', 1)}"
    )
    health = metrics["rc2"].get("measurement_health") or {}
    print(f"rc2 measurement health: {json.dumps(health.get('summary', health.get('verdict', '')))[:400]}")
    shutil.rmtree(output.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
