"""The charts, drawn with matplotlib (object API, no pyplot: no global state between threads).

Each function takes the raw frames or the signed documents and returns a `Figure`; `svg()`
and `png_data_uri()` turn it into what the HTML report inlines and what Dagster's markdown
metadata embeds. SVG text is drawn as paths, so the report needs no font from anywhere.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import polars as pl
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

from verification_pipeline.fanout.accounting import DELIVERED, LATE, LOST
from verification_pipeline.loadtest.ingest import DROPPED, FAILURE_KINDS, GRAPHQL, HTTP, TIMEOUT
from verification_pipeline.report.budget import figure as fmt
from verification_pipeline.report.budget import interval
from verification_pipeline.scalars import float_of

WINDOW_S = 10
THRESHOLD_COLOR = "#c62828"
P95_COLOR = "#1565c0"
BASELINE_COLOR = "#757575"
OP_COLORS = {"read": "#1565c0", "write": "#ef6c00"}
KIND_COLORS = {HTTP: "#c62828", GRAPHQL: "#8e24aa", TIMEOUT: "#ef6c00", DROPPED: "#546e7a"}
KIND_LABELS = {HTTP: "HTTP status", GRAPHQL: "GraphQL error", TIMEOUT: "timeout", DROPPED: "dropped"}
_STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "path",
    "svg.hashsalt": "verification_pipeline",  # stable ids: the same data draws the same bytes
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def _figure(height: float = 3.2, width: float = 7.5, left_in: float = 0.7) -> Figure:
    """A figure with fixed margins (inches): a layout engine would double the drawing time."""
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(
        left=left_in / width,
        right=1 - 0.15 / width,
        top=1 - 0.35 / height,
        bottom=0.5 / height,
        hspace=0.25,
        wspace=0.3,
    )
    return fig


def svg(fig: Figure) -> str:
    """The figure as an `<svg>` element (no XML prolog), ready to inline in HTML."""
    buffer = io.StringIO()
    with mpl.rc_context(_STYLE):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def png_data_uri(fig: Figure, dpi: int = 72) -> str:
    """The figure as a `data:image/png;base64,...` URI: what the Dagster UI's markdown shows."""
    buffer = io.BytesIO()
    with mpl.rc_context(_STYLE):
        fig.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _styled(fig: Figure) -> Figure:
    """Apply the style to axes made outside `rc_context` (savefig alone does not restyle them)."""
    for ax in fig.axes:
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=8)
    return fig


def latency_cdf(slo: Mapping[str, Any], latencies: pl.Series) -> Figure:
    """Empirical CDF of one latency SLO's samples, its threshold, and its quantile with the interval."""
    fig = _figure()
    ax = fig.add_subplot()
    ordered = np.sort(latencies.drop_nulls().to_numpy())
    q = slo.get("quantile") or 0.95
    if ordered.size:
        ax.step(
            ordered,
            np.arange(1, ordered.size + 1) / ordered.size,
            where="post",
            color=P95_COLOR,
            lw=1.4,
            label=f"ECDF of {ordered.size} samples",
        )
    if slo.get("ci_low") is not None or slo.get("ci_high") is not None:
        low = float(slo["ci_low"]) if slo.get("ci_low") is not None else (ordered[0] if ordered.size else 0.0)
        high = (
            float(slo["ci_high"])
            if slo.get("ci_high") is not None
            else (ordered[-1] if ordered.size else low)
        )
        ax.axvspan(
            low,
            high,
            color=P95_COLOR,
            alpha=0.15,
            label=f"{_level(slo)} interval {interval(slo.get('ci_low'), slo.get('ci_high'), 'ms')}",
        )
    if slo.get("value") is not None:
        ax.axvline(
            slo["value"], color=P95_COLOR, ls=":", lw=1.2, label=f"p{q * 100:g} {fmt(slo['value'], 'ms')}"
        )
    ax.axhline(q, color=BASELINE_COLOR, lw=0.8, ls="--")
    ax.axvline(
        slo["threshold"],
        color=THRESHOLD_COLOR,
        lw=1.5,
        ls="--",
        label=f"threshold {fmt(slo['threshold'], 'ms')}",
    )
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("share of samples <= x")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{slo['name']}: {slo['verdict']}", loc="left", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    return _styled(fig)


