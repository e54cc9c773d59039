"""The paired design of the concurrent baseline (`compare/paired.py`): its statistics, its A/A
false-positive rate and its power, by simulation with fixed seeds (the model is the benchmark's,
benchmarks/paired_design.py, whose figures are in benchmarks/RESULTS.md)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from verification_pipeline.compare.document import (
    CONCURRENT,
    PAIRED_METHOD,
    ROUNDS_METHOD,
    SHIFT_METHOD,
    Samples,
    comparison_document,
)
from verification_pipeline.compare.paired import (
    MIN_PER_WINDOW,
    MIN_WINDOWS,
    paired_rounds,
    paired_shift,
    probe_rounds,
    round_differences,
    signed_rank,
    window_differences,
)
from verification_pipeline.fanout.accounting import DELIVERED, DELIVERY_SCHEMA
from verification_pipeline.loadtest.ingest import SAMPLE_SCHEMA
from verification_pipeline.records import BaselineComparisonRecord
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH, load_slo_spec

_spec = importlib.util.spec_from_file_location(
    "paired_design", Path(__file__).resolve().parents[2] / "benchmarks" / "paired_design.py"
)
assert _spec is not None and _spec.loader is not None
design = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(design)


def test_the_signed_rank_interval_is_the_textbook_one_on_independent_windows() -> None:
    # n = 20 at 95 %: the table's critical value is 52, so the interval runs from the 53rd
    # smallest Walsh average to the 53rd largest; the windows alternate, so n_eff = n.
    values = pl.Series([float(v) for pair in zip(range(10), range(19, 9, -1), strict=True) for v in pair])
    walsh = sorted((a + b) / 2 for i, a in enumerate(values) for b in list(values)[i:])
    estimate, p_value, n_eff = signed_rank(values, 0.95)
    assert n_eff == pytest.approx(20.0)
    assert estimate.estimate == pytest.approx(9.5)
    assert (estimate.lower, estimate.upper) == (walsh[52], walsh[len(walsh) - 53])
    assert p_value < 1e-3


def test_serially_dependent_windows_widen_the_interval() -> None:
    rng = np.random.default_rng(3)
    state, values = 0.0, []
    for _ in range(20):
        state = 0.8 * state + rng.normal()
        values.append(state)
    series = pl.Series(values)
    dependent, _, n_eff = signed_rank(series, 0.95)
    assert n_eff < 20
    shuffled, _, _ = signed_rank(series.sample(fraction=1.0, shuffle=True, seed=1), 0.95)
    assert dependent.upper - dependent.lower > shuffled.upper - shuffled.lower


def _frame(t: list[float], values: list[float]) -> pl.DataFrame:
    return pl.DataFrame({"t": t, "value": values})


def test_windows_pair_the_sides_in_time_and_leave_out_thin_windows() -> None:
    # this RC 5 ms above the baseline, both riding the same slow-down in the second half
    t = [i / 100 for i in range(2000)]
    noise = [1.0 if s < 10 else 4.0 for s in t]
    current = _frame(t, [20 * k + 5 for k in noise])
    baseline = _frame(t, [20 * k for k in noise])
    diffs = window_differences(current, baseline, 0.95, windows=20)
    assert diffs.height == 20
    assert diffs["d"].to_list() == pytest.approx([5.0] * 20)
    thin = current.filter(pl.col("t") >= 1.0).vstack(
        current.filter(pl.col("t") < 1.0).head(MIN_PER_WINDOW - 1)
    )
    assert window_differences(thin, baseline, 0.95, windows=20)["w"].min() == 1


def test_sides_that_never_overlap_in_time_are_not_paired() -> None:
    current = _frame([float(i) for i in range(100)], [20.0] * 100)
    baseline = _frame([float(i) + 1000 for i in range(100)], [20.0] * 100)
    assert paired_shift(current, baseline, 0.95, 0.95) is None


REPLICATIONS = 100


@pytest.mark.parametrize("hog", [False, True], ids=["serial-dependence", "shared-cpu-hog"])
def test_a_a_runs_are_called_slower_in_at_most_5_of_100(hog: bool) -> None:
    rng = np.random.default_rng(2400 + hog)
    slower = 0
    for _ in range(REPLICATIONS):
        current, baseline = design.side_by_side(rng, hog=hog)
        result = paired_shift(current, baseline, 0.95, 0.95)
        assert result is not None
        slower += result.shift.lower > 0
    assert slower <= 5


@pytest.mark.parametrize("hog", [False, True], ids=["serial-dependence", "shared-cpu-hog"])
def test_plus_40_ms_is_called_slower_with_a_shift_of_20_to_60_ms(hog: bool) -> None:
    rng = np.random.default_rng(2410 + hog)
    found = 0
    for _ in range(REPLICATIONS):
        current, baseline = design.side_by_side(rng, delta_ms=40.0, hog=hog)
        result = paired_shift(current, baseline, 0.95, 0.95)
        assert result is not None
        found += result.shift.lower > 0 and 20 <= result.shift.estimate <= 60
    assert found >= 95


def test_the_sequential_design_is_fooled_by_a_hog_on_one_side_and_the_paired_one_is_not() -> None:
    """The reason for the concurrent baseline: a neighbour's load on one run reads as a regression."""
    rng = np.random.default_rng(2420)
    sequential = paired = 0
    for _ in range(20):
        _, lower, _, _ = design.run_design("sequential", rng, 0.0, "hog_one_side")
        sequential += lower > 0
        _, lower, _, _ = design.run_design("windows-20", rng, 0.0, "hog")
        paired += lower > 0
    assert sequential >= 8
    assert paired <= 1


