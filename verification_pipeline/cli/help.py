"""Help and usage text as people read it: `FILES...`, `--out PATH`, no Python type names or braces.

Typer (0.29) writes `{bundle}` and `<list[Path]>` into usage lines and `<float range>` after
options, and wraps help text at hyphens (`[default: no-allow-dev-` / `key]`). This module puts
its own rendering in place once, when the CLI is imported, so every command (including ones
added later) reads the same: arguments by their name in capitals, an option's value by its
metavar or its kind (PATH, N, NUMBER, TEXT, or its choices), and a flag pair's default as the
flag to give (`--no-keep-stack`). Give a parameter `metavar="MS"` when its kind says too little.
"""

from __future__ import annotations

import functools
from typing import Any

from typer import core
from typer._click import _textwrap

_KINDS = {int: "N", float: "NUMBER", str: "TEXT"}


def _value_name(param: Any) -> str:
    if param.metavar:
        return str(param.metavar)
    kind = param.type_descriptor
    if kind.choices:
        return "|".join(str(getattr(choice, "value", choice)) for choice in kind.choices)
    if kind.is_path or kind.is_file:
        return "PATH"
    return _KINDS.get(kind.annotation, "VALUE")


def _argument_name(param: Any) -> str:
    return str(param.metavar or (param.name or "value").upper())


def _usage_name(self: Any) -> str:
    name = _argument_name(self)
    if self.nargs != 1:
        name += "..."
    return name if self.required else f"[{name}]"


def _row_name(self: Any) -> str:
    return _argument_name(self) + ("..." if self.nargs != 1 else "")


def _option_default(self: Any, **kwargs: Any) -> str:
    if self.is_bool_flag and self.secondary_opts:
        # the flag that gives the default, spelled as typed: `--no-keep-stack`
        return str((self.opts if self.default else self.secondary_opts)[0])
    return core._get_default_string(self, **kwargs)


class _Wrapper(_textwrap.TextWrapper):
    """Lines break between words only: an option name or a path is never cut at its hyphen."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("break_on_hyphens", False)
        kwargs.setdefault("break_long_words", False)
        super().__init__(*args, **kwargs)


@functools.cache
def install() -> None:
    """Put the plain rendering in place (once; the CLI's import does it)."""
    core.TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]
    core.TyperArgument._rich_display_name = _row_name  # type: ignore[method-assign]
    core.TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]
    core.TyperOption.display_type_rich = lambda self, ctx: _value_name(self)  # type: ignore[method-assign]
    core.TyperOption._get_default_string = _option_default  # type: ignore[method-assign]
    _textwrap.TextWrapper = _Wrapper  # type: ignore[misc]
