"""Reading fields of a decoded report with their path in every error.

Scanner output is read from CI artifacts we do not control, so a wrong type anywhere must become
a FormatError that names the file and the field (``matches[3].vulnerability.fix``), never a
KeyError or TypeError from deep inside a parser. (Decoding the bytes is `jsonio.decode_json`.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from verification_pipeline.errors import FormatError, shown

# Counts land in Int64 columns of the policy table and are summed over its rows; no scanner
# counts a trillion checks, and sums of millions of such rows stay far from Int64's limit.
_MAX_COUNT = 10**12

_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def _shown_json(value: Any) -> str:
    if isinstance(value, int | float | bool) or value is None:
        return json.dumps(value)
    return f"'{shown(value)}'" if isinstance(value, str) else _json_type(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


class Node:
    """One value in a decoded document, with its path, for typed reads that fail with context.

    A missing key reads as a Node holding None, so optional fields chain without checks;
    a present value of the wrong type is an error naming the path.
    """

    __slots__ = ("path", "source", "value")

    def __init__(self, value: Any, path: str, source: str) -> None:
        self.value = value
        self.path = path
        self.source = source

    @classmethod
    def root(cls, value: Any, source: str) -> Node:
        return cls(value, "", source)

    def error(self, message: str) -> FormatError:
        return FormatError(message, source=self.source, field=self.path or "top level")

    def _expect(self, kind: type, name: str) -> None:
        if not isinstance(self.value, kind) or (kind is not bool and isinstance(self.value, bool)):
            raise self.error(f"expected {name}, got {_json_type(self.value)}")

    @property
    def missing(self) -> bool:
        return self.value is None

    def __getitem__(self, key: str) -> Node:
        path = f"{self.path}.{key}" if self.path else key
        if self.value is None:
            return Node(None, path, self.source)
        self._expect(dict, "an object")
        return Node(self.value.get(key), path, self.source)

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and key in self.value

    def keys(self) -> list[str]:
        return list(self.value) if isinstance(self.value, dict) else []

    def items(self) -> Iterator[Node]:
        """The elements of an array (none when the field is missing or null).

        A null element is refused: it is an entry (a run, a result, a finding) that cannot be
        read, and skipping it would let an unreadable report read as a clean one.
        """
        if self.value is None:
            return
        self._expect(list, "an array")
        for index, item in enumerate(self.value):
            node = Node(item, f"{self.path}[{index}]", self.source)
            if item is None:
                raise node.error("an entry is null: the report cannot be read as written")
            yield node

    def entries(self) -> Iterator[tuple[str, Node]]:
        """The members of an object (none when the field is missing or null)."""
        if self.value is None:
            return
        self._expect(dict, "an object")
        for key, item in self.value.items():
            yield key, Node(item, f"{self.path}.{key}" if self.path else key, self.source)

    def text(self, default: str | None = None) -> str | None:
        """A string field; numbers are accepted as their text (a version written as 1.2)."""
        if self.value is None:
            return default
        if isinstance(self.value, int | float) and not isinstance(self.value, bool):
            return str(self.value)
        self._expect(str, "a string")
        return self.value

    def required_text(self) -> str:
        value = self.text()
        if value is None or not value.strip():
            raise self.error("required field is missing or empty")
        return value

    def texts(self) -> list[str]:
        """An array of strings (empty when missing)."""
        return [t for item in self.items() if (t := item.text())]

    def number(self) -> float | None:
        if self.value is None:
            return None
        if isinstance(self.value, str):
            try:
                return float(self.value)
            except ValueError:
                raise self.error(f"expected a number, got '{shown(self.value)}'") from None
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise self.error(f"expected a number, got {_json_type(self.value)}")
        try:
            return float(self.value)
        except OverflowError:  # an integer too large for a float
            raise self.error(f"expected a number, got an integer of {len(str(self.value))} digits") from None

    def count(self) -> int:
        """A non-negative integer count (0 when missing), at most `_MAX_COUNT`."""
        if self.value is None:
            return 0
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 0:
            raise self.error(f"expected a non-negative integer, got {_shown_json(self.value)}")
        if self.value > _MAX_COUNT:
            raise self.error(f"a count above {_MAX_COUNT:,} is beyond any real count")
        return self.value

    def flag(self) -> bool:
        """A boolean field (false when missing)."""
        if self.value is None:
            return False
        self._expect(bool, "a boolean")
        return self.value


def empty_to_none(value: str | None) -> str | None:
    """Scanners write "" for absent values; the tables use null."""
    return value if value else None
