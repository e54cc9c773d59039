"""The overload phase against the reference target started with no flags: its figures beside
the limit and the schedule slos.yaml declares.

Starts one reference target (loopback, free port, default flags: the per-tenant limit of the
packaged slos.yaml), then runs the pipeline's overload phase (`overload.k6.run_overload`, k6
constant-arrival-rate) with the packaged `cost_controls`: tenant A at twice its limit, tenant B
at its normal rate, then recovery. Prints offered, admitted and refused requests per second
(measured, beside the declared limit and offered rate), the admitted and neighbour p95, the
recovery seconds, and each gate's verdict, with the load average before and after.

    uv run python benchmarks/overload_target.py                        # the declared 30 s + 8 s
    uv run python benchmarks/overload_target.py --duration 4 --recovery 4   # smoke
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from target_process import start_target, token

from verification_pipeline.overload.k6 import OverloadTenants, PhaseTiming, run_overload
from verification_pipeline.slo.overload import overload_document, phase_inputs
from verification_pipeline.slo.spec import default_slo_spec


def main() -> None:
    spec = default_slo_spec()
    controls = spec.cost_controls
    assert controls is not None
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=controls.overload_duration_s, help="overload seconds"
    )
    parser.add_argument("--recovery", type=float, default=controls.recovery_window_s, help="recovery seconds")
    args = parser.parse_args()
    timing = PhaseTiming(args.duration, args.recovery)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="vp-bench-overload-") as workdir:
        target = start_target(Path(workdir))
        try:
            tenants = OverloadTenants(
                "bench-overload-a",
                token(target.secret, "bench-overload-a"),
                "bench-overload-b",
                token(target.secret, "bench-overload-b"),
            )
            rows = run_overload(target.graphql_url, tenants, controls, timing)
        finally:
            target.stop()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    inputs = phase_inputs(spec, overload_s=timing.overload_s, recovery_s=timing.recovery_s, tenants={})
    document = overload_document(rows, inputs)
    f = document["figures"]
    print(
        f"\n{rows.height} requests recorded; overload {timing.overload_s:g} s, recovery {timing.recovery_s:g} s\n"
    )
    print("| figure | measured | declared (slos.yaml) |")
    print("| --- | ---: | ---: |")
    print(f"| tenant A offered per s | {f['offered_rps']:.1f} | {controls.offered_rps:g} |")
    print(f"| tenant A admitted per s | {f['admitted_rps']:.1f} | limit {controls.tenant_rps_limit:g} |")
    print(f"| tenant A refused per s | {f['refused_rps']:.1f} | |")
    print(
        f"| refusals 429 with usable Retry-After | {f['retry_after_share']:.2%} | >= {controls.min_retry_after_share:.0%} |"
    )
    print(
        f"| tenant A admitted p95 ms | {f['admitted_p95_ms']:.1f} | <= {inputs['latency_slo']['threshold']:g} |"
    )
    print(
        f"| tenant B p95 ms / error rate | {f['neighbour_p95_ms']:.1f} / {f['neighbour_error_rate_pct']:.2f} % | <= {inputs['latency_slo']['threshold']:g} / {controls.neighbour_max_error_rate_pct:g} % |"
    )
    recovery = f["recovery_s"]
    print(
        f"| recovery s | {'not seen' if recovery is None else f'{recovery:g}'} | <= {controls.max_recovery_s:g} |"
    )
    print()
    for gate in document["gates"]:
        print(f"{gate['name']}: {gate['verdict']}")


if __name__ == "__main__":
    main()
