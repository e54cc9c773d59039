"""Decoding report bytes into JSON, and reading fields with their path in every error.

Scanner output is read from CI artifacts we do not control, so a wrong type anywhere must become
a FormatError that names the file and the field (``matches[3].vulnerability.fix``), never a
KeyError or TypeError from deep inside a parser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from verification_pipeline.errors import FormatError

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # PowerShell's `>` writes UTF-16 with a BOM


def decode_json(data: bytes, source: str) -> Any:
    """Parse report bytes as JSON; empty, undecodable or malformed input names the position."""
    text = _decode_text(data, source)
    if not text.strip():
        raise FormatError(
            "the file is empty; expected a JSON scan report",
            source=source,
            hint="check that the scanner ran and wrote its report to this file",
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # an unterminated string runs to the end of the input by definition
        truncated = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        what = "the file ends early (truncated?)" if truncated else "malformed JSON"
        where = f"column {exc.colno}"
        detail = f"{exc.msg} {where}" if exc.msg.endswith(" at") else f"{exc.msg} at {where}"
        raise FormatError(
            f"{what}: {detail}",
            source=source,
            line=exc.lineno,
            hint=_hint_for(text),
        ) from None
    except RecursionError:
        raise FormatError("JSON nested too deeply to be a scan report", source=source) from None


def _hint_for(text: str) -> str:
    start = text.lstrip()
    if start.startswith("<"):
        return "this looks like XML; have the scanner write JSON (e.g. syft -o cyclonedx-json)"
    if start.startswith(("SPDXVersion:", "##")):
        return "this looks like SPDX tag-value; have the scanner write SPDX JSON (e.g. syft -o spdx-json)"
    return "re-run the scanner or re-download the report"


def _decode_text(data: bytes, source: str) -> str:
    encoding = "utf-16" if data[:2] in _UTF16_BOMS else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FormatError(
            f"not valid {encoding.removesuffix('-sig').upper()} text: byte offset {exc.start}",
            source=source,
            line=line,
            hint="scan reports are JSON text; is this a binary or compressed file?",
        ) from None


_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


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
        """The elements of an array (none when the field is missing or null)."""
        if self.value is None:
            return
        self._expect(list, "an array")
        for index, item in enumerate(self.value):
            yield Node(item, f"{self.path}[{index}]", self.source)

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
                raise self.error(f"expected a number, got {self.value!r}") from None
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise self.error(f"expected a number, got {_json_type(self.value)}")
        return float(self.value)

    def count(self) -> int:
        """A non-negative integer count (0 when missing)."""
        if self.value is None:
            return 0
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 0:
            raise self.error(f"expected a non-negative integer, got {self.value!r}")
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
