"""Rego v0 read by a v1 engine: the source rewritten to v1 before it is compiled (`opa fmt --v0-v1`).

rego-cpp parses Rego v1 only; conftest's users still have v0 policies (`--rego-version v0`). The
rewrite works on the token stream (strings, raw strings and comments are never touched) and only
ever inserts or replaces text inside a line, so a line of the rewritten module is the same line of
the original file: rego-cpp's error lines name the original line, and `ColumnMap` takes its
columns back to the original's.

What changes (OPA's v0 to v1 rules):

- a partial set rule `name[x] { body }` (or `name[x] if ...` with `future.keywords.if`) becomes
  `name contains x if { body }`;
- every other rule, function, `else` branch with a body gets `if` before it
  (`p { }`, `p = v { }`, `f(x) = y { }`, `p[k] = v { }`, `} else = v { }`);
- `import future.keywords...` lines are dropped (v1 has the keywords); `default` rules and rules
  without a body are left as they are (rego-cpp reads `=` in heads);
- a module that imports `rego.v1` is already v1 and is not rewritten.

In v0, `contains`, `if`, `in` and `every` are plain names unless imported from `future.keywords`
(or `rego.v1`); v1 reserves them. A use of one as a name (not a call such as `contains(s, x)`,
not a field after `.`) is refused, naming the line: a variable to rename, or a keyword the module
used without importing it (OPA's v0 parser refuses that too).
"""

from __future__ import annotations

from dataclasses import dataclass

from verification_pipeline.policy.heads import TOKEN
from verification_pipeline.policy.rego import PolicyError

KEYWORDS = ("contains", "every", "if", "in")
_OPEN, _CLOSE = "{[(", "}])"


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    line: int
    column: int  # 1-based, in the original line
    offset: int

    def op(self, text: str) -> bool:
        return self.kind == "op" and self.text == text

    @property
    def ends_term(self) -> bool:
        """Can a term end here (so a `{` after it opens a body, not an object literal)?"""
        return self.kind in ("name", "string", "raw", "number") or (self.kind == "op" and self.text in _CLOSE)


def _tokens(source: str) -> list[_Token]:
    tokens = []
    line, line_start = 1, 0
    for match in TOKEN.finditer(source):
        kind = match.lastgroup or "other"
        text = match.group()
        if kind not in ("space", "comment"):
            tokens.append(_Token(kind, text, line, match.start() - line_start + 1, match.start()))
        if "\n" in text:
            line += text.count("\n")
            line_start = match.start() + text.rfind("\n") + 1
    return tokens


@dataclass(frozen=True)
class _Edit:
    offset: int
    removed: int
    inserted: str
    line: int
    column: int


@dataclass(frozen=True)
class ColumnMap:
    """Columns of the rewritten module taken back to the original's (lines are the same)."""

    edits: tuple[_Edit, ...] = ()

    def original_column(self, line: int, column: int) -> int:
        shift = 0
        for edit in self.edits:
            if edit.line != line:
                continue
            start = edit.column + shift  # where the edit's text begins in the rewritten line
            if column < start:
                break
            if column < start + len(edit.inserted):
                return edit.column  # inside inserted text: the place it was inserted at
            shift += len(edit.inserted) - edit.removed
        return column - shift


@dataclass(frozen=True)
class Translation:
    source: str
    columns: ColumnMap


