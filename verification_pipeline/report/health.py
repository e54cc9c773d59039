"""The report's measurement-health panel: the clients' CPU and run-queue wait over each phase.

Drawn under the latency charts from the signed `measurement_health` section of slo/metrics.json,
so a reader sees beside a slow figure whether the client that measured it could keep up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

from verification_pipeline.report.charts import OP_COLORS, _figure, _styled

_COLORS = {**OP_COLORS, "fanout": "#6a1b9a"}


def client_health(section: Mapping[str, Any]) -> Figure:
    """Top: each phase's client CPU (% of the machine's cores), with the limit; bottom: its wait share."""
    limits = section.get("limits") or {}
    phases = [p for p in section.get("phases") or [] if p.get("samples")]
    start = min(p["samples"][0]["t"] for p in phases) if phases else 0.0
    fig = _figure(height=4.6)
    top, bottom = fig.subplots(2, 1, sharex=True)
    for index, phase in enumerate(phases):
        seconds = [s["t"] - start for s in phase["samples"]]
        color = _COLORS.get(phase["phase"], f"C{index}")
        lag = phase.get("loop_lag_p99_ms")
        label = f"{phase['phase']} ({phase['client']}" + (
            f", loop lag p99 {lag:.1f} ms)" if lag is not None else ")"
        )
        top.plot(
            seconds,
            [s["client_cpu_pct"] for s in phase["samples"]],
            color=color,
            marker="o",
            ms=2,
            label=label,
        )
        bottom.plot(seconds, [s["client_wait_pct"] for s in phase["samples"]], color=color, marker="o", ms=2)
    for ax, key in ((top, "max_client_cpu_pct"), (bottom, "max_client_wait_pct")):
        if key in limits:
            ax.axhline(limits[key], color="#c62828", ls="--", lw=1.2, label=f"limit {limits[key]:g} %")
        ax.set_ylim(0, 100)
    top.set_ylabel("client CPU (% of cores)")
    top.set_title("Measurement health: the load generators, second by second", loc="left", fontsize=10)
    top.legend(fontsize=7, loc="upper left")
    bottom.set_ylabel("waited for a core (%)")
    bottom.set_xlabel("seconds since the first phase started")
    bottom.legend(fontsize=7, loc="upper left")
    return _styled(fig)
