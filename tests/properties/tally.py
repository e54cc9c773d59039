"""How many cases each parser saw, and how each ended, for the session report.

Every property calls its parser through `oracles.typed_outcome`, which records here; the
conftest writes the totals to `.cache/property-cases.json` and prints one summary line.
Shrinking and replays are counted too: they are cases the parser really ran.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass


@dataclass
class ParserTally:
    cases: int = 0
    succeeded: int = 0
    typed_errors: int = 0
    known: int = 0  # the signature of a listed open bug (see open_bugs.py)
    escaped: int = 0  # any other non-PipelineError exception: a new bug
    parser_seconds: float = 0.0

    def as_json(self) -> dict[str, float | int]:
        data = asdict(self)
        data["parser_seconds"] = round(self.parser_seconds, 3)
        return data


TALLY: defaultdict[str, ParserTally] = defaultdict(ParserTally)


def record(parser: str, outcome: str, seconds: float) -> None:
    entry = TALLY[parser]
    entry.cases += 1
    entry.parser_seconds += seconds
    if outcome == "ok":
        entry.succeeded += 1
    elif outcome == "typed":
        entry.typed_errors += 1
    elif outcome == "known":
        entry.known += 1
    else:
        entry.escaped += 1