def _rows(t: np.ndarray, values: np.ndarray, op: str) -> pl.DataFrame:
    start = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    return pl.DataFrame(
        {
            "timestamp": [start + dt.timedelta(seconds=float(s)) for s in t],
            "op": op,
            "latency_ms": values,
            "status": 200,
            "ok": True,
            "failure": None,
            "scenario": op,
            "segment": "0:1",
            "ingest_ms": values / 4 if op == "write" else None,
        },
        schema=SAMPLE_SCHEMA,
    )


def test_a_concurrent_document_pairs_latencies_says_its_design_and_validates() -> None:
    rng = np.random.default_rng(7)
    sides = {}
    for op, delta in (("read", 40.0), ("write", 0.0)):
        current, baseline = design.side_by_side(rng, delta_ms=delta, hog=True)
        sides[op] = [_rows(f["t"].to_numpy(), f["value"].to_numpy(), op) for f in (current, baseline)]
    spec = load_slo_spec(DEFAULT_SLOS_PATH.read_bytes())
    document = comparison_document(
        spec,
        rc="v24.1.0-rc2",
        current=Samples(read=sides["read"][0], write=sides["write"][0]),
        baseline=Samples(read=sides["read"][1], write=sides["write"][1]),
        baseline_info={"rc": "v24.1.0-rc1", "commit": "", "verified": False},
        design=CONCURRENT,
    )
    assert document["design"] == CONCURRENT
    rows = {row["slo"]: row for row in document["slos"]}
    read = rows["read_latency_p95"]
    assert read["method"] == PAIRED_METHOD and read["windows"] >= MIN_WINDOWS
    assert read["classification"] == "slower"
    assert 20 <= read["shift_ms"]["estimate"] <= 60
    assert rows["write_latency_p95"]["classification"] == "no_change"
    assert rows["fanout_latency_p95"]["classification"] is None  # no fan-out rows on either side
    assert BaselineComparisonRecord.model_validate(document).design == CONCURRENT
    # a document from before the field (sequential) still validates, and is stored without it
    old = comparison_document(
        spec,
        rc="v24.1.0-rc2",
        current=Samples(read=sides["read"][0]),
        baseline=Samples(read=sides["read"][1]),
        baseline_info={"rc": "v24.1.0-rc1", "commit": "", "verified": True},
    )
    assert next(row for row in old["slos"] if row["slo"] == "read_latency_p95")["method"] == SHIFT_METHOD
    old.pop("design")
    record = BaselineComparisonRecord.model_validate(old)
    assert record.design is None and "design" not in record.as_json()
    assert not math.isnan(read["p95_ratio"]["estimate"])


# --- the fan-out probe's rounds, paired (issue 24) ------------------------------------------------


def test_the_probes_abba_rounds_are_found_and_paired_one_of_each_side() -> None:
    rng = np.random.default_rng(5)
    current, baseline = design.fanout_rounds(rng, rounds=12, subscribers=10)
    rounds = probe_rounds(current, baseline)
    assert [side for side, _ in rounds] == ["current", "baseline", "baseline", "current"] * 3
    assert [frame.height for _, frame in rounds] == [17 * 10] * 12  # ceil(200 / 12) events each


