"""What the pictures cost: the HTML report and the UI's charts beside the SLO maths they draw.

Synthetic raw samples in the pipeline's own schemas, at the demo's size by default (42,000 reads
and 27,000 writes over 20 s, 50 subscribers x 200 events), then, `--repeat` rounds each, taking
turns: `metrics_document` (the SLO figures: the reference), `render_report` (report/index.html)
and `slo_charts_markdown` (the PNGs on slo_metrics in the UI). Medians, and the report's size.

    uv run python benchmarks/report_render.py
    uv run python benchmarks/report_render.py --reads 2000 --writes 1000 --repeat 1   # smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

import numpy as np
import polars as pl

from verification_pipeline.fanout.accounting import DELIVERY_SCHEMA
from verification_pipeline.loadtest.ingest import SAMPLE_SCHEMA
from verification_pipeline.report.html import ReportInputs, render_report
from verification_pipeline.report.markdown import slo_charts_markdown
from verification_pipeline.slo.document import metrics_document
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH
from verification_pipeline.verdict import Verdict

START = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)


def requests(op: str, n: int, seconds: float, median_ms: float, rng: np.random.Generator) -> pl.DataFrame:
    offsets = np.sort(rng.uniform(0, seconds, n))
    return pl.DataFrame(
        {
            "timestamp": [START + dt.timedelta(seconds=float(s)) for s in offsets],
            "op": op,
            "latency_ms": rng.lognormal(np.log(median_ms), 0.45, n),
            "status": 200,
            "ok": True,
            "failure": None,
            "scenario": op,
            "segment": "0:1",
            "ingest_ms": rng.lognormal(np.log(12.0), 0.5, n) if op == "write" else None,
        },
        schema_overrides=SAMPLE_SCHEMA,
    ).cast(SAMPLE_SCHEMA)


def deliveries(subscribers: int, events: int, rng: np.random.Generator) -> pl.DataFrame:
    latency = rng.lognormal(np.log(8.0), 0.6, subscribers * events)
    published = [START + dt.timedelta(milliseconds=10 * e) for _ in range(subscribers) for e in range(events)]
    return pl.DataFrame(
        {
            "subscriber": np.repeat(np.arange(subscribers, dtype=np.int32), events),
            "event_id": [f"e{e}" for _ in range(subscribers) for e in range(events)],
            "seq": np.tile(np.arange(events), subscribers),
            "published_at": published,
            "received_at": [
                p + dt.timedelta(milliseconds=float(ms)) for p, ms in zip(published, latency, strict=True)
            ],
            "latency_ms": latency,
            "status": "delivered",
        },
        schema_overrides=DELIVERY_SCHEMA,
    ).cast(DELIVERY_SCHEMA)


def median_s(work, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=42_000)
    parser.add_argument("--writes", type=int, default=27_000)
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(18)
    read = requests("read", args.reads, 20.0, 45.0, rng)
    write = requests("write", args.writes, 20.0, 30.0, rng)
    fanout = deliveries(args.subscribers, args.events, rng)
    spec = DEFAULT_SLOS_PATH.read_text()

    maths_s, metrics = median_s(
        lambda: metrics_document(
            spec_yaml=spec, spec_source="slos.yaml", read=read, write=write, fanout=fanout
        ),
        args.repeat,
    )
    inputs = ReportInputs(
        rc="v24.1.0-rc1",
        commit="",
        verdict=Verdict(metrics["verdict"]),  # no scan gates here: the SLOs' verdict is the RC's
        metrics=metrics,
        scan_summary={"verdict": "PASS", "gates": []},
        read=read,
        write=write,
        fanout=fanout,
    )
    report_s, page = median_s(lambda: render_report(inputs), args.repeat)
    charts_s, markdown = median_s(
        lambda: slo_charts_markdown(metrics, read=read, write=write, fanout=fanout), args.repeat
    )
    print(
        f"{args.reads} reads, {args.writes} writes, {args.subscribers * args.events} deliveries; "
        f"median of {args.repeat}"
    )
    print("| step | median s | x SLO maths | output |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| metrics_document (SLO maths, reference) | {maths_s:.2f} | 1.0 | |")
    print(
        f"| render_report (report/index.html) | {report_s:.2f} | {report_s / maths_s:.1f} | {len(page) / 1e6:.2f} MB |"
    )
    print(
        f"| slo_charts_markdown (UI PNGs) | {charts_s:.2f} | {charts_s / maths_s:.1f} | {len(markdown) / 1e3:.0f} kB |"
    )


if __name__ == "__main__":
    main()
