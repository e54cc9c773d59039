"""Mutations of valid inputs, and random inputs, shared by every parser's properties.

Two families:
- bytes: flips, truncation, inserted/deleted/duplicated ranges, line deletion/duplication/swap,
  non-UTF-8 bytes, NULs, BOMs, CRLF line ends;
- JSON: a value at a random path (or every value under one key name, which reaches the fields
  a parser reads far more often than a uniformly random path in a large report) replaced by a
  value of another type or by a hostile token, keys deleted, arrays emptied or repeated.

Hostile tokens are JSON text written verbatim, because Python's encoder cannot write some of
them (an integer over the int->str digit limit) and because the point is what a decoder does
with exactly that text. Each token has a kind, so a property can leave out kinds that would
do harm rather than fail (the k6 properties leave out counts a parser would expand into rows).
"""

from __future__ import annotations

import contextlib
import json
import marshal
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

JsonPath = tuple[str | int, ...]

# --- hostile JSON tokens ------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """A JSON value written verbatim into a document."""

    kind: str
    text: str


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


HOSTILE_TOKENS: tuple[Token, ...] = (
    Token("nan", "NaN"),
    Token("inf", "Infinity"),
    Token("inf", "-Infinity"),
    Token("inf", "1e400"),  # Python reads it as inf
    Token("float-edge", "-0.0"),
    Token("float-edge", "4.9e-324"),
    Token("float-edge", "1.7976931348623157e308"),
    Token("int-64", str(2**63)),  # one past Int64
    Token("int-64", str(-(2**63) - 1)),
    Token("int-64", str(2**64 + 7)),
    Token("int-over-float", "9" * 400),  # an int no float can hold
    Token("int-digit-limit", "1" * 5000),  # over CPython's 4300-digit int->str limit
    Token("nesting", _deep(200)),
    Token("deep-nesting", _deep(100_000)),  # past any recursion limit
    Token("lone-surrogate", '"\\ud800"'),
    Token("lone-surrogate", '"x\\udfffy"'),
    Token("control", '"\\u0000"'),
    Token("control", '"a\\u001fb\\nc\\td"'),
    Token("long-string", '"' + "a" * 100_000 + '"'),
    Token("empty", '""'),
    Token("empty", "[]"),
    Token("empty", "{}"),
    Token("unicode", '"\u00e9\u4e2d\U0001f600"'),
)

TOKEN_KINDS = frozenset(token.kind for token in HOSTILE_TOKENS)


def hostile_tokens(excluded: frozenset[str] = frozenset()) -> st.SearchStrategy[Token]:
    return st.sampled_from([t for t in HOSTILE_TOKENS if t.kind not in excluded])


# --- random JSON values --------------------------------------------------------------------------


def json_scalars(
    *, ints: st.SearchStrategy[int] | None = None, floats: st.SearchStrategy[float] | None = None
) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        ints if ints is not None else st.integers(min_value=-(2**63), max_value=2**63 - 1),
        floats if floats is not None else st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.sampled_from(["", "0", "1.5", "-1", "true", "null", "Critical", "HIGH", "fixed", "PASS"]),
    )


