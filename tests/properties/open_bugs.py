"""Bugs the properties found in parsers this suite does not own, until the owners fix them.

Each entry says which parser family it is in, how a property recognizes it (the exception type
and a message pattern, kept narrow so a new bug with the same type still fails), or which
output invariant it breaks. `test_reproducers.py` holds one minimal failing input per entry,
marked `xfail(strict=True)` while the entry is here.

To close a bug: fix the parser, delete its entry here. Its reproducer then runs as a plain
regression test, and the properties stop tolerating its signature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class OpenBug:
    key: str
    family: str
    summary: str
    escape: type[BaseException] | None = None
    pattern: str = ""


OPEN_BUGS: tuple[OpenBug, ...] = ()

_BY_KEY = {bug.key: bug for bug in OPEN_BUGS}


def is_open(key: str) -> bool:
    return key in _BY_KEY


def reason(key: str) -> str:
    return _BY_KEY[key].summary


def failure(key: str) -> type[BaseException]:
    """What the bug raises through the oracle: its escaping exception, or the oracle's AssertionError."""
    return _BY_KEY[key].escape or AssertionError


def open_keys(family: str) -> frozenset[str]:
    return frozenset(bug.key for bug in OPEN_BUGS if bug.family == family)


def known_escape(family: str, error: BaseException) -> str | None:
    """The key of the open bug this exception is the signature of, if any."""
    for bug in OPEN_BUGS:
        if (
            bug.family == family
            and bug.escape is not None
            and isinstance(error, bug.escape)
            and re.search(bug.pattern, str(error))
        ):
            return bug.key
    return None
