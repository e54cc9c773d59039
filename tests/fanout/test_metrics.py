"""The fan-out figures: the seed's quantile to the bit, and the delivery counts."""

from __future__ import annotations

import json
import random
import re
import subprocess
from pathlib import Path

import polars as pl
import pytest

from verification_pipeline.errors import NoDataError
from verification_pipeline.fanout.accounting import Publish, Receipt, account_deliveries
from verification_pipeline.fanout.metrics import (
    fanout_metrics,
    gate_breaches,
    loop_lag_p99_by_process,
    seed_method_figures,
    seed_quantile,
)

T0 = 1_700_000_000_000.0


def js_quantiles(script: Path, arrays: list[list[float]], qs: list[float]) -> list[list[float | None]]:
    """Run the seed script's own `quantile` function in Node on each array."""
    source = script.read_text()
    function = re.search(r"^function quantile\(arr, q\) \{.*?^\}", source, re.DOTALL | re.MULTILINE)
    assert function, f"no quantile function in {script}"
    program = (
        function.group(0)
        + f"""
const arrays = {json.dumps(arrays)};
const qs = {json.dumps(qs)};
console.log(JSON.stringify(arrays.map(a => qs.map(q => {{ const v = quantile(a, q); return v === undefined ? null : v; }}))));
"""
    )
    done = subprocess.run(["node", "-e", program], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stdout)


def test_seed_quantile_is_the_seed_scripts_quantile_to_the_bit(seed_fanout_script):
    rng = random.Random(7)
    arrays = [[rng.lognormvariate(1.5, 0.8) for _ in range(n)] for n in (1, 2, 3, 19, 20, 21, 199, 200, 1000)]
    arrays.append([float(rng.randint(0, 30)) for _ in range(200)])  # Node's integer-ms latencies, with ties
    arrays.append([])
    qs = [0.0, 0.5, 0.9, 0.95, 0.99, 1.0]
    expected = js_quantiles(seed_fanout_script, arrays, qs)
    ours = [[seed_quantile(a, q) for q in qs] for a in arrays]
    assert ours == expected  # exact: same arithmetic in the same order


def table(late: int = 0) -> pl.DataFrame:
    publishes = [Publish(f"e{i}", T0 + i * 100) for i in range(4)]
    receipts = [Receipt(s, f"e{i}", i, T0 + i * 100 + 1 + s + i) for s in range(3) for i in range(4)]
    receipts.remove(Receipt(2, "e3", 3, T0 + 300 + 1 + 2 + 3))  # one loss
    receipts.append(Receipt(0, "e0", 0, T0 + 50))  # one duplicate
    receipts += [Receipt(1, "e3", 3, T0 + 300 + 400)] * late  # (a duplicate too)
    return account_deliveries(publishes, receipts, 3, late_ms=250, grace_ms=1000)


def test_metrics_count_first_arrivals_and_account_for_losses_and_duplicates():
    lag = pl.DataFrame(
        {"process": ["publisher"] * 3 + ["subscribers-0"] * 3, "lag_ms": [1.0, 2, 3, 10, 20, 30]}
    )
    metrics = fanout_metrics(table(), loop_lag=lag, publish_errors=2)
    latencies = sorted(1 + s + i for s in range(3) for i in range(4) if (s, i) != (2, 3))
    assert metrics["count"] == 11 == len(latencies)
    assert metrics["p95_ms"] == seed_quantile(latencies, 0.95)
    assert metrics["p99_ms"] == seed_quantile(latencies, 0.99)
    assert metrics["p50_ms"] == seed_quantile(latencies, 0.5)
    assert metrics["max_ms"] == max(latencies)
    assert (metrics["delivered"], metrics["late"], metrics["lost"], metrics["duplicates"]) == (11, 0, 1, 1)
    assert metrics["delivery_ratio"] == 11 / 12
    assert (metrics["subscribers"], metrics["events"], metrics["publish_errors"]) == (3, 4, 2)
    assert metrics["loop_lag_p99_ms"] == seed_quantile([10, 20, 30], 0.99)  # the worst loop
    assert loop_lag_p99_by_process(lag) == {
        "publisher": seed_quantile([1.0, 2, 3], 0.99),
        "subscribers-0": seed_quantile([10, 20, 30], 0.99),
    }
    assert metrics["evidence"] == "raw"
    assert list(metrics)[:3] == ["count", "p95_ms", "p99_ms"]  # the seed's shape first
    json.dumps(metrics)  # goes to fanout.json as is


