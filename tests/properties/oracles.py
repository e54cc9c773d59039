"""What every parser property asserts: success with sane output, or our typed error naming the source.

`typed_outcome` runs one parser call:
- a `PipelineError` must carry a non-empty message naming the source (or, for bundles, the
  member file at fault);
- a result must pass the parser's output invariants (`invariants(result)` returns the broken
  ones as {key: explanation});
- anything else (another exception, a broken invariant) fails the example, unless it is the
  signature or the invariant key of a bug listed in `open_bugs` for that parser family. Those
  are counted as `known`, and each has a strict-xfail reproducer of its own, so the search goes
  on through the rest of the input space while the bug waits for its fix. Reproducers call
  with `tolerate=False`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import polars as pl

from tests.properties.open_bugs import known_escape, open_keys
from tests.properties.tally import record
from verification_pipeline.errors import PipelineError

T = TypeVar("T")
Invariants = Callable[[T], Mapping[str, str]]


def typed_outcome(
    label: str,
    call: Callable[[], T],
    *,
    source: str,
    family: str | None = None,
    names: Iterable[str] = (),
    invariants: Invariants | None = None,
    tolerate: bool = True,
) -> T | None:
    """The parser's result, or None after a well-formed typed error; anything else fails the example."""
    family = family or label
    started = time.perf_counter()
    try:
        result = call()
    except PipelineError as error:
        record(label, "typed", time.perf_counter() - started)
        check_message(error, source, names)
        return None
    except Exception as error:
        elapsed = time.perf_counter() - started
        if tolerate and known_escape(family, error):
            record(label, "known", elapsed)
            return None
        record(label, "escaped", elapsed)
        error.add_note(f"property suite: {label} raised {type(error).__name__}, not a PipelineError")
        raise
    elapsed = time.perf_counter() - started
    broken = dict(invariants(result)) if invariants is not None else {}
    unknown = {key: why for key, why in broken.items() if not (tolerate and key in open_keys(family))}
    if unknown:
        record(label, "escaped", elapsed)
        raise AssertionError(f"{label}: output breaks its invariants: {unknown}")
    record(label, "known" if broken else "ok", elapsed)
    return result


def check_message(error: PipelineError, source: str, names: Iterable[str] = ()) -> None:
    message = str(error)
    assert message.strip(), f"{type(error).__name__} with an empty message"
    where = [source, *names]
    assert any(name and name in message for name in where), (
        f"{type(error).__name__} does not name the source {source!r}: {message!r}"
    )


def finite_non_negative(series: pl.Series) -> bool:
    values = series.drop_nulls()
    return bool(values.is_empty() or ((values >= 0) & values.is_finite()).all())


def is_finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
