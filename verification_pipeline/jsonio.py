"""JSON documents from files we do not control, decoded so that any input is a value or our error.

`json.loads` fails in more ways than JSONDecodeError: an integer of more than 4300 digits
raises ValueError (CPython's int/str conversion limit), deep nesting raises RecursionError, and
a lone surrogate escape ("\\ud800") decodes without complaint into a str that fails later, far
from the file (UnicodeEncodeError in polars, in a hash, in a signature check). Each of these
is a property of the input, so each becomes one error naming the source, with the line and
field where they are known.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any, Protocol

from verification_pipeline.errors import FormatError, PipelineError

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # PowerShell's `>` writes UTF-16 with a BOM

# What decoding may hold beside the input's bytes: the decoded text and the values parsed from it.
# json.loads builds the whole value, and a small input can make a large one: `{},` is 3 bytes of
# input and 72 of Python objects, so 90 MB of `[{},{},...]` took `scan summarize` to 2.4 GB. The
# bound below (`decoded_size_bound`) is checked on the bytes, before anything is decoded.
DECODE_BUDGET_BYTES = 560 << 20
# Bytes of Python objects at most per `{` (a dict with its first keys table), per `[` (a list
# with its first slots) and per `,` or `:` (a new value or key and the slot or entry holding it):
# measured with tracemalloc (peak, Python 3.11) over the shapes that cost the most per input
# byte: empty and nested containers, one-key objects, unique keys, two-character strings, floats,
# large integers, a large object (its table resized holds both tables a moment). The most any
# of them took was about 192, 96 and 65.
_PER_OBJECT, _PER_ARRAY, _PER_SEPARATOR = 200, 100, 72
# A str takes 1, 2 or 4 bytes per character, by the widest one it holds (PEP 393): UTF-8 lead
# bytes F0-F4 and surrogate escapes make 4, lead bytes C4-EF and escapes past \u00FF make 2.
_FOUR_BYTE_TEXT = re.compile(rb"[\xf0-\xf4]|\\u[dD][89abAB]")
_TWO_BYTE_TEXT = re.compile(rb"[\xc4-\xef]|\\u(?!00)")
# Only a \uD800-\uDFFF escape can put a surrogate into a decoded str (strict UTF-8 refuses
# encoded ones), so a document without one needs no walk.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class Fail(Protocol):
    """Builds the error for a problem found in the text; `line` counts lines of that text."""

    def __call__(
        self, message: str, *, line: int | None = None, field: str | None = None, hint: str | None = None
    ) -> PipelineError: ...


def decode_json(
    data: bytes,
    source: str,
    *,
    expected: str = "a JSON document",
    hint: Callable[[str], str | None] | None = None,
    utf16: bool = False,
    fail: Fail | None = None,
) -> Any:
    """The JSON value in `data`, or a FormatError naming `source` (or the error `fail` builds).

    `expected` names what the text should hold ("a JSON scan report"), `hint(text)` says what
    to do when it is empty or not JSON. `utf16` also accepts UTF-16 text that starts with a BOM.
    """
    fail = fail or _format_error(source)
    bound = decoded_size_bound(data)
    if bound > DECODE_BUDGET_BYTES:
        values = sum(data.count(mark) for mark in (b"{", b"[", b",", b":"))
        raise fail(
            f"too large to decode in memory: about {values:,} values in {len(data):,} bytes would take up "
            f"to {bound >> 20:,} MiB (the limit is {DECODE_BUDGET_BYTES >> 20} MiB)",
            hint=f"is this {expected}? a real one this large must be split or filtered first (e.g. with jq)",
        )
    text = _text(data, utf16, fail)
    if not text.strip():
        raise fail(f"the file is empty; expected {expected}", hint=hint(text) if hint else None)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        # an unterminated string runs to the end of the input by definition
        truncated = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        what = "the file ends early (truncated?)" if truncated else "malformed JSON"
        detail = (
            f"{exc.msg} column {exc.colno}" if exc.msg.endswith(" at") else f"{exc.msg} at column {exc.colno}"
        )
        raise fail(f"{what}: {detail}", line=exc.lineno, hint=hint(text) if hint else None) from None
    except RecursionError:
        raise fail(f"nested too deeply to be {expected}") from None
    except ValueError as exc:  # CPython's int/str digit limit, past which it refuses to convert
        line = overlong_integer_line(text)
        if line is None:
            raise fail(f"cannot be decoded as JSON: {exc}") from None
        raise fail(
            f"holds an integer of more than {sys.get_int_max_str_digits()} digits; "
            f"no field of {expected} is that long",
            line=line,
        ) from None
    if _SURROGATE_ESCAPE.search(text):
        refuse_lone_surrogates(value, fail)
    return value


def decoded_size_bound(data: bytes) -> int:
    """At most how many bytes decoding `data` holds: its text, and every value parsed from it.

    Counted on the bytes with C-speed scans; a character inside a string counts as if it were
    structure, so the bound only errs high. UTF-16 input (2 bytes a character) is counted as if
    each byte were a character, which also errs high.
    """
    if data.isascii() and b"\\u" not in data:
        width = 1
    elif _FOUR_BYTE_TEXT.search(data):
        width = 4
    else:
        width = 2 if _TWO_BYTE_TEXT.search(data) else 1
    structure = (
        _PER_OBJECT * data.count(b"{")
        + _PER_ARRAY * data.count(b"[")
        + _PER_SEPARATOR * (data.count(b",") + data.count(b":"))
    )
    # the text, the strings parsed from it (at most as long, plus their headers), the structure
    return 2 * width * len(data) + structure + (1 << 16)


def overlong_integer_line(text: str) -> int | None:
    """The line of the first digit run longer than Python converts to an int, if any."""
    limit = sys.get_int_max_str_digits()
    found = re.search(rf"\d{{{limit + 1},}}", text) if limit else None
    return text.count("\n", 0, found.start()) + 1 if found else None


def shown(value: object) -> str:
    """A decoded value as an error message quotes it: whole when short, else its start and length."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


