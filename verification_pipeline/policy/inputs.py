"""The configuration files conftest reads, parsed the way its parsers hand them to a policy.

YAML (multi-document: a file with more than one document becomes a list, each document judged
on its own, as conftest does), JSON and TOML, chosen by extension. Values become plain JSON
(YAML timestamps as their text, as conftest's YAML-to-JSON parser gives them).

And, in the shape conftest's parsers (parser/* of open-policy-agent/conftest) hand them over:

- INI (go-ini): `{section: {key: value}}`, keys outside a section dropped (go-ini's DEFAULT),
  numbers and booleans as strconv reads them, the rest text; no `%(x)s` interpolation;
- dotenv (gotenv): `{KEY: "value"}`, all text. Variables are not expanded from the process's
  environment (it may hold secrets, and the result would depend on the machine);
- XML (goxml2json): elements as objects, attributes as `-name`, text beside attributes as
  `#content`, repeated elements as lists, every value text; entities are not expanded;
- Dockerfile (moby/buildkit's parser, through the `dockerfile` package, which wraps the same Go
  parser): one document, the list of instructions `{Cmd, SubCmd, JSON, Flags, Value, Stage}`,
  comments before an instruction as `{Cmd: "comment", Value: [text]}`;
- HCL2 (`.tf`, `.tfvars`, `.hcl`; conftest uses tmccombs/hcl2json): python-hcl2's tree rearranged
  into hcl2json's shape: a block under its type and then each label, its bodies in a list
  (`resource.aws_alb_listener["name"] == [{...}]`); literal strings as their value, expressions
  as `"${...}"`. Expressions and template directives are python-hcl2's rendering
  (`a > 2 ? 1 : 0`, `%{ for x in y }`), not the source's spacing, and a heredoc loses its last
  newline.

Other formats conftest reads (HCL1, CUE, jsonnet, EDN, ...) have no parser here: such a file is
refused by name rather than misread.
"""

from __future__ import annotations

import configparser
import datetime
import io
import json
import math
import re
import tomllib
from typing import Any

import yaml

from verification_pipeline.errors import FormatError
from verification_pipeline.jsonio import decode_json

PARSERS = ("yaml", "json", "toml", "ini", "dotenv", "xml", "dockerfile", "hcl2")
_EXTENSIONS = {
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".toml": "toml",
    ".ini": "ini",
    ".env": "dotenv",
    ".xml": "xml",
    ".dockerfile": "dockerfile",
    ".tf": "hcl2",
    ".tfvars": "hcl2",
    ".hcl": "hcl2",
}


def parser_for(name: str) -> str:
    """conftest's choice by name: `Dockerfile`, `Dockerfile.*`, `*.dockerfile`; `.env`, `.env.*`, `*.env`; else the extension."""
    base = name.rsplit("/", 1)[-1].lower()
    if base == "dockerfile" or base.startswith("dockerfile."):
        return "dockerfile"
    if base == ".env" or base.startswith(".env."):
        return "dotenv"
    suffix = base[base.rfind(".") :] if "." in base else ""
    parser = _EXTENSIONS.get(suffix)
    if parser is None:
        raise FormatError(
            f"no parser for {suffix or 'a file without an extension'} files",
            source=name,
            hint=f"policy test reads {', '.join(sorted(_EXTENSIONS))} and Dockerfiles; "
            f"give --parser {'|'.join(PARSERS)} to choose one",
        )
    return parser


