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

- JSONC (muzzammil.xyz/jsonc): `//`, `#` and `/* */` comments dropped outside strings; trailing
  commas accepted too (conftest's reader leaves them to the JSON decoder, which refuses them);
- Java properties (magiconair/properties, `Map()`): every value text, `${key}` expanded from the
  file's own keys; an undefined `${key}` stays as written (magiconair reads the environment);
- HOCON (go-akka/configuration through conftest's getConfig): objects nested, every other value
  go-akka's text of it (`"75 seconds"` quoted because of its space, lists as `[a,b]`, null and ""
  as `""`), then a number or boolean when it reads as one. pyhocon parses; `include` is refused
  and the environment is never read;
- EDN (olympos.io/encoding/edn, conftest's cleanupMapValue): map keys and every scalar as Go's
  `%v` text (`":env"`, `"5432"`, `"true"`, `"2032-01-01 12:20:50.52 +0000 UTC"`), sets as maps
  of `"true"`, an unknown tag as `#tag value`;
- Jsonnet (evaluated by the jsonnet package): its JSON; `import` and `std.extVar` refused;
- CycloneDX: a JSON BOM as it is (an XML BOM is refused by name: conftest's re-encoding of
  cyclonedx-go's structs is not reproduced);
- SPDX tag-value (tools-golang): the SPDX JSON fields (`spdxVersion` "SPDX-2.3", as tools-golang
  converts every document, `dataLicense`, `creationInfo`, `packages`, ...), through spdx-tools;
- `.gitignore`/`.dockerignore` (shteou/go-ignore): one document, `{Kind, Value, Original}` per line.

Other formats conftest reads (HCL1, CUE, textproto, VCL) have no parser here: such a
file is refused by name rather than misread.
"""

from __future__ import annotations

import configparser
import datetime
import decimal
import io
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import yaml

from verification_pipeline.config_files import yaml_error
from verification_pipeline.errors import FormatError
from verification_pipeline.jsonio import decode_json

PARSERS: tuple[str, ...] = ("yaml", "json", "toml", "ini", "dotenv", "xml", "dockerfile", "hcl2")
PARSERS += ("jsonc", "properties", "hocon", "edn", "jsonnet", "cyclonedx", "spdx", "ignore")
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
    # conftest's New(extension): a file named for its parser
    ".jsonc": "jsonc",
    ".properties": "properties",
    ".hocon": "hocon",
    ".edn": "edn",
    ".jsonnet": "jsonnet",
    ".cyclonedx": "cyclonedx",
    ".spdx": "spdx",
    ".gitignore": "ignore",
    ".dockerignore": "ignore",
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
        raise yaml_error(exc, FormatError, source) from None
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


# --- JSONC, Java properties, HOCON, EDN, Jsonnet, CycloneDX, SPDX: conftest's shapes -------------


_JSONC_TOKEN = re.compile(
    r'"(?:[^"\\]++|\\.)*+"?|//[^\n]*|#[^\n]*|/\*.*?\*/|/\*|,|[ \t\r\n]+|[^",/# \t\r\n]+|/', re.DOTALL
)


def _jsonc_to_json(text: str, source: str) -> str:
    """muzzammil.xyz/jsonc's translation: `//`, `#` and `/* */` comments removed outside strings (a
    `//` inside a string is text), and trailing commas too (which that reader leaves for the JSON
    decoder to refuse). Each comment becomes spaces, its newlines kept, so a JSON error names the
    line of the source; a `/*` never closed is refused (muzzammil's drops the rest of the file)."""
    out: list[str] = []
    pending: list[str] = []  # a comma, and the blanks after it, until the next token decides
    last = ""  # the last character of the last token kept that is not a blank
    for match in _JSONC_TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first in "#/" and token != "/":
            if token == "/*":
                line = text.count("\n", 0, match.start()) + 1
                raise FormatError("not valid JSONC: a /* comment is never closed", source=source, line=line)
            (pending or out).append(re.sub(r"[^\n]", " ", token))
        elif first in " \t\r\n":
            (pending or out).append(token)
        elif token == ",":
            if pending:
                out += pending
                last = ","
            pending = [","]
        else:
            if pending:
                if first in "}]" and last not in ("", "[", "{", ","):
                    pending[0] = " "  # a trailing comma after a value: dropped (`[,]` stays an error)
                else:
                    last = ","
                out += pending
                pending = []
            out.append(token)
            last = token[-1]
    out += pending
    return "".join(out)


def _jsonc(text: str, source: str) -> Any:
    return decode_json(_jsonc_to_json(text, source).encode(), source, expected="a JSONC configuration")


_PROPERTY_REF = re.compile(r"\$\{([^}]*)\}")


def _properties(text: str, source: str) -> Any:
    """magiconair/properties' LoadString, then Map(): every value text, `${key}` expanded from the
    file's own keys (a circular reference refused). A `${key}` the file does not define stays as
    written: magiconair would read the process's environment, which may hold secrets."""
    import jproperties

    props = jproperties.Properties()
    try:
        props.load(text.encode("utf-8"), "utf-8")
    except jproperties.ParseError as exc:
        raise FormatError(
            f"not valid properties: {exc.message}", source=source, line=exc.line_number
        ) from None
    raw = {key: value.data for key, value in props.items()}

    def expand(key: str, seen: tuple[str, ...]) -> str:
        def one(match: re.Match[str]) -> str:
            ref = match.group(1)
            if ref not in raw:
                return match.group(0)
            if ref in seen:
                raise FormatError(
                    f"not valid properties: circular reference ${{{ref}}} in {key!r}", source=source
                )
            return expand(ref, (*seen, ref))

        return _PROPERTY_REF.sub(one, raw[key])

    return {key: expand(key, (key,)) for key in raw}


_HOCON_LOCK = __import__("threading").Lock()
_HOCON_INCLUDE = re.compile(r"(?:^|[{,\n])[ \t]*(?:required\s*\(\s*)?include\b", re.MULTILINE)


def _go_akka_text(value: Any) -> str:
    """go-akka's HoconValue.String(): text with a space or tab quoted, "" for empty, lists as `[a,b]`."""
    if isinstance(value, list):
        return "[" + ",".join(_go_akka_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(
            value, separators=(",", ":")
        )  # go-akka's own layout of an object in a list is not reproduced
    if value is None:
        return '""'  # concatString: "null" reads as empty
    text = "true" if value is True else "false" if value is False else str(value)
    if not text:
        return '""'
    return f'"{text}"' if " " in text or "\t" in text else text


def _hocon_shape(tree: Any) -> Any:
    """conftest's getConfig/convertType: objects nested, every other value its go-akka text, then a
    number (strconv.ParseFloat) or a boolean (ParseBool) when it reads as one."""
    if isinstance(tree, dict):
        return {str(key): _hocon_shape(value) for key, value in tree.items()}
    return _ini_value(_go_akka_text(tree))


class _NoEnv:  # pyhocon falls back to os.environ for an unknown ${x}; a policy's input never holds it
    environ: ClassVar[dict[str, str]] = {}

    def __getattr__(self, name: str) -> Any:
        import os

        return getattr(os, name)


def _refuse_hocon_include(text: str, source: str) -> None:
    include = _HOCON_INCLUDE.search(text)
    if include:
        raise FormatError(
            "HOCON `include` is not read (it would load other files or URLs)",
            source=source,
            line=text.count("\n", 0, include.start() + 1) + 1,
        )


def _hocon_parser(declared: set[tuple[str, ...]]) -> Any:
    """pyhocon's parser, except that a `${path}` to a key in `declared` (filled in once the text is
    parsed) that did not resolve reads as empty, as go-akka has it."""
    import pyparsing
    from pyhocon import config_parser
    from pyhocon.config_tree import ConfigTree

    class Parser(config_parser.ConfigParser):
        @classmethod
        def _resolve_variable(cls, config: Any, substitution: Any) -> tuple[bool, Any]:
            try:
                return True, config.get(substitution.variable)
            except config_parser.ConfigMissingException:
                if substitution.optional:
                    return False, None
                if tuple(ConfigTree.parse_key(substitution.variable)) in declared:
                    return True, ""
                raise config_parser.ConfigSubstitutionException(
                    f"Cannot resolve variable ${{{substitution.variable}}} "
                    f"(line: {pyparsing.lineno(substitution.loc, substitution.instring)})"
                ) from None

    return Parser


def _declared_keys(tree: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """The path of every key the parsed text sets, objects' keys included."""
    from pyhocon.config_tree import ConfigTree

    declared: set[tuple[str, ...]] = set()
    for key, value in tree.items():
        declared.add((*path, key))
        if isinstance(value, ConfigTree):
            declared |= _declared_keys(value, (*path, key))
    return declared


def _drop_unset_optionals(tree: Any, declared: set[tuple[str, ...]]) -> None:
    """`k = ${?x}` with no x anywhere: as if never written (the value before it, or no key), as HOCON
    says; pyhocon gives null when two such lines follow a value (play's `port = 9001`)."""
    from pyhocon.config_tree import ConfigSubstitution, ConfigTree, ConfigValues

    for key in list(tree.keys()):
        value = tree[key]
        while (
            isinstance(value, ConfigValues)
            and len(value.tokens) == 1
            and isinstance(value.tokens[0], ConfigSubstitution)
            and value.tokens[0].optional
            and tuple(ConfigTree.parse_key(value.tokens[0].variable)) not in declared
        ):
            value = value.overridden_value
        if value is tree[key]:
            pass
        elif value is None:
            del tree[key]
            continue
        else:
            if isinstance(value, ConfigValues):
                value.parent, value.key = tree, key
            tree[key] = value
        if isinstance(value, ConfigTree):
            _drop_unset_optionals(value, declared)


def _hocon_error(exc: Exception, source: str) -> FormatError:
    """pyhocon's or pyparsing's error as a FormatError, with the line where either says it."""
    line = getattr(exc, "lineno", None)
    if line is None:
        found = re.search(r"line:\s*(\d+)", str(exc))
        line = int(found.group(1)) if found else None
    return FormatError(f"not valid HOCON: {str(exc).splitlines()[0]}", source=source, line=line)


def _hocon(text: str, source: str) -> Any:
    """pyhocon, with go-akka's choices where they differ: no `include` (refused: it would read other files or
    URLs), no environment variables, durations and sizes kept as written, and a `${path}` to a key that is
    set only by an unresolved `${?x}` read as empty (go-akka finds the key; pyhocon has dropped it)."""
    import pyparsing
    from pyhocon import config_parser
    from pyhocon.exceptions import ConfigException

    _refuse_hocon_include(text, source)
    declared: set[tuple[str, ...]] = set()
    parser = _hocon_parser(declared)
    with _HOCON_LOCK:
        saved = (config_parser.get_period_expr, config_parser.os)
        # "75 seconds" stays text, as go-akka has it
        config_parser.get_period_expr = pyparsing.NoMatch
        config_parser.os = _NoEnv()
        try:
            tree = parser.parse(text, resolve=False)
            declared |= _declared_keys(tree)
            _drop_unset_optionals(tree, declared)
            parser.resolve_substitutions(tree, False)
            plain = tree.as_plain_ordered_dict()
        except (ConfigException, pyparsing.ParseBaseException) as exc:
            raise _hocon_error(exc, source) from None
        except RecursionError:
            raise FormatError("HOCON nested too deep to read", source=source) from None
        finally:
            config_parser.get_period_expr, config_parser.os = saved
    return _hocon_shape(plain)


def _go_float(number: float) -> str:
    """Go's `%v` of a float64: the shortest digits, in exponent form below 1e-4 or from 1e21 on."""
    if not math.isfinite(number):
        return "NaN" if math.isnan(number) else ("+Inf" if number > 0 else "-Inf")
    if number == 0:
        return "-0" if math.copysign(1, number) < 0 else "0"
    shortest = decimal.Decimal(repr(number))
    exponent = shortest.adjusted()
    if -4 <= exponent < 21:
        text = format(shortest, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    sign, digit_tuple, _ = shortest.as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"


def _go_time(value: datetime.datetime) -> str:
    """Go's `%v` of a time.Time from RFC 3339: `2032-01-01 12:20:50.52 +0000 UTC`."""
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    offset = value.utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    zone = f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return f"{text} {zone} {'UTC' if minutes == 0 else zone}"


class _EdnTag:
    def __init__(self, name: str, value: Any) -> None:
        self.name, self.value = name, value


def _go_v(value: Any) -> str:
    """Go's `%v` of what olympos.io/encoding/edn decodes (conftest's cleanupMapValue for scalars)."""
    import edn_format

    if isinstance(value, edn_format.Char):
        return str(ord(value))  # a rune: its code point
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, edn_format.Keyword):
        return f":{value.name}"
    if isinstance(value, edn_format.Symbol):
        return value.name
    if isinstance(value, datetime.datetime):
        return _go_time(value)
    if isinstance(value, datetime.date):
        return _go_time(datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.UTC))
    if isinstance(value, _EdnTag):
        return f"#{value.name} {_go_v(value.value)}"
    if isinstance(value, frozenset):
        return "map[" + " ".join(sorted(f"{_go_v(item)}:true" for item in value)) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(sorted(f"{_go_v(k)}:{_go_v(v)}" for k, v in value.items())) + "]"
    if isinstance(value, Sequence):
        return "[" + " ".join(_go_v(item) for item in value) + "]"
    return str(value)  # ints, big ints, decimals, UUIDs


def _edn_shape(value: Any) -> Any:
    """conftest's cleanupMapValue: maps with their keys as `%v` text, vectors and lists as lists, sets as
    maps of `"true"`, every other value its `%v` text (numbers and booleans too)."""
    if isinstance(value, frozenset):
        return {_go_v(item): "true" for item in value}
    if isinstance(value, Mapping):
        return {_go_v(key): _edn_shape(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_edn_shape(item) for item in value]
    return _go_v(value)


_EDN_LOCK = __import__("threading").Lock()


def _edn(text: str, source: str) -> Any:
    """edn_format, with a tag it does not know kept as olympos' edn.Tag is (`#duration 20m`)."""
    import edn_format
    from edn_format import edn_parse

    with _EDN_LOCK:
        added: list[str] = []
        try:
            for _ in range(text.count("#") + 1):
                try:
                    value = edn_format.loads(text, write_ply_tables=False)
                    break
                except NotImplementedError as exc:
                    found = re.search(r"handle tag ImmutableDict\((.*)\)$", str(exc))
                    if not found or found.group(1) in added:
                        raise FormatError(f"not valid EDN: {exc}", source=source) from None
                    name = found.group(1)
                    edn_parse._serializers[name] = lambda element, name=name: _EdnTag(name, element)
                    added.append(name)
            else:
                raise FormatError("not valid EDN: too many tags", source=source)
        except edn_format.EDNDecodeError as exc:
            token = exc.args[0] if exc.args else None
            line = getattr(token, "lineno", None)
            what = f"unexpected {getattr(token, 'value', token)!r}" if token is not None else "cannot be read"
            raise FormatError(f"not valid EDN: {what}", source=source, line=line) from None
        except (ValueError, TypeError, SyntaxError) as exc:
            raise FormatError(f"not valid EDN: {exc}", source=source) from None
        except RecursionError:
            raise FormatError("EDN nested too deep to read", source=source) from None
        finally:
            for name in added:
                edn_parse._serializers.pop(name, None)
    return _edn_shape(value)


_JSONNET_SECONDS = 30
_JSONNET_MEMORY_BYTES = 2 << 30
_JSONNET_CHILD = """
import sys, _jsonnet
def refuse(directory, name):
    raise RuntimeError(f"imports are not read here ({name})")
try:
    out = _jsonnet.evaluate_snippet(
        sys.argv[1], sys.stdin.read(), import_callback=refuse, max_stack=200, max_trace=5
    )
except RuntimeError as exc:
    sys.stderr.write(str(exc))
    sys.exit(3)
sys.stdout.write(out)
"""


def _jsonnet(text: str, source: str) -> Any:
    """go-jsonnet's evaluation (the C++ jsonnet here: the same language) of the file, then its JSON.

    `import` is refused (conftest reads the file's directory; a policy's input here is the file
    alone), as are `std.extVar` and native functions (none are given). A program can compute for
    ever or fill memory: it runs in a child interpreter bounded in time and address space."""
    import resource
    import subprocess
    import sys

    def bounded() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (_JSONNET_MEMORY_BYTES, _JSONNET_MEMORY_BYTES))

    try:
        child = subprocess.run(
            [sys.executable, "-I", "-c", _JSONNET_CHILD, source],
            input=text.encode(),
            capture_output=True,
            timeout=_JSONNET_SECONDS,
            env={},
            preexec_fn=bounded,  # the limit must be set in the child before it evaluates
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise FormatError(f"Jsonnet evaluation took more than {_JSONNET_SECONDS} s", source=source) from None
    if child.returncode != 0:
        message = (
            child.stderr.decode("utf-8", "replace").strip() or f"the evaluator exited {child.returncode}"
        )
        if child.returncode != 3:  # not a Jsonnet error: out of memory or killed
            message = f"evaluation failed (more than {_JSONNET_MEMORY_BYTES >> 30} GiB?): {message.splitlines()[-1]}"
        found = re.search(re.escape(source) + r":(\d+):", message)
        raise FormatError(
            f"not valid Jsonnet: {message.splitlines()[0]}",
            source=source,
            line=int(found.group(1)) if found else None,
        )
    return decode_json(child.stdout, source, expected="the JSON a Jsonnet file evaluates to")


def _cyclonedx(text: str, source: str) -> Any:
    """conftest's cyclonedx parser: a JSON BOM as it is. An XML BOM (conftest re-encodes cyclonedx-go's
    structs as JSON) is refused by name: its JSON shape is not reproduced here."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("<"):
        raise FormatError(
            "a CycloneDX XML BOM is not read here, only CycloneDX JSON",
            source=source,
            hint="convert it to JSON (cyclonedx-cli convert --output-format json) or use the JSON BOM",
        )
    bom = decode_json(text.encode(), source, expected="a CycloneDX JSON BOM")
    if not isinstance(bom, dict):
        raise FormatError("not a CycloneDX BOM: the JSON is not an object", source=source)
    if bom.get("bomFormat", "CycloneDX") != "CycloneDX":
        raise FormatError(f"not a CycloneDX BOM: bomFormat is {bom.get('bomFormat')!r}", source=source)
    return bom


def _spdx(text: str, source: str) -> Any:
    """conftest's spdx parser: an SPDX tag-value document (tools-golang's reader), as SPDX JSON's fields
    (`spdxVersion`, `dataLicense`, `creationInfo.creators`...; spdx-tools' converter), the version
    `SPDX-2.3` as tools-golang converts every document to it."""
    from ply import yacc
    from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.tagvalue.parser import Parser

    try:  # no grammar tables written into site-packages, no "Generating LALR tables" on stderr
        document = Parser(write_tables=False, debug=False, errorlog=yacc.NullLogger()).parse(text)
    except SPDXParsingError as exc:
        messages = exc.get_messages()
        found = re.search(r"line:? (\d+)", " ".join(messages))
        raise FormatError(
            f"not a valid SPDX tag-value document: {'; '.join(dict.fromkeys(messages))[:300]}",
            source=source,
            line=int(found.group(1)) if found else None,
        ) from None
    converted = DocumentConverter().convert(document)
    converted["spdxVersion"] = "SPDX-2.3"
    return _plain(converted, source)


def _go_ignore_unescape(text: str) -> str:
    """go-ignore's Unescape: a `\\` drops, `\\\\` is one; byte by byte, each byte turned into the
    character of that number (Go's string(s[i])), so non-ASCII text comes out as Latin-1 reads it."""
    data, out, i = text.encode("utf-8"), [], 0
    while i < len(data):
        if data[i] != 0x5C:
            out.append(chr(data[i]))
        elif i < len(data) - 1 and data[i + 1] == 0x5C:
            out.append("\\")
            i += 1
        i += 1
    return "".join(out)


def _ignore(text: str, source: str) -> Any:
    """conftest's ignore parser (shteou/go-ignore 0.3.1) for .gitignore and .dockerignore: one document,
    the list of `{Kind, Value, Original}` per line (Empty, Comment, NegatedPath, Path)."""
    del source  # every text is a valid ignore file
    entries: list[dict[str, str]] = []
    for line in text.split("\n"):
        stop = len(line) - 1
        while stop >= 0 and line[stop] == " ":
            stop -= 1
        if stop >= 0 and line[stop] == "\\":
            stop += 1
        stripped = line[: stop + 1]
        if stripped == "":
            entries.append({"Kind": "Empty", "Value": line, "Original": line})
        elif line.startswith("#"):
            entries.append({"Kind": "Comment", "Value": stripped[1:].strip(), "Original": line})
        elif line.startswith("!"):
            entries.append(
                {"Kind": "NegatedPath", "Value": _go_ignore_unescape(stripped[1:]), "Original": line}
            )
        else:
            entries.append({"Kind": "Path", "Value": _go_ignore_unescape(stripped), "Original": line})
    return [entries]  # conftest wraps the list so the file is one document


_OTHER_PARSERS |= {
    "jsonc": _jsonc,
    "properties": _properties,
    "hocon": _hocon,
    "edn": _edn,
    "jsonnet": _jsonnet,
    "cyclonedx": _cyclonedx,
    "spdx": _spdx,
    "ignore": _ignore,
}
