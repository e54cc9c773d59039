"""One SLO's figures and verdict: the row of `slo/metrics.json`, described once.

`slo.metrics` computes rows of this type, the polars schema of the SLO table is derived from it
(`SLO_METRICS_SCHEMA`), the gate an SLO becomes carries the fields marked `Detail`
(`SLO_DETAIL_FIELDS`), and `records.SloMetricsRecord` holds them. A new column is one field here.
It sits on the ground floor because `gates` (below `slo`) reads it.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

import polars as pl
from pydantic import BaseModel, ConfigDict

from verification_pipeline.verdict import Verdict


class _Detail:
    """Marks a field the SLO's gate carries into the signed test result (besides name and verdict)."""


Detail = _Detail()


class SloRow(BaseModel):
    """One SLO's figures and verdict; see `slo.metrics` for how each is computed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    metric: str
    """"quantile" or "rate"."""
    source: str
    """"read", "write", "all", "ingest" or "fanout"."""
    quantile: float | None = None
    n: Annotated[int, Detail]
    failures: int | None = None
    value: Annotated[float | None, Detail] = None
    threshold: Annotated[float, Detail]
    unit: Annotated[str, Detail]
    ci_low: Annotated[float | None, Detail] = None
    """The one-sided lower bound at `confidence`."""
    ci_high: Annotated[float | None, Detail] = None
    """The one-sided upper bound at `confidence`."""
    confidence: Annotated[float, Detail]
    verdict: Verdict
    reason: Annotated[str, Detail]
    responses: str | None = None
    """"successful" or "all": which responses a latency SLO counts; None for rates and fan-out."""
    value_all_responses: Annotated[float | None, Detail] = None
    lag1_autocorrelation: Annotated[float | None, Detail] = None
    effective_n: Annotated[float | None, Detail] = None
    dispersion_index: Annotated[float | None, Detail] = None
    interval_method: Annotated[str | None, Detail] = None

    def as_json(self) -> dict[str, Any]:
        """The row as `slo/metrics.json` holds it (the verdict as its word)."""
        return self.model_dump(mode="json")


_POLARS_TYPES: dict[type, pl.DataType] = {
    str: pl.String(),
    float: pl.Float64(),
    int: pl.Int64(),
    Verdict: pl.String(),
}


def _polars_type(annotation: Any) -> pl.DataType:
    """`float | None` -> Float64: the column type of a field (null where the field is None)."""
    if get_origin(annotation) in (Union, types.UnionType):
        (annotation,) = (arg for arg in get_args(annotation) if arg is not type(None))
    return _POLARS_TYPES[annotation]


SLO_METRICS_SCHEMA: dict[str, pl.DataType] = {
    name: _polars_type(info.annotation) for name, info in SloRow.model_fields.items()
}
"""The SLO table's columns, in the row's field order."""
SLO_DETAIL_FIELDS: tuple[str, ...] = tuple(
    name for name, info in SloRow.model_fields.items() if Detail in info.metadata
)
"""What of an SLO row its gate carries (besides name and verdict)."""
