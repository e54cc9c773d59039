"""The one verdict type, and the one rule for combining verdicts.

Every gate (an SLO, a scan gate, the baseline comparison) answers with a `Verdict`; an RC's
overall verdict is `gates.rc_verdict`: `worst()` of its gates, where a worst of WARN counts as
PASS. Order, best to worst: PASS < WARN < INCONCLUSIVE < INCOMPLETE < FAIL. WARN is a pass with
something to look at (no baseline to compare with, or a detected slowdown the regression policy
does not fail); INCONCLUSIVE is a sample that cannot decide; INCOMPLETE is evidence that is
missing; FAIL is a measured breach. Missing or undecidable evidence is never a pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Verdict(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    INCONCLUSIVE = "INCONCLUSIVE"
    INCOMPLETE = "INCOMPLETE"
    FAIL = "FAIL"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)


_ORDER = (Verdict.PASS, Verdict.WARN, Verdict.INCONCLUSIVE, Verdict.INCOMPLETE, Verdict.FAIL)


def worst(verdicts: Iterable[Verdict | str], *, empty: Verdict = Verdict.INCOMPLETE) -> Verdict:
    """The worst of `verdicts`; `empty` when there are none (no evidence is not a pass)."""
    found = [Verdict(v) for v in verdicts]
    return max(found, key=lambda v: v.rank) if found else empty