def windows(samples: pl.DataFrame) -> pl.DataFrame:
    """Per op and 10 s window of the test: requests/s, failures by kind, and p95 of the successful ones.

    `window_s` is the window's start in seconds from the test's first sample; p95 is Hyndman-Fan
    type 7 (polars' `linear`), the SLOs' own definition.
    """
    if samples.is_empty():
        return pl.DataFrame(
            schema={
                "op": pl.String,
                "window_s": pl.Int64,
                "requests_per_s": pl.Float64,
                "p95_ms": pl.Float64,
                **{k: pl.UInt32 for k in FAILURE_KINDS},
            }
        )
    start = samples["timestamp"].min()
    timed = samples.with_columns(elapsed_s=(pl.col("timestamp") - start).dt.total_microseconds() / 1e6)
    test_s = float_of(timed["elapsed_s"].max())
    return (
        timed.with_columns(window_s=(pl.col("elapsed_s") // WINDOW_S * WINDOW_S).cast(pl.Int64))
        .group_by("op", "window_s")
        .agg(
            requests=(pl.col("failure").fill_null("") != DROPPED).sum(),
            p95_ms=pl.col("latency_ms").filter(pl.col("ok")).quantile(0.95, "linear"),
            **{kind: (pl.col("failure") == kind).sum() for kind in FAILURE_KINDS},
        )
        # the last window is cut short by the test's end: its rate is over the time it covers
        .with_columns(
            requests_per_s=pl.col("requests")
            / (test_s - pl.col("window_s")).clip(lower_bound=1.0, upper_bound=float(WINDOW_S))
        )
        .drop("requests")
        .sort("op", "window_s")
    )


def timeline(samples: pl.DataFrame, thresholds: Mapping[str, float]) -> Figure:
    """p95 (with each op's threshold) and throughput over the test's timeline, in 10 s windows."""
    per_window = windows(samples)
    fig = _figure(height=4.6)
    top, bottom = fig.subplots(2, 1, sharex=True)
    for op in sorted(per_window["op"].unique().to_list()):
        rows = per_window.filter(pl.col("op") == op)
        color = OP_COLORS.get(op, BASELINE_COLOR)
        top.plot(rows["window_s"], rows["p95_ms"], marker="o", ms=3, color=color, label=f"{op} p95")
        if op in thresholds:
            top.axhline(
                thresholds[op],
                color=color,
                ls="--",
                lw=1.2,
                label=f"{op} threshold {fmt(thresholds[op], 'ms')}",
            )
        bottom.plot(rows["window_s"], rows["requests_per_s"], marker="o", ms=3, color=color, label=op)
    top.set_ylabel("p95 (ms)")
    top.set_title(f"p95 and throughput per {WINDOW_S} s window", loc="left", fontsize=10)
    top.legend(fontsize=7, loc="upper left", ncols=2)
    # a test shorter than two windows is one point: still show the window it covers
    bottom.set_xlim(-1, max(float_of(per_window["window_s"].max() or 0), 0) + WINDOW_S)
    bottom.set_ylim(bottom=0)
    bottom.set_ylabel("requests/s")
    bottom.set_xlabel("seconds since the test started (window start)")
    bottom.legend(fontsize=7, loc="lower left")
    return _styled(fig)


def errors_over_time(samples: pl.DataFrame) -> Figure:
    """Failures per 10 s window, stacked by kind (HTTP status, GraphQL error, timeout, dropped)."""
    per_window = windows(samples).group_by("window_s").agg(pl.col(list(FAILURE_KINDS)).sum()).sort("window_s")
    fig = _figure(height=2.8)
    ax = fig.add_subplot()
    bottom = np.zeros(per_window.height)
    x = per_window["window_s"].to_numpy()
    for kind in FAILURE_KINDS:
        counts = per_window[kind].to_numpy().astype(float)
        ax.bar(
            x,
            counts,
            width=WINDOW_S * 0.8,
            bottom=bottom,
            align="edge",
            color=KIND_COLORS[kind],
            label=f"{KIND_LABELS[kind]} ({int(counts.sum())})",
        )
        bottom += counts
    total = int(bottom.sum())
    ax.set_ylim(0, max(bottom.max(initial=0), 1) * 1.35)  # room for the legend above the bars
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"failed requests per {WINDOW_S} s window: {total} in all", loc="left", fontsize=10)
    ax.set_xlabel("seconds since the test started")
    ax.set_ylabel("failures")
    ax.legend(fontsize=7, loc="upper right", ncols=4)
    return _styled(fig)


def subscriber_outcomes(fanout: pl.DataFrame) -> pl.DataFrame:
    """Per subscriber: how many events arrived late and how many were lost."""
    return (
        fanout.group_by("subscriber")
        .agg(late=(pl.col("status") == LATE).sum(), lost=(pl.col("status") == LOST).sum())
        .sort("subscriber")
    )


def fanout_distribution(fanout: pl.DataFrame, slo: Mapping[str, Any] | None) -> Figure:
    """Fan-out delivery latencies (first arrivals) with the threshold, and lost/late per subscriber."""
    fig = _figure(height=3.4)
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    fig.subplots_adjust(wspace=0.25)
    arrived = fanout.filter(pl.col("status").is_in([DELIVERED, LATE]))["latency_ms"].drop_nulls().to_numpy()
    if arrived.size:
        left.hist(arrived, bins=min(40, max(5, arrived.size // 10)), color=P95_COLOR, alpha=0.8)
    if slo is not None:
        left.axvline(
            slo["threshold"],
            color=THRESHOLD_COLOR,
            ls="--",
            lw=1.5,
            label=f"threshold {fmt(slo['threshold'], 'ms')}",
        )
        if slo.get("value") is not None:
            left.axvline(slo["value"], color="black", ls=":", lw=1.2, label=f"p95 {fmt(slo['value'], 'ms')}")
        left.legend(fontsize=7)
    left.set_title(f"fan-out delivery latency ({arrived.size} deliveries)", loc="left", fontsize=10)
    left.set_xlabel("latency (ms)")
    left.set_ylabel("deliveries")
    outcomes = subscriber_outcomes(fanout)
    x = outcomes["subscriber"].to_numpy()
    right.bar(
        x,
        outcomes["late"].to_numpy(),
        color=KIND_COLORS[TIMEOUT],
        label=f"late ({int(outcomes['late'].sum())})",
    )
    right.bar(
        x,
        outcomes["lost"].to_numpy(),
        bottom=outcomes["late"].to_numpy(),
        color=KIND_COLORS[HTTP],
        label=f"lost ({int(outcomes['lost'].sum())})",
    )
    right.set_ylim(0, max(float_of((outcomes["late"] + outcomes["lost"]).max() or 0), 1) * 1.25)
    right.set_title("late and lost per subscriber", loc="left", fontsize=10)
    right.set_xlabel("subscriber")
    right.set_ylabel("events")
    right.yaxis.set_major_locator(MaxNLocator(integer=True))
    right.legend(fontsize=7)
    return _styled(fig)


def baseline_cdfs(entry: Mapping[str, Any], current_rc: str, baseline_rc: str) -> Figure:
    """One SLO of `slo/baseline.json`: both CDFs overlaid, and the shift with its interval."""
    fig = _figure(height=3.2)
    ax = fig.add_subplot()
    cdf = entry.get("cdf") or {}
    for label, points, color, style in (
        (f"{baseline_rc} (baseline)", cdf.get("baseline") or [], BASELINE_COLOR, "--"),
        (f"{current_rc} (this RC)", cdf.get("current") or [], P95_COLOR, "-"),
    ):
        if points:
            xs, ps = zip(*points, strict=True)
            ax.step(xs, ps, where="post", color=color, ls=style, lw=1.4, label=label)
    shift = entry.get("shift_ms") or {}
    if shift.get("estimate") is not None:
        ax.set_title(
            f"{entry['slo']}: shift {_signed(shift['estimate'])} ms "
            f"[{_signed(shift.get('lower'))}, {_signed(shift.get('upper'))}], {entry.get('classification', '')}",
            loc="left",
            fontsize=10,
        )
    else:
        ax.set_title(f"{entry['slo']}", loc="left", fontsize=10)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("share of samples <= x")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right", fontsize=8)
    return _styled(fig)


def shifts(entries: Sequence[Mapping[str, Any]]) -> Figure:
    """Every latency SLO's shift against the baseline with its interval; 0 is no change."""
    rows = [e for e in entries if (e.get("shift_ms") or {}).get("estimate") is not None]
    fig = _figure(height=1.2 + 0.45 * max(len(rows), 1), left_in=1.6)
    ax = fig.add_subplot()
    for i, entry in enumerate(rows):
        shift = entry["shift_ms"]
        low = shift.get("lower", shift["estimate"])
        high = shift.get("upper", shift["estimate"])
        color = {"slower": THRESHOLD_COLOR, "faster": "#2e7d32"}.get(
            str(entry.get("classification")), P95_COLOR
        )
        ax.errorbar(
            [shift["estimate"]],
            [i],
            xerr=[[shift["estimate"] - low], [high - shift["estimate"]]],
            fmt="o",
            color=color,
            capsize=4,
        )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [e["slo"] for e in rows])
    ax.set_xlabel("shift of this RC against the baseline (ms; > 0 is slower)")
    ax.set_title("shift with its interval", loc="left", fontsize=10)
    return _styled(fig)


def _level(slo: Mapping[str, Any]) -> str:
    confidence = slo.get("confidence")
    return f"{confidence * 100:g} %" if confidence else "confidence"


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}"
