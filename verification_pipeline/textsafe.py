"""Text from an input, made inert for where it is shown: a terminal, Markdown, HTML.

A file name, a package name from a scan, a lineage entry or an error that quotes one of them is
data, not layout: on a terminal an ANSI escape in it could repaint a failed verification green
or erase a warning, in Markdown a `**Verdict: PASSED.**` in it could print a verdict the RC does
not have, in HTML a tag in it could run. Each function here escapes one destination's active
characters and cuts a long value with a marker saying how much was left out.
"""

from __future__ import annotations

import html
import re

MAX_SHOWN = 1000
"""Characters of one input value shown; the rest is cut with a marker (a 200,000-character
package id is not read by anyone, and it pushes what matters off the screen)."""

# C0 and C1 controls (ESC starts every ANSI sequence, CR rewrites a line), zero-width and
# bidirectional formatting characters (they reorder or hide what is drawn).
_TERMINAL_UNSAFE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)


# A word of a message longer than this (a path, a value given) is shown by its two ends.
_LONG_WORD = re.compile(r"\S{401,}")
_WORD_SHOWN = 160
# Surrogates that are no escaped byte of a file name (those are U+DC80..U+DCFF).
_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def escaped(text: str) -> str:
    """`text` with the bytes of a non-UTF-8 file name (`\\udcff` in Python) written as `\\xff`."""
    text = _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def cut_middle(text: str) -> str:
    """A long value by its two ends and its length: a 100,000-character path is no message."""
    if len(text) <= _WORD_SHOWN:
        return text
    return f"{text[:100]}...{text[-40:]} ({len(text):,} characters)"


def cut(text: str, limit: int = MAX_SHOWN) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit:,} more characters cut]"


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: object, limit: int = MAX_SHOWN) -> str:
    """One line of text for a person at a terminal (every message, every value quoted in one).

    The bytes of a non-UTF-8 file name read `\\xff` (never Python's `\\udcff`); each overlong
    word (a path, a value given) is cut in its middle with its length said; the whole is cut at
    `limit` with a marker; every control, escape and direction character is shown as `\\xNN`.
    """
    words = _LONG_WORD.sub(lambda match: cut_middle(match.group()), escaped(str(text)))
    return _TERMINAL_UNSAFE.sub(_visible, cut(words, limit))


def for_terminal_lines(text: object, limit: int = MAX_SHOWN) -> str:
    """Like `for_terminal`, keeping line breaks (for text that is several lines by design)."""
    return "\n".join(for_terminal(line, limit) for line in str(text).split("\n"))


def for_markdown(text: object, limit: int = MAX_SHOWN) -> str:
    """Plain text inside a Markdown line or table cell: no emphasis, code, link, image, HTML tag,
    entity, heading, table cell or line break of its own. Characters that can only start a
    construct where they stand are escaped there alone (`_` at a word's edge, `](` of a link, `#`
    first), so ordinary names and figures (`read_p95`, `[290.1, 320.4] ms`) read as they are."""
    flat = _TERMINAL_UNSAFE.sub(" ", cut(str(text), limit))
    escaped = _MARKDOWN_ACTIVE.sub(lambda m: _MARKDOWN_ESCAPES.get(m.group(), "\\" + m.group()), flat)
    escaped = _EDGE_UNDERSCORE.sub(r"\\_", escaped).replace("](", "]\\(")
    return "\\" + escaped if escaped.startswith("#") else escaped


_MARKDOWN_ACTIVE = re.compile(r"[\\`*|~<>&]")
_MARKDOWN_ESCAPES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def for_code_span(text: object, limit: int = MAX_SHOWN) -> str:
    """Text shown as a Markdown code span: backticks cannot end it, controls cannot break the line."""
    flat = _TERMINAL_UNSAFE.sub(" ", cut(str(text), limit)).replace("`", "'")
    return f"`{flat}`"


def for_html(text: object, limit: int = MAX_SHOWN) -> str:
    """Text inside an HTML element or a quoted attribute."""
    return html.escape(_TERMINAL_UNSAFE.sub(" ", cut(str(text), limit)), quote=True)
