"""A Rego module's package and rule heads, read from its tokens.

conftest decides what to query from OPA's parsed modules: the package (the namespace) and the
name of every rule (each definition counts once towards the number of tests). regopy gives no
access to its AST, so we read the same two things from the token stream: a rule starts with a
name at the start of a line outside any bracket. The same pass enforces what OPA's v1 parser
enforces and rego-cpp accepts silently: a rule body needs `if` (`deny[msg] { ... }` is Rego v0,
which rego-cpp would read as a different rule), and conftest's own check that refuses
`deny[msg] if { ... }` (in v1 an object keyed by the message, never a failure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from verification_pipeline.policy.rego import PolicyError

# Rego's tokens as far as rule heads and the v0 rewrite (policy/v0.py) need them.
TOKEN = re.compile(
    r"""(?P<comment>\#[^\n]*)
      | (?P<string>"(?:[^"\\\n]|\\.)*")
      | (?P<raw>`[^`]*`)
      | (?P<newline>\n)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
      | (?P<op>:=|==|!=|<=|>=|[{}\[\]().,=:;|&+\-*/%<>])
      | (?P<space>[ \t\r]+)
      | (?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
FAILURE = re.compile(r"^(deny|violation)(_[a-zA-Z0-9]+)*$")
WARNING = re.compile(r"^warn(_[a-zA-Z0-9]+)*$")
_NOT_RULES = {"package", "import", "else", "default"}


@dataclass
class ModuleHeads:
    """What conftest reads from one module: its namespace and its rules' names, once per definition."""

    path: str
    namespace: str
    rules: list[str] = field(default_factory=list)

    def checked_rules(self) -> list[str]:
        """The rules conftest evaluates: failures (deny, violation, deny_*) and warnings (warn, warn_*)."""
        return [rule for rule in self.rules if FAILURE.match(rule) or WARNING.match(rule)]


def _tokens(source: str) -> list[tuple[str, str, int]]:
    """(kind, text, line) of every token that matters: no spaces, no comments."""
    tokens = []
    line = 1
    for match in TOKEN.finditer(source):
        kind = match.lastgroup or "other"
        text = match.group()
        if kind not in ("space", "comment"):
            tokens.append((kind, text, line))
        line += text.count("\n")
    return tokens


def read_heads(path: str, source: str) -> ModuleHeads:
    tokens = _tokens(source)
    namespace = ""
    heads = ModuleHeads(path=path, namespace="")
    depth = 0
    at_line_start = True
    index = 0
    while index < len(tokens):
        kind, text, _ = tokens[index]
        if kind == "newline":
            at_line_start = True
            index += 1
            continue
        starts = at_line_start and depth == 0
        at_line_start = False
        if starts and kind == "name" and text == "package":
            index, namespace = _dotted(tokens, index + 1)
            heads.namespace = namespace
            continue
        if starts and kind == "name" and text == "default" and index + 1 < len(tokens):
            heads.rules.append(tokens[index + 1][1])
        elif starts and kind == "name" and text not in _NOT_RULES:
            heads.rules.append(text)
            _check_head(path, tokens, index)
        if kind == "name" and text == "with":
            _check_with(path, tokens, index)
        if text in "{[(" and kind == "op":
            depth += 1
        elif text in "}])" and kind == "op":
            depth = max(0, depth - 1)
        index += 1
    if not namespace:
        raise PolicyError("a Rego module needs a `package` line", source=path, line=1)
    return heads


def _dotted(tokens: list[tuple[str, str, int]], index: int) -> tuple[int, str]:
    parts = []
    while index < len(tokens) and tokens[index][0] != "newline":
        parts.append(tokens[index][1])
        index += 1
    return index, "".join(parts)


def _check_head(path: str, tokens: list[tuple[str, str, int]], index: int) -> None:
    """The head from `index` up to its body's `{` (outside brackets): v1 needs `if` before a body."""
    name, line = tokens[index][1], tokens[index][2]
    if (FAILURE.match(name) or WARNING.match(name)) and _bracket_then_if(tokens, index + 1):
        raise PolicyError(
            f"rule `{name}[...] if` uses 'if' keyword without 'contains' keyword: in Rego v1 that is an object "
            "keyed by the message, not a set of messages",
            source=path,
            line=line,
            hint=f"write `{name} contains msg if {{ ... }}`, as conftest requires",
        )
    depth = 0
    previous = tokens[index]
    for token in tokens[index + 1 :]:
        kind, text, _ = token
        if kind == "newline" and depth == 0:
            return
        if kind == "name" and text == "if" and depth == 0:
            return
        # a `{` right after a complete term opens a body; after `=`, `:=` or `contains` it opens a literal
        ends_term = (
            (previous[0] in ("name", "string", "raw", "number") and previous[1] != "contains")
            or (previous[0] == "op" and previous[1] in ")]}")
            or previous[0] == "other"
        )
        if kind == "op" and text == "{" and depth == 0 and ends_term:
            raise PolicyError(
                f"rule `{name}` has a body without `if`: that is Rego v0 syntax, and this engine reads Rego v1",
                source=path,
                line=line,
                hint="rewrite it for v1 (`opa fmt --v0-v1`), e.g. `deny contains msg if { ... }`",
            )
        if kind == "op" and text in "{[(":
            depth += 1
        elif kind == "op" and text in "}])":
            depth -= 1
        previous = token


def _bracket_then_if(tokens: list[tuple[str, str, int]], index: int) -> bool:
    """`[ ... ] if` from `index`: conftest's "problematic if" (`deny[msg] if { ... }`)."""
    if index >= len(tokens) or tokens[index][1] != "[":
        return False
    depth = 0
    for position in range(index, len(tokens)):
        text = tokens[position][1]
        depth += text in "[({" and tokens[position][0] == "op"
        depth -= text in "])}" and tokens[position][0] == "op"
        if depth == 0:
            return position + 1 < len(tokens) and tokens[position + 1][1] == "if"
    return False


def _check_with(path: str, tokens: list[tuple[str, str, int]], index: int) -> None:
    """rego-cpp 1.5.2 aborts the whole process on `with X as <variable or reference>`; only a literal works."""
    for position in range(index + 1, min(index + 12, len(tokens) - 1)):
        kind, text, line = tokens[position]
        if kind == "name" and text == "as":
            value_kind, value = tokens[position + 1][:2]
            if value_kind == "name" and value not in ("true", "false", "null"):
                raise PolicyError(
                    f"`with ... as {value}`: rego-cpp (regopy 1.5.2) aborts on a `with` whose value is a "
                    "variable or a reference",
                    source=path,
                    line=line,
                    hint="write the value as a literal after `as`, or keep unit tests in *_test.rego files "
                    "(policy test does not load them)",
                )
            return
