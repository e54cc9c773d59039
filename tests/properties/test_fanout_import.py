"""Importing the seed's `fanout.json` (`fanout.seed_import.import_seed_fanout`) under mutated and
random input: figures that could come from real latencies, marked summary-only, or our typed
error naming the file."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.properties.budget import examples
from tests.properties.mutations import dumps_with_tokens, json_values, mutated_bytes, mutated_json
from tests.properties.oracles import is_finite_number, typed_outcome
from verification_pipeline.fanout.metrics import EVIDENCE_SUMMARY_ONLY
from verification_pipeline.fanout.seed_import import import_seed_fanout

FAMILY = LABEL = "fanout.json"
SOURCE = "s3://ci-artifacts/v24.1.0-rc1/fanout.json"
# What the seed's script writes (JSON.stringify(out, null, 2)), and what our probe's --out adds.
SEEDS = (
    {"count": 200, "p95_ms": 7.25, "p99_ms": 12},
    {"count": 1, "p95_ms": 0, "p99_ms": 0},
    {
        "count": 200,
        "p95_ms": 41.5,
        "p99_ms": 88.0,
        "delivered": 200,
        "lost": 0,
        "duplicates": 0,
        "delivery_ratio": 1.0,
    },
)
UNKNOWN_TO_THE_SEED = ("p50_ms", "max_ms", "delivered", "late", "lost", "duplicates", "delivery_ratio")


def metrics_invariants(metrics: dict) -> Mapping[str, str]:
    problems: dict[str, str] = {}
    count, p95, p99 = metrics.get("count"), metrics.get("p95_ms"), metrics.get("p99_ms")
    if not (isinstance(count, int) and not isinstance(count, bool) and count >= 1):
        problems["count"] = f"count {count!r} is not a whole number >= 1"
    if not (is_finite_number(p95) and is_finite_number(p99) and p95 <= p99):
        problems["quantiles"] = f"p95 {p95!r} / p99 {p99!r} are not ordered finite numbers"
    elif p95 < 0:
        problems["fanout-negative-latency"] = f"negative latency p95_ms {p95} accepted"
    if metrics.get("evidence") != EVIDENCE_SUMMARY_ONLY or any(
        metrics.get(k) is not None for k in UNKNOWN_TO_THE_SEED
    ):
        problems["summary-only"] = "an imported summary must not claim figures the seed cannot know"
    return problems


def run_import(data: bytes) -> dict | None:
    return typed_outcome(
        LABEL,
        lambda: import_seed_fanout(data, SOURCE),
        source=SOURCE,
        family=FAMILY,
        invariants=metrics_invariants,
    )


@pytest.mark.timeout(300)
@examples(150)
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_edited_values(seed: dict, data: st.DataObject) -> None:
    """Types swapped, keys deleted, hostile tokens (NaN, 1e400, 400-digit ints, deep arrays)."""
    doc = data.draw(mutated_json(seed))
    run_import(
        dumps_with_tokens(doc, indent=data.draw(st.sampled_from([None, 2]))).encode("utf-8", "surrogatepass")
    )


@pytest.mark.timeout(300)
@examples(100)
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_mutated_bytes(seed: dict, data: st.DataObject) -> None:
    run_import(data.draw(mutated_bytes(json.dumps(seed, indent=2).encode())))


@pytest.mark.timeout(300)
@examples(100)
@given(
    doc=st.one_of(
        json_values(max_leaves=12),
        st.fixed_dictionaries(
            {
                "count": json_values(max_leaves=2),
                "p95_ms": json_values(max_leaves=2),
                "p99_ms": json_values(max_leaves=2),
            }
        ),
        st.fixed_dictionaries(
            {"count": st.integers(-3, 10**6), "p95_ms": st.floats(), "p99_ms": st.floats()}
        ),
    )
)
def test_random_documents(doc: object) -> None:
    run_import(json.dumps(doc).encode())


@pytest.mark.timeout(300)
@examples(40)
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_truncated_file_is_refused(seed: dict, data: st.DataObject) -> None:
    """No partial import: any cut that loses more than trailing whitespace is an error."""
    text = json.dumps(seed, indent=2).encode()
    cut = data.draw(st.integers(0, len(text) - 1))
    assert run_import(text[:cut]) is None, f"fanout.json cut at byte {cut} was imported"