def test_late_arrivals_count_as_delivered_for_the_ratio_but_are_reported():
    publishes = [Publish("e0", T0)]
    receipts = [Receipt(0, "e0", 0, T0 + 5), Receipt(1, "e0", 0, T0 + 600)]
    metrics = fanout_metrics(account_deliveries(publishes, receipts, 2, late_ms=250, grace_ms=1000))
    assert (metrics["delivered"], metrics["late"], metrics["lost"]) == (1, 1, 0)
    assert metrics["delivery_ratio"] == 1.0
    assert metrics["max_ms"] == 600


def test_an_empty_table_is_no_data():
    with pytest.raises(NoDataError, match="deliveries"):
        fanout_metrics(account_deliveries([], [], 3, late_ms=1, grace_ms=2))


def test_gates_name_what_breached():
    metrics = fanout_metrics(table())
    assert gate_breaches(metrics, max_p95_ms=250, min_delivery_ratio=0.9) == []
    breaches = gate_breaches({**metrics, "p95_ms": 251.0}, max_p95_ms=250, min_delivery_ratio=1.0)
    assert "p95 251.0 ms exceeds 250 ms" in breaches[0]
    assert "delivery ratio 91.6667% is below 100.00% (1 of 3 x 4 deliveries lost)" in breaches[1]
    assert gate_breaches({"p95_ms": None, "delivery_ratio": 0.0}, min_delivery_ratio=1.0)[0].startswith(
        "no event reached"
    )
    assert gate_breaches({"p95_ms": 3.0, "delivery_ratio": None}) == []  # summary-only evidence


def test_seed_method_figures_time_publishes_and_echoes_as_the_seed_script_does():
    """Whole ms at both ends (Date.now()), arrival order, the first RUNS per subscriber, pooled;
    events that are neither our publishes nor our echoes are not counted."""
    publishes = [Publish("p0", T0 + 0.9), Publish("p1", T0 + 20.2)]
    echoes = [Publish("t0", T0 + 5.0), Publish("t1", T0 + 25.0)]
    receipts = [
        Receipt(0, "p0", 1, T0 + 3.1),  # floor(3.1) - floor(0.9) = 3
        Receipt(0, "t0", 2, T0 + 6.99),  # 1
        Receipt(0, "foreign", 3, T0 + 7.0),  # someone else's event: not counted
        Receipt(0, "t1", 5, T0 + 26.0),  # arrives before p1 here: 1
        Receipt(0, "p1", 4, T0 + 29.0),  # 9, but past RUNS=3 for subscriber 0
        Receipt(1, "p1", 4, T0 + 24.5),  # subscriber 1: 4
        Receipt(1, "p0", 1, T0 + 2.0),  # 2, and first in arrival order
    ]
    figures = seed_method_figures(publishes, echoes, receipts, runs=3)
    assert (figures["count"], figures["publishes"], figures["echoes"]) == (5, 3, 2)
    assert figures["p95_ms"] == seed_quantile([3, 1, 1, 2, 4], 0.95)
    assert figures["p99_ms"] == seed_quantile([3, 1, 1, 2, 4], 0.99)
    everything = seed_method_figures(publishes, echoes, receipts, runs=10)
    assert (everything["count"], everything["p95_ms"]) == (6, seed_quantile([3, 1, 1, 9, 2, 4], 0.95))