def _format_error(source: str) -> Fail:
    def fail(
        message: str, *, line: int | None = None, field: str | None = None, hint: str | None = None
    ) -> PipelineError:
        return FormatError(message, source=source, line=line, field=field, hint=hint)

    return fail


def _text(data: bytes, utf16: bool, fail: Fail) -> str:
    encoding = "utf-16" if utf16 and data[:2] in _UTF16_BOMS else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise fail(
            f"not valid {encoding.removesuffix('-sig').upper()} text: byte offset {exc.start}",
            line=data[: exc.start].count(b"\n") + 1,
            hint="JSON is text; is this a binary or compressed file?",
        ) from None


def refuse_lone_surrogates(document: Any, fail: Fail) -> None:
    """A string (or key) holding half of a UTF-16 surrogate pair is not text: name its field.

    Iterative, because the document may be nested as deep as its parser allows; each container
    is visited once, because a YAML document may share one many times over (aliases).
    """
    pending: list[tuple[Any, str]] = [(document, "")]
    seen: set[int] = set()
    while pending:
        value, path = pending.pop()
        if isinstance(value, str):
            _check_text(value, path, fail)
        elif isinstance(value, dict | list) and id(value) not in seen:
            seen.add(id(value))
            if isinstance(value, list):
                pending.extend((item, f"{path}[{index}]") for index, item in enumerate(value))
                continue
            for key, item in value.items():
                field = f"{path}.{key}" if path else str(key)
                if isinstance(key, str):
                    _check_text(key, f"{field} (the key)", fail)
                pending.append((item, field))


def _check_text(text: str, path: str, fail: Fail) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise fail(
            "holds an unpaired UTF-16 surrogate escape (e.g. \\ud800), which is not text",
            field=path.encode("utf-8", "backslashreplace").decode("utf-8") or "top level",
            hint="fix that string, or regenerate the file with a tool that writes valid text",
        ) from None


def camel_case_fields(record: object, *names: str) -> dict[str, Any]:
    """The `names` of `record` under their camelCase JSON keys, in that order: how signed documents
    spell a record's fields (`commit_source` -> `commitSource`)."""
    return {_camel(name): getattr(record, name) for name in names}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