class _Rewriter:
    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.source = source
        self.tokens = _tokens(source)
        self.edits: list[_Edit] = []
        self.keywords: set[str] = set()

    # --- helpers ---------------------------------------------------------------------------

    def _at(self, index: int) -> _Token | None:
        return self.tokens[index] if index < len(self.tokens) else None

    def _insert(self, token: _Token, text: str) -> None:
        self.edits.append(_Edit(token.offset, 0, text, token.line, token.column))

    def _replace(self, token: _Token, text: str) -> None:
        self.edits.append(_Edit(token.offset, len(token.text), text, token.line, token.column))

    def _matching(self, index: int) -> int:
        """The index of the bracket closing the one at `index` (or the last token)."""
        depth = 0
        for position in range(index, len(self.tokens)):
            token = self.tokens[position]
            if token.kind == "op" and token.text in _OPEN:
                depth += 1
            elif token.kind == "op" and token.text in _CLOSE:
                depth -= 1
                if depth == 0:
                    return position
        raise PolicyError(
            f"`{self.tokens[index].text}` is never closed", source=self.path, line=self.tokens[index].line
        )

    # --- imports and keywords ------------------------------------------------------------------

    def _imports(self) -> bool:
        """Reads `import future.keywords...` (dropped) and `import rego.v1`; True when the module is v1."""
        is_v1 = False
        for index, token in enumerate(self.tokens):
            if token.kind != "name" or token.text != "import" or not self._line_start(index):
                continue
            end = index + 1
            while end < len(self.tokens) and self.tokens[end].kind != "newline":
                end += 1
            path = "".join(t.text for t in self.tokens[index + 1 : end])
            if path == "rego.v1":
                is_v1 = True
                self.keywords.update(KEYWORDS)
            elif path == "future.keywords" or path.startswith("future.keywords."):
                name = path.removeprefix("future.keywords").lstrip(".")
                self.keywords.update([name] if name else KEYWORDS)
                last = self.tokens[end - 1]
                self.edits.append(
                    _Edit(
                        token.offset,
                        last.offset + len(last.text) - token.offset,
                        "",
                        token.line,
                        token.column,
                    )
                )
        return is_v1

    def _line_start(self, index: int) -> bool:
        return index == 0 or self.tokens[index - 1].kind == "newline"

    def _check_keywords(self) -> None:
        for index, token in enumerate(self.tokens):
            if token.kind != "name" or token.text not in KEYWORDS or token.text in self.keywords:
                continue
            before, after = self._at(index - 1) if index else None, self._at(index + 1)
            if (before and before.op(".")) or (after and after.op("(")):
                continue  # a field (`input.in`) or a call (`contains(s, x)`)
            if before and before.kind == "name" and before.text == "import":
                continue
            raise PolicyError(
                f"`{token.text}` is a name in Rego v0 (no `import future.keywords.{token.text}` or "
                f"`import rego.v1` in this module) and a keyword in Rego v1",
                source=self.path,
                line=token.line,
                hint=f"rename the variable, or import the keyword (`import future.keywords.{token.text}`) "
                "if the module uses it as one",
            )

    # --- rules ---------------------------------------------------------------------------------

    def rewrite(self) -> Translation:
        if self._imports():
            return Translation(self.source, ColumnMap())
        self._check_keywords()
        index = 0
        depth = 0
        while index < len(self.tokens):
            token = self.tokens[index]
            if (
                depth == 0
                and token.kind == "name"
                and self._line_start(index)
                and token.text not in ("package", "import", "default")
            ):
                index = self._rule(index)
                continue
            if token.kind == "op" and token.text in _OPEN:
                depth += 1
            elif token.kind == "op" and token.text in _CLOSE:
                depth = max(0, depth - 1)
            index += 1
        text = self.source
        for edit in sorted(self.edits, key=lambda e: e.offset, reverse=True):
            text = text[: edit.offset] + edit.inserted + text[edit.offset + edit.removed :]
        return Translation(text, ColumnMap(tuple(sorted(self.edits, key=lambda e: (e.line, e.column)))))

    def _rule(self, index: int) -> int:
        """Rewrites the rule whose name is at `index`; returns the index after it."""
        position = index + 1
        while (
            (dot := self._at(position))
            and dot.op(".")
            and (part := self._at(position + 1))
            and part.kind == "name"
        ):
            position += 2  # a dotted head (`a.b[x]`)
        token = self._at(position)
        if token and token.op("("):
            position = self._matching(position) + 1
        elif token and token.op("["):
            close = self._matching(position)
            after = self._at(close + 1)
            set_rule = (
                after is None
                or after.kind == "newline"
                or after.op("{")
                or (after.kind == "name" and after.text == "if")
            )
            if set_rule:
                self._replace(token, " contains ")
                self._replace(self.tokens[close], " ")
            position = close + 1
        elif token and token.kind == "name" and token.text == "contains":
            position += 1
            while (
                (term := self._at(position))
                and term.kind != "newline"
                and not term.op("{")
                and not (term.kind == "name" and term.text == "if")
            ):
                position = (
                    self._matching(position) + 1 if term.kind == "op" and term.text in _OPEN else position + 1
                )
        return self._value_and_body(position)

    def _value_and_body(self, position: int) -> int:
        """From after a head's name/args/key: `= value`, then a body (`if` inserted), then `else` branches."""
        token = self._at(position)
        if token and (token.op("=") or token.op(":=")):
            position += 1
            previous = token
            while (term := self._at(position)) and term.kind != "newline":
                if term.kind == "name" and term.text == "if":
                    break
                if term.op("{") and previous.ends_term:
                    break  # the body
                if term.kind == "op" and term.text in _OPEN:
                    position = self._matching(position)
                previous = self.tokens[position]
                position += 1
        token = self._at(position)
        if token is None or token.kind == "newline":
            return position
        if token.kind == "name" and token.text == "if":
            position += 1
            token = self._at(position)
            if token is None or not token.op("{"):
                return position  # `if expr` on one line: nothing to rewrite
        elif token.op("{"):
            self._insert(token, "if ")
        else:
            return position
        end = self._matching(position)
        following = self._at(end + 1)
        if following and following.kind == "name" and following.text == "else":
            return self._value_and_body(end + 2)
        return end + 1


def translate_v0(path: str, source: str) -> Translation:
    """`source`, a Rego v0 module, rewritten as Rego v1 with the same lines."""
    return _Rewriter(path, source).rewrite()