def _plain(value: Any, source: str) -> Any:
    """The value as JSON has it: dates as text, a NaN refused (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(key): _plain(item, source) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, source) for item in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise FormatError(f"holds {value}, which JSON (and so Rego) cannot represent", source=source)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _as_json_values(documents: list[Any], source: str) -> list[Any]:
    """The documents, converted (`_plain`) only when JSON cannot hold them as they are: the usual
    manifest holds nothing but strings, numbers, booleans, lists and maps, and walking a thousand of
    them in Python costs more than checking them in C."""
    try:
        json.dumps(documents, allow_nan=False)
    except (TypeError, ValueError):
        return [_plain(document, source) for document in documents]
    return documents


def parse_config(data: bytes, source: str, parser: str | None = None) -> Any:
    """One file's configuration: a document, or a list of documents for a multi-document YAML."""
    parser = parser or parser_for(source)
    if parser == "json":
        return decode_json(data, source, expected="a JSON configuration")
    text = data.decode("utf-8", "replace")
    if parser in _OTHER_PARSERS:
        return _OTHER_PARSERS[parser](text, source)
    if parser == "toml":
        try:
            return _plain(tomllib.loads(text), source)
        except tomllib.TOMLDecodeError as exc:
            raise FormatError(f"not valid TOML: {exc}", source=source) from None
    try:
        # libyaml's loader: the pure-Python one takes seconds for a thousand manifests
        documents = list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FormatError(
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            source=source,
            line=mark.line + 1 if mark else None,
        ) from None
    except (RecursionError, ValueError) as exc:
        raise FormatError(f"cannot be read as YAML: {exc}", source=source) from None
    documents = _as_json_values(documents, source)
    if len(documents) == 1:
        return documents[0]
    return documents or None


# --- INI, dotenv, XML, Dockerfile: conftest's shapes -------------------------------------------

