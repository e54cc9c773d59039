"""One row per (subscriber, event) outcome, so a latency figure can never hide a lost event.

Each published event is expected once at every subscriber. The first arrival within the grace
period is `delivered` (or `late` beyond the late threshold); no arrival within the grace
period is `lost` (keeping its arrival time if it came after the grace period); every further arrival of the same event at the same subscriber is a
`duplicate` row of its own. Arrivals of events this probe did not publish (other publishers
on the tenant, the seed's `t0` echoes) are not ours to account for and are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import polars as pl

from verification_pipeline.errors import TargetError
from verification_pipeline.scalars import float_of

DELIVERED = "delivered"
LATE = "late"
LOST = "lost"
DUPLICATE = "duplicate"
STATUSES = (DELIVERED, LATE, LOST, DUPLICATE)

DELIVERY_SCHEMA: dict[str, pl.DataType] = {
    "subscriber": pl.Int32(),
    "event_id": pl.String(),
    "seq": pl.Int64(),
    "published_at": pl.Datetime("us", "UTC"),
    "received_at": pl.Datetime("us", "UTC"),
    "latency_ms": pl.Float64(),
    "status": pl.String(),
}


class Publish(NamedTuple):
    """A signal the target accepted: its event id and the `_t0` (epoch ms) sent as its `ts`."""

    event_id: str
    published_at_ms: float


class Receipt(NamedTuple):
    """One `coherenceEvents` arrival at one subscriber, timed on arrival (epoch ms)."""

    subscriber: int
    event_id: str
    seq: int | None
    received_at_ms: float


def account_deliveries(
    publishes: Sequence[Publish],
    receipts: Sequence[Receipt],
    subscribers: int,
    *,
    late_ms: float,
    grace_ms: float,
) -> pl.DataFrame:
    """Classify every (subscriber, event) pair; columns and types as in `DELIVERY_SCHEMA`.

    Latency is measured from the publish's `_t0` on the probe's own clock, so no clock of the
    target enters the figure.
    """
    if subscribers < 1:
        raise ValueError("subscribers must be at least 1")
    if not 0 <= late_ms <= grace_ms:
        raise ValueError("late_ms must lie between 0 and grace_ms")
    published = _published(publishes)
    arrived = _arrived(receipts, subscribers)
    # The target stamps seq on the event; an event nobody received keeps a null seq.
    seq_by_event = arrived.group_by("event_id").agg(pl.col("seq").drop_nulls().first())
    ours = _classified(arrived, published, late_ms=late_ms, grace_ms=grace_ms)
    columns = ["subscriber", "event_id", "published_at_ms", "received_at_ms", "latency_ms", "status"]
    rows = pl.concat([ours.select(columns), _never_seen(published, ours, subscribers).select(columns)])
    return (
        rows.join(seq_by_event, on="event_id", how="left")
        .sort("published_at_ms", "subscriber", "received_at_ms", nulls_last=True)
        .select(
            pl.col("subscriber").cast(pl.Int32),
            "event_id",
            "seq",
            _epoch_ms_to_utc("published_at_ms").alias("published_at"),
            _epoch_ms_to_utc("received_at_ms").alias("received_at"),
            "latency_ms",
            "status",
        )
    )


def _published(publishes: Sequence[Publish]) -> pl.DataFrame:
    published = pl.DataFrame(
        publishes, schema={"event_id": pl.String, "published_at_ms": pl.Float64}, orient="row"
    )
    repeated = published.filter(pl.col("event_id").is_duplicated())["event_id"]
    if len(repeated):
        raise TargetError(
            f"the target returned event id {repeated[0]!r} for more than one publish",
            hint="event ids must be unique for deliveries to be matched to publishes",
        )
    return published


def _arrived(receipts: Sequence[Receipt], subscribers: int) -> pl.DataFrame:
    arrived = pl.DataFrame(
        receipts,
        schema={
            "subscriber": pl.Int32,
            "event_id": pl.String,
            "seq": pl.Int64,
            "received_at_ms": pl.Float64,
        },
        orient="row",
    )
    if len(arrived) and not (
        float_of(arrived["subscriber"].min()) >= 0 and float_of(arrived["subscriber"].max()) < subscribers
    ):
        raise ValueError("a receipt names a subscriber outside 0..subscribers-1")
    return arrived


def _classified(
    arrived: pl.DataFrame, published: pl.DataFrame, *, late_ms: float, grace_ms: float
) -> pl.DataFrame:
    """Every arrival of a published event: its latency, and delivered, late, lost (past the grace) or
    duplicate (not the first arrival of that event at that subscriber)."""
    return (
        arrived.join(published, on="event_id", how="inner")
        .with_columns(latency_ms=pl.col("received_at_ms") - pl.col("published_at_ms"))
        .sort("subscriber", "event_id", "received_at_ms")
        .with_columns(arrival=pl.int_range(pl.len()).over("subscriber", "event_id"))
        .with_columns(
            status=pl.when(pl.col("arrival") > 0)
            .then(pl.lit(DUPLICATE))
            .when(pl.col("latency_ms") > grace_ms)
            .then(pl.lit(LOST))
            .when(pl.col("latency_ms") > late_ms)
            .then(pl.lit(LATE))
            .otherwise(pl.lit(DELIVERED))
        )
    )


def _never_seen(published: pl.DataFrame, ours: pl.DataFrame, subscribers: int) -> pl.DataFrame:
    """The (subscriber, event) pairs with no arrival at all: lost."""
    everyone = pl.DataFrame({"subscriber": range(subscribers)}, schema={"subscriber": pl.Int32})
    first_arrivals = ours.filter(pl.col("arrival") == 0).select("subscriber", "event_id")
    return (
        published.join(everyone, how="cross")
        .join(first_arrivals, on=["subscriber", "event_id"], how="anti")
        .with_columns(
            received_at_ms=pl.lit(None, pl.Float64),
            latency_ms=pl.lit(None, pl.Float64),
            status=pl.lit(LOST),
        )
    )


def _epoch_ms_to_utc(column: str) -> pl.Expr:
    micros = (pl.col(column) * 1000.0).round().cast(pl.Int64)
    return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC")
