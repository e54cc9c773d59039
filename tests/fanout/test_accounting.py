"""Every (subscriber, event) pair ends up in exactly one of delivered / late / lost."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verification_pipeline.errors import TargetError
from verification_pipeline.fanout.accounting import (
    DELIVERY_SCHEMA,
    Publish,
    Receipt,
    account_deliveries,
)

T0 = 1_700_000_000_000.0


def statuses(frame: pl.DataFrame) -> dict[tuple[int, str], list[str]]:
    out: dict[tuple[int, str], list[str]] = {}
    for subscriber, event_id, status in frame.select("subscriber", "event_id", "status").iter_rows():
        out.setdefault((subscriber, event_id), []).append(status)
    return out


def test_each_outcome_is_classified_by_its_latency_from_t0():
    publishes = [Publish("a", T0), Publish("b", T0 + 100)]
    receipts = [
        Receipt(0, "a", 1, T0 + 250.0),  # exactly at the late threshold: still on time
        Receipt(1, "a", 1, T0 + 250.5),  # just past it: late
        Receipt(0, "b", 2, T0 + 100 + 1000.0),  # exactly at the grace limit: late, not lost
        Receipt(1, "b", 2, T0 + 100 + 1000.5),  # after the grace period: lost, arrival kept
    ]
    frame = account_deliveries(publishes, receipts, 2, late_ms=250, grace_ms=1000)
    assert statuses(frame) == {
        (0, "a"): ["delivered"],
        (1, "a"): ["late"],
        (0, "b"): ["late"],
        (1, "b"): ["lost"],
    }
    too_late = frame.filter(pl.col("subscriber") == 1, pl.col("event_id") == "b").row(0, named=True)
    assert too_late["latency_ms"] == pytest.approx(1000.5)
    assert too_late["received_at"] is not None


def test_duplicates_are_rows_of_their_own_and_unseen_events_are_lost():
    publishes = [Publish("a", T0), Publish("b", T0 + 10)]
    receipts = [
        Receipt(0, "a", 7, T0 + 5),
        Receipt(0, "a", 7, T0 + 3),  # arrived first although listed second
        Receipt(0, "a", 7, T0 + 9),
        Receipt(1, "x", 99, T0 + 1),  # not ours: another publisher on the tenant
    ]
    frame = account_deliveries(publishes, receipts, 2, late_ms=250, grace_ms=1000)
    assert statuses(frame) == {
        (0, "a"): ["delivered", "duplicate", "duplicate"],
        (1, "a"): ["lost"],
        (0, "b"): ["lost"],
        (1, "b"): ["lost"],
    }
    first = frame.filter(pl.col("status") == "delivered").row(0, named=True)
    assert first["latency_ms"] == 3.0
    # seq comes from whichever subscriber saw the event; nobody saw "b"
    assert frame.filter(pl.col("event_id") == "a")["seq"].to_list() == [7, 7, 7, 7]
    assert frame.filter(pl.col("event_id") == "b")["seq"].null_count() == 2
    assert "x" not in frame["event_id"].to_list()


def test_table_has_the_documented_schema_and_utc_timestamps():
    frame = account_deliveries(
        [Publish("a", T0 + 0.123)], [Receipt(0, "a", 1, T0 + 4.567)], 1, late_ms=250, grace_ms=1000
    )
    assert frame.schema == pl.Schema(DELIVERY_SCHEMA)
    row = frame.row(0, named=True)
    assert row["published_at"].timestamp() * 1000 == pytest.approx(T0 + 0.123, abs=1e-3)
    assert row["received_at"].timestamp() * 1000 == pytest.approx(T0 + 4.567, abs=1e-3)
    assert row["latency_ms"] == pytest.approx(4.444, abs=1e-3)  # epoch-ms floats resolve ~0.2 us


def test_the_same_event_id_for_two_publishes_is_refused():
    with pytest.raises(TargetError, match="'a'"):
        account_deliveries([Publish("a", T0), Publish("a", T0 + 1)], [], 1, late_ms=1, grace_ms=2)


@settings(max_examples=60, deadline=None)
@given(
    subscribers=st.integers(1, 6),
    events=st.integers(0, 8),
    arrivals=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 9), st.floats(0, 3000, allow_nan=False)), max_size=80
    ),
)
def test_every_pair_is_accounted_for_exactly_once(subscribers, events, arrivals):
    publishes = [Publish(f"e{i}", T0 + i * 10) for i in range(events)]
    receipts = [
        Receipt(s, f"e{e}", e, T0 + e * 10 + latency) for s, e, latency in arrivals if s < subscribers
    ]
    frame = account_deliveries(publishes, receipts, subscribers, late_ms=250, grace_ms=2000)
    firsts = frame.filter(pl.col("status") != "duplicate")
    assert len(firsts) == subscribers * events
    assert firsts.select("subscriber", "event_id").is_unique().all()
    ours = [r for r in receipts if int(r.event_id[1:]) < events]
    assert len(frame.filter(pl.col("received_at").is_not_null())) == len(ours)