def json_values(
    *,
    max_leaves: int = 10,
    ints: st.SearchStrategy[int] | None = None,
    floats: st.SearchStrategy[float] | None = None,
) -> st.SearchStrategy[Any]:
    """Random JSON documents (hypothesis `recursive`): scalars, arrays and objects."""
    return st.recursive(
        json_scalars(ints=ints, floats=floats),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


# --- documents with verbatim tokens ------------------------------------------------------------


def dumps_with_tokens(doc: Any, *, indent: int | None = None, compact: bool = False) -> str:
    """JSON text of `doc`, where every `Token` inside it is written verbatim."""
    tokens: list[Token] = []

    def swap(value: Any) -> Any:
        if isinstance(value, Token):
            tokens.append(value)
            return f"\u0000token{len(tokens) - 1}\u0000"
        if isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        if isinstance(value, list):
            return [swap(item) for item in value]
        return value

    separators = (",", ":") if compact else None
    text = json.dumps(swap(doc), indent=indent, separators=separators, ensure_ascii=False)
    for number, token in enumerate(tokens):
        text = text.replace(json.dumps(f"\u0000token{number}\u0000", ensure_ascii=False), token.text, 1)
    return text


# --- JSON paths ----------------------------------------------------------------------------------


def copy_json(doc: Any) -> Any:
    """A deep copy; marshal is fast for plain documents, Tokens need the slow path."""
    try:
        return marshal.loads(marshal.dumps(doc))
    except ValueError:
        return _copy(doc)


def json_paths(doc: Any, limit: int = 50_000) -> list[JsonPath]:
    """Every path in a document (the root is `()`), breadth first, at most `limit`."""
    paths: list[JsonPath] = [()]
    queue: deque[tuple[JsonPath, Any]] = deque([((), doc)])
    while queue and len(paths) < limit:
        path, value = queue.popleft()
        children = (
            value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        )
        for key, child in children:
            paths.append((*path, key))
            queue.append(((*path, key), child))
    return paths


def key_names(doc: Any) -> list[str]:
    return sorted({p[-1] for p in json_paths(doc) if p and isinstance(p[-1], str)})


def _parent(doc: Any, path: JsonPath) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


def replace_at(doc: Any, path: JsonPath, value: Any) -> Any:
    if not path:
        return value
    _parent(doc, path)[path[-1]] = value
    return doc


def get_at(doc: Any, path: JsonPath) -> Any:
    """The value at `path`, or None when an earlier edit removed it."""
    try:
        for key in path:
            doc = doc[key]
    except (KeyError, IndexError, TypeError):
        return None
    return doc


def delete_at(doc: Any, path: JsonPath) -> Any:
    if path:
        del _parent(doc, path)[path[-1]]
    return doc


def replace_key_everywhere(doc: Any, key: str, make: Callable[[], Any]) -> Any:
    for path in json_paths(doc):
        if path and path[-1] == key:
            # an ancestor may have been replaced by an earlier match
            with contextlib.suppress(KeyError, IndexError, TypeError):
                replace_at(doc, path, make())
    return doc


# --- JSON mutation strategy ------------------------------------------------------------------


JSON_EDITS = ("replace", "replace-key", "delete", "delete-key", "token", "token-key", "empty", "repeat")


@st.composite
def mutated_json(
    draw: st.DrawFn,
    doc: Any,
    *,
    paths: list[JsonPath] | None = None,
    keys: list[str] | None = None,
    excluded: frozenset[str] = frozenset(),
    values: st.SearchStrategy[Any] | None = None,
    max_edits: int = 3,
) -> Any:
    """A copy of `doc` with 1..max_edits edits; may contain `Token`s (encode with dumps_with_tokens)."""
    paths = paths if paths is not None else json_paths(doc)
    keys = keys if keys is not None else key_names(doc)
    values = values if values is not None else json_values(max_leaves=4)
    tokens = hostile_tokens(excluded)
    doc = copy_json(doc)
    for _ in range(draw(st.integers(1, max_edits))):
        edit = draw(st.sampled_from(JSON_EDITS))
        if edit in ("replace-key", "delete-key", "token-key") and keys:
            key = draw(st.sampled_from(keys))
            if edit == "delete-key":
                for path in reversed(json_paths(doc)):
                    if path and path[-1] == key:
                        _try(delete_at, doc, path)
            else:
                new = draw(tokens) if edit == "token-key" else draw(values)
                doc = replace_key_everywhere(doc, key, lambda new=new: _copy(new))
            continue
        path = draw(st.sampled_from(paths))
        if edit == "delete" and path:
            doc = _try(delete_at, doc, path)
        elif edit == "token":
            doc = _try(replace_at, doc, path, draw(tokens))
        elif edit == "empty":
            doc = _try(replace_at, doc, path, draw(st.sampled_from([None, "", [], {}, 0])))
        elif edit == "repeat":
            target = get_at(doc, path)
            if isinstance(target, list) and target:
                target.extend(_copy(target[: draw(st.integers(1, 3))]))
        else:
            doc = _try(replace_at, doc, path, draw(values))
    return doc


def _try(edit: Callable[..., Any], doc: Any, *args: Any) -> Any:
    """Apply an edit whose path an earlier edit may have removed; a stale path leaves the doc as is."""
    try:
        return edit(doc, *args)
    except (KeyError, IndexError, TypeError):
        return doc


def _copy(value: Any) -> Any:
    """A copy of a small value that may hold Tokens (immutable, so shared)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


# --- byte mutations ---------------------------------------------------------------------------

NON_UTF8 = (b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80")
BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
BYTE_EDITS = (
    "flip",
    "set",
    "insert",
    "delete",
    "truncate",
    "duplicate",
    "non-utf8",
    "nul",
    "bom",
    "crlf",
    "line-delete",
    "line-duplicate",
    "line-swap",
)


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


@st.composite
def mutated_bytes(
    draw: st.DrawFn,
    data: bytes,
    *,
    max_edits: int = 3,
    insert_alphabet: st.SearchStrategy[bytes] | None = None,
) -> bytes:
    """`data` with 1..max_edits byte-level edits at drawn positions.

    `insert_alphabet`, when given, is where inserted and overwritten bytes come from (the k6
    properties keep digits out while a parser turns a number into that many rows)."""
    inserts = insert_alphabet if insert_alphabet is not None else st.binary(min_size=1, max_size=8)
    for _ in range(draw(st.integers(1, max_edits))):
        edit = draw(st.sampled_from(BYTE_EDITS))
        size = len(data)
        at = draw(st.integers(0, size))
        if edit == "flip" and size:
            at = min(at, size - 1)
            data = data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1 :]
        elif edit == "set" and size:
            at = min(at, size - 1)
            byte = draw(inserts)[:1] if insert_alphabet is not None else bytes([draw(st.integers(0, 255))])
            data = data[:at] + byte + data[at + 1 :]
        elif edit == "insert":
            data = data[:at] + draw(inserts) + data[at:]
        elif edit == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 64)) :]
        elif edit == "truncate":
            data = data[:at]
        elif edit == "duplicate":
            end = min(size, at + draw(st.integers(1, 200)))
            data = data[:end] + data[at:end] + data[end:]
        elif edit == "non-utf8":
            data = data[:at] + draw(st.sampled_from(NON_UTF8)) + data[at:]
        elif edit == "nul":
            data = data[:at] + b"\x00" + data[at:]
        elif edit == "bom":
            data = draw(st.sampled_from(BOMS)) + data
        elif edit == "crlf":
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        else:
            lines = _lines(data)
            i = draw(st.integers(0, len(lines) - 1))
            if edit == "line-delete":
                del lines[i]
            elif edit == "line-duplicate":
                lines.insert(i, lines[i])
            else:
                j = draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
    return data