_GO_FLOAT = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_GO_BOOL = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True}
_GO_BOOL |= {"0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}
_TOP = "\x00vp-top-level"  # a section name no INI file can hold: the keys before the first section


def _ini_value(value: str) -> Any:
    """conftest's convertKeyTypes: a number (strconv.ParseFloat) first, then a boolean (ParseBool), else text.

    A whole number comes out as JSON has it after Go's float64 round trip (3000, not 3000.0)."""
    if _GO_FLOAT.match(value):
        number = float(value)
        if math.isfinite(number):
            return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if value in _GO_BOOL:
        return _GO_BOOL[value]
    return value


def _ini(text: str, source: str) -> Any:
    config = configparser.ConfigParser(
        interpolation=None,  # go-ini does not expand %(name)s
        strict=False,  # a repeated key or section: the last wins, as in go-ini
        default_section="\x00vp-no-default",  # `[DEFAULT]` is a section like any other to the reader...
        comment_prefixes=("#", ";"),
        inline_comment_prefixes=("#", ";"),
        allow_no_value=False,
        empty_lines_in_values=False,
    )
    config.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case, as in go-ini
    try:
        config.read_string(f"[{_TOP}]\n{text}", source=source)
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        raise FormatError(
            f"not valid INI: {str(exc).splitlines()[0]}", source=source, line=line - 1 if line else None
        ) from None
    return {
        name: {key: _ini_value(value) for key, value in config.items(name, raw=True)}
        for name in config.sections()
        if name not in (_TOP, "DEFAULT")  # ...and dropped, with the keys before any section, as conftest does
    }


def _dotenv(text: str, source: str) -> Any:
    """gotenv.StrictParse: a line that is not `KEY=value` (or a comment) is an error naming it."""
    from dotenv.parser import parse_stream

    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error or (binding.key is not None and binding.value is None):
            raise FormatError(
                f"not valid dotenv: {binding.original.string.strip()[:80]!r} is not KEY=value",
                source=source,
                line=binding.original.line,
            )
        if binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value  # as written: ${VAR} is not expanded
    return values


def _xml(text: str, source: str) -> Any:
    import xml.parsers.expat

    import xmltodict

    try:
        document = xmltodict.parse(
            text, attr_prefix="-", cdata_key="#content", disable_entities=True, strip_whitespace=True
        )
    except xml.parsers.expat.ExpatError as exc:
        raise FormatError(f"not valid XML: {exc}", source=source, line=getattr(exc, "lineno", None)) from None
    except ValueError as exc:  # xmltodict refuses an entity declaration (disable_entities)
        raise FormatError(f"not read as XML: {exc}", source=source) from None
    try:
        return _plain(document, source)
    except RecursionError:
        raise FormatError("XML nested too deep to judge", source=source) from None


def _dockerfile(text: str, source: str) -> Any:
    import dockerfile

    try:
        parsed = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        raise FormatError(f"not a valid Dockerfile: {exc}", source=source) from None
    lines = text.splitlines()
    commands: list[dict[str, Any]] = []
    stage = -1
    previous_end = 0
    for instruction in parsed:
        cmd = instruction.cmd.lower()
        if cmd == "from":
            stage += 1
        # buildkit's PrevComment: the comment lines since the last instruction, a bare `#` starting over
        comments: list[str] = []
        for line in lines[previous_end : instruction.start_line - 1]:
            stripped = line.strip()
            if stripped.startswith("#"):
                comment = stripped[1:].strip()
                comments = [*comments, comment] if comment else []
        commands += [
            {
                "Cmd": "comment",
                "SubCmd": "",
                "JSON": False,
                "Flags": None,
                "Value": [c],
                "Stage": max(stage, 0),
            }
            for c in comments
        ]
        commands.append(
            {
                "Cmd": cmd,
                "SubCmd": (instruction.sub_cmd or "").lower(),
                "JSON": bool(instruction.json),
                "Flags": list(instruction.flags),
                "Value": list(instruction.value) or None,
                "Stage": max(stage, 0),
            }
        )
        previous_end = instruction.end_line
    return [commands]  # conftest hands a Dockerfile over as one document: the list of its instructions


def _is_block(value: Any) -> bool:
    """python-hcl2's block entry: a body (`__is_block__`), or `{"label": <block entry>}`."""
    if not isinstance(value, dict):
        return False
    return value.get("__is_block__") is True or (len(value) == 1 and _is_block(next(iter(value.values()))))


def _unquoted(text: str) -> str:
    """A key or string as python-hcl2 gives it (`"\"prod\""`): its value; an expression (`${...}`) as it is."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            value = json.loads(text)  # HCL's escapes (\n, \", \\, \uNNNN) are JSON's
        except ValueError:
            return text[1:-1]
        return value if isinstance(value, str) else text[1:-1]
    return text


def _hcl_value(value: Any) -> Any:
    if isinstance(value, str):
        return _unquoted(value)
    if isinstance(value, list):
        return [_hcl_value(item) for item in value]
    if isinstance(value, dict):
        return {_unquoted(str(key)): _hcl_value(item) for key, item in value.items()}
    return value


def _hcl_body(body: dict[str, Any]) -> dict[str, Any]:
    """hcl2json's object for a body: attributes as values, blocks nested by type and labels, bodies in lists."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "__is_block__":
            continue
        if isinstance(value, list) and value and all(_is_block(entry) for entry in value):
            for entry in value:
                target: dict[str, Any] = out
                name = _unquoted(key)
                while entry.get("__is_block__") is not True:  # a label: one level deeper
                    ((label, entry),) = entry.items()
                    target = target.setdefault(name, {})
                    name = _unquoted(label)
                target.setdefault(name, []).append(_hcl_body(entry))
        else:
            out[_unquoted(key)] = _hcl_value(value)
    return out


def _hcl2(text: str, source: str) -> Any:
    import hcl2
    from hcl2.utils import SerializationOptions
    from lark.exceptions import LarkError

    options = SerializationOptions(with_comments=False, explicit_blocks=True, preserve_heredocs=False)
    try:
        tree = hcl2.loads(text, serialization_options=options)
    except LarkError as exc:
        raise FormatError(
            f"not valid HCL2: {str(exc).splitlines()[0]}", source=source, line=getattr(exc, "line", None)
        ) from None
    except RecursionError:
        raise FormatError("HCL nested too deep to read", source=source) from None
    try:
        return _plain(_hcl_body(tree), source)
    except RecursionError:
        raise FormatError("HCL nested too deep to judge", source=source) from None


_OTHER_PARSERS = {"ini": _ini, "dotenv": _dotenv, "xml": _xml, "dockerfile": _dockerfile, "hcl2": _hcl2}