def test_a_drift_over_the_rounds_cancels_between_consecutive_pairs() -> None:
    # round k (ABBA order, 2 s apart, 20 publishes 10 ms apart) sits at 10 + k ms; this RC +5 ms
    sides = ["current", "baseline", "baseline", "current"] * 3
    frames: dict[str, list[pl.DataFrame]] = {"current": [], "baseline": []}
    for k, side in enumerate(sides):
        t = [2.0 * k + 0.01 * i for i in range(20)]
        frames[side].append(_frame(t, [10.0 + k + (5.0 if side == "current" else 0.0)] * 20))
    current, baseline = pl.concat(frames["current"]), pl.concat(frames["baseline"])
    diffs = round_differences(current, baseline, 0.95)
    # A before B: 5 - 1 ms; B before A: 5 + 1 ms; alternating, so the location is 5 ms
    assert diffs["d"].to_list() == pytest.approx([4.0, 6.0] * 3)
    result = paired_rounds(current, baseline, 0.95, 0.95)
    assert result is not None and result.windows == 6
    assert result.shift.estimate == pytest.approx(5.0) and result.shift.lower is not None
    assert result.shift.lower > 0


def test_too_few_rounds_or_one_side_only_are_not_paired() -> None:
    rng = np.random.default_rng(6)
    current, baseline = design.fanout_rounds(rng, rounds=4, subscribers=10)
    assert len(probe_rounds(current, baseline)) == 4
    assert paired_rounds(current, baseline, 0.95, 0.95) is None  # the old ABBA: 2 pairs < MIN_WINDOWS
    assert probe_rounds(current, baseline.filter(pl.lit(False))) == []


@pytest.mark.parametrize("hog", [False, True], ids=["serial-dependence", "shared-cpu-hog"])
def test_a_a_probe_rounds_are_called_slower_in_at_most_5_of_100(hog: bool) -> None:
    rng = np.random.default_rng(2430 + hog)
    slower = 0
    for _ in range(REPLICATIONS):
        current, baseline = design.fanout_rounds(rng, rounds=12, hog=hog, subscribers=10)
        result = paired_rounds(current, baseline, 0.95, 0.95)
        assert result is not None and result.windows == 6
        slower += result.shift.lower is not None and result.shift.lower > 0
    assert slower <= 5


def test_a_real_fanout_shift_is_called_slower_by_the_paired_rounds() -> None:
    rng = np.random.default_rng(2440)
    found = 0
    for _ in range(REPLICATIONS):
        current, baseline = design.fanout_rounds(rng, rounds=12, delta_ms=10.0, subscribers=10)
        result = paired_rounds(current, baseline, 0.95, 0.95)
        assert result is not None
        found += (
            result.shift.lower is not None and result.shift.lower > 0 and 5 <= result.shift.estimate <= 15
        )
    assert found >= 95


def _deliveries(frame: pl.DataFrame) -> pl.DataFrame:
    start = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    published = [start + dt.timedelta(seconds=float(s)) for s in frame["t"]]
    return pl.DataFrame(
        {
            "subscriber": [0] * frame.height,
            "event_id": [f"e{i}" for i in range(frame.height)],
            "seq": list(range(frame.height)),
            "published_at": published,
            "received_at": [
                p + dt.timedelta(milliseconds=float(v))
                for p, v in zip(published, frame["value"], strict=True)
            ],
            "latency_ms": frame["value"],
            "status": DELIVERED,
        },
        schema=DELIVERY_SCHEMA,
    )


def test_a_concurrent_document_pairs_the_fanout_rounds_from_method_2_only() -> None:
    rng = np.random.default_rng(2450)
    current, baseline = design.fanout_rounds(rng, rounds=12, hog=True, subscribers=10)
    spec = load_slo_spec(DEFAULT_SLOS_PATH.read_bytes())

    def fanout_row(method: int) -> dict:
        document = comparison_document(
            spec,
            rc="v24.1.0-rc2",
            current=Samples(fanout=_deliveries(current)),
            baseline=Samples(fanout=_deliveries(baseline)),
            baseline_info={"rc": "v24.1.0-rc1", "commit": "", "verified": False},
            design=CONCURRENT,
            regression_method=method,
        )
        return next(row for row in document["slos"] if row["slo"] == "fanout_latency_p95")

    paired, old = fanout_row(2), fanout_row(1)
    assert paired["method"] == ROUNDS_METHOD and paired["rounds"] == 6
    assert paired["classification"] == "no_change"
    assert old["method"] == SHIFT_METHOD and "rounds" not in old
    assert paired["shift_ms"] != old["shift_ms"]
