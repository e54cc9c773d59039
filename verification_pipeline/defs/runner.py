"""Run the verification job for one RC in this process (the demo, tests), on a given instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg
from pydantic import BaseModel

from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.timing import step_windows


@dataclass
class Materialized:
    asset: str
    uri: str | None
    sha256: str | None
    rows: int | None


@dataclass
class VerificationRun:
    run_id: str
    success: bool
    materialized: list[Materialized]
    values: dict[str, Any]
    """JSON-ready values of the assets a person reads first (`SUMMARY_ASSETS`)."""
    step_windows: dict[str, tuple[float, float]]
    """Step key -> (start, end) epoch seconds, from the instance's event log."""

    def load_to_bundle_s(self) -> float | None:
        """Seconds from the end of the last load segment to the verified bundle: the pipeline's own overhead."""
        load_end = max(
            (end for step, (_, end) in self.step_windows.items() if "run_load_segment" in step), default=None
        )
        bundle = self.step_windows.get("evidence_bundle")
        return bundle[1] - load_end if load_end is not None and bundle else None


SUMMARY_ASSETS = ("slo_metrics", "baseline_comparison", "scan_summary", "evidence_bundle", "release_decision")


def verify_in_process(
    defs: dg.Definitions,
    rc: str,
    instance: dg.DagsterInstance,
    job_name: str = "verify_release_candidate",
    run_config: dict | None = None,
    raise_on_error: bool = True,
) -> VerificationRun:
    instance.add_dynamic_partitions(release_candidates.name, [rc])
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        partition_key=rc, instance=instance, run_config=run_config or {}, raise_on_error=raise_on_error
    )
    materialized = []
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        md = mat.metadata
        materialized.append(
            Materialized(
                asset=mat.asset_key.to_user_string(),
                uri=str(md["uri"].value) if "uri" in md else None,
                sha256=str(md["sha256"].value) if "sha256" in md else None,
                rows=int(md["dagster/row_count"].value) if "dagster/row_count" in md else None,
            )
        )
    done = {m.asset for m in materialized}
    values = {name: _json_ready(result.asset_value(name)) for name in SUMMARY_ASSETS if name in done}
    return VerificationRun(
        run_id=result.run_id,
        success=result.success,
        materialized=materialized,
        values=values,
        step_windows=step_windows(instance, result.run_id),
    )


def _json_ready(value: object) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value
