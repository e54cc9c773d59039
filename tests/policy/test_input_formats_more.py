"""JSONC, Java properties, HOCON, EDN, Jsonnet, CycloneDX and SPDX inputs in the shapes conftest v0.57.0's
parsers give (its parser/*), checked on its examples (tests/fixtures/conftest/v0.57.0, Rego v0) against
acceptance.bats' expectations, and on small files of our own where it has no example (JSONC)."""

from __future__ import annotations

import pytest

from verification_pipeline.errors import FormatError
from verification_pipeline.policy.inputs import parse_config, parser_for

from .conftest import CONFTEST

EX = "v0.57.0/examples"


def _v0(policy_test, *args: str):
    return policy_test("--rego-version", "v0", "--no-color", *args)


def test_properties(policy_test, tmp_path):
    # "Can parse properties files": exit 0 (two rules, both pass)
    run = _v0(policy_test, "-p", f"{EX}/properties/policy/", f"{EX}/properties/sample.properties")
    assert run.code == 0 and run.lines == ["2 tests, 2 passed, 0 warnings, 0 failures, 0 exceptions"]
    bad = tmp_path / "app.properties"
    bad.write_text("db.url = jdbc:postgresql://db/app\napi.secret = hunter2\n")
    failed = _v0(policy_test, "-p", f"{EX}/properties/policy/", str(bad))
    assert failed.code == 1
    assert "Must have a valid uri defined 'jdbc:postgresql://db/app'" in failed.out
    assert "'api.secret' may contain a secret value" in failed.out


def test_properties_shape_as_magiconair_gives_it(monkeypatch):
    monkeypatch.setenv("VP_TEST_UNSET_ELSEWHERE", "from-the-environment")
    text = (
        b"# comment\n! also a comment\nhost = example.org\nurl: https://${host}/x\\\n    /continued\n"
        b"key\\ with\\ spaces value\nunicode=\\u0041\\tB\nport 8080\nenv=${VP_TEST_UNSET_ELSEWHERE}\nempty\n"
    )
    assert parse_config(text, "a.properties") == {
        "host": "example.org",
        "url": "https://example.org/x/continued",
        "key with spaces": "value",
        "unicode": "A\tB",
        "port": "8080",  # Map(): every value text
        "env": "${VP_TEST_UNSET_ELSEWHERE}",  # never read from the environment
        "empty": "",
    }
    with pytest.raises(FormatError) as raised:
        parse_config(b"a=${b}\nb=${a}\n", "loop.properties")
    assert "circular reference" in str(raised.value)
    with pytest.raises(FormatError) as raised:
        parse_config(b"ok=1\nbad=\\u00zz\n", "bad.properties")
    assert raised.value.line == 2 and raised.value.source == "bad.properties"


def test_hocon(policy_test):
    # "Can parse hocon files": exit 1, "Play http server port should be 9000" (port = 9001, then two ${?...}
    # overrides that are unset); the address rule passes ("0.0.0.0" kept through its ${?...} overrides)
    run = _v0(policy_test, "-p", f"{EX}/hocon/policy", f"{EX}/hocon/hocon.conf", "--parser", "hocon")
    assert run.code == 1
    assert run.lines == [
        f"FAIL - {EX}/hocon/hocon.conf - main - Play http server port should be 9000",
        "2 tests, 1 passed, 0 warnings, 1 failure, 0 exceptions",
    ]


def test_hocon_shape_as_go_akka_gives_it(monkeypatch):
    monkeypatch.setenv("VP_TEST_HOCON_VAR", "from-the-environment")
    text = b"""
a {
  port = "9000"          # text that reads as a number becomes one (convertType)
  timeout = 75 seconds   # kept as written, quoted as go-akka quotes text with a space
  size = 64k
  on = yes
  flag = true
  list = [1, "a b"]
  empty = ""
  nothing = null
  dir = ${?UNSET_ANYWHERE}
  path = ${a.dir}/RUNNING_PID
  env = ${?VP_TEST_HOCON_VAR}
  b.c = 2.5
}
"""
    assert parse_config(text, "app.hocon") == {
        "a": {
            "port": 9000,
            "timeout": '"75 seconds"',
            "size": "64k",
            "on": "yes",
            "flag": True,
            "list": '[1,"a b"]',
            "empty": '""',
            "nothing": '""',
            "path": "/RUNNING_PID",
            "b": {"c": 2.5},
        }
    }
    with pytest.raises(FormatError) as raised:
        parse_config(b"a = 1\nb = ${missing}\n", "bad.hocon")
    assert raised.value.line == 2
    with pytest.raises(FormatError) as raised:
        parse_config(b'a = 1\ninclude file("/etc/hostname")\n', "inc.hocon")
    assert raised.value.line == 2 and "include" in str(raised.value)
    with pytest.raises(FormatError):
        parse_config(b"a = {\n", "open.hocon")


def test_edn(policy_test):
    # "Can parse edn files": exit 1 (:env :production with :log :debug)
    run = _v0(policy_test, "-p", f"{EX}/edn/policy", f"{EX}/edn/sample_config.edn")
    assert run.code == 1
    assert run.lines == [
        (
            f"FAIL - {EX}/edn/sample_config.edn - main - "
            "Applications in the production environment should have error only logging"
        ),
        "2 tests, 1 passed, 0 warnings, 1 failure, 0 exceptions",
    ]


def test_edn_shape_is_cleanup_map_values():
    doc = parse_config((CONFTEST / EX / "edn/sample_config.edn").read_bytes(), "x.edn")
    assert doc[":db"][":port"] == "5432"  # every scalar as Go's %v text
    assert doc[":myapp"][":features"] == {":admin-panel": "true", ":keyboard-shortcuts": "true"}  # a set
    assert doc[":myapp"][":foo"][":api-keys"] == ["key1", "key2"]
    assert doc[":myapp"][":foo"][":recheck-frequency"] == "#duration 20m"  # an unknown tag: edn.Tag's text
    assert doc[":myapp"][":forever-date"] == "2032-01-01 12:20:50.52 +0000 UTC"  # time.Time's %v
    assert parse_config(rb"[1.5 1e21 1e20 1e-5 nil true sym \a {1 [2 3]} (4) 5N]", "v.edn") == [
        "1.5",
        "1e+21",
        "100000000000000000000",
        "1e-05",
        "<nil>",
        "true",
        "sym",
        "97",
        {"1": ["2", "3"]},
        ["4"],
        "5",
    ]
    with pytest.raises(FormatError) as raised:
        parse_config(b"{:a 1 }}", "bad.edn")
    assert raised.value.source == "bad.edn" and raised.value.line == 1


def test_jsonnet(policy_test):
    # "Can parse jsonnet files": exit 1, "Concat array should be less than 3"
    run = _v0(policy_test, "-p", f"{EX}/jsonnet/policy", f"{EX}/jsonnet/arith.jsonnet")
    assert run.code == 1
    assert run.lines == [
        f"FAIL - {EX}/jsonnet/arith.jsonnet - main - Concat array should be less than 3",
        "2 tests, 1 passed, 0 warnings, 1 failure, 0 exceptions",
    ]


def test_jsonnet_evaluated_without_imports_or_environment():
    doc = parse_config(
        b"local x = 2;\n{ a: x * 3, s: 'v=%d' % self.a, l: [i for i in std.range(1, 3)] }", "a.jsonnet"
    )
    assert doc == {"a": 6, "s": "v=6", "l": [1, 2, 3]}
    with pytest.raises(FormatError) as raised:
        parse_config(b'{\n  a: import "/etc/hostname",\n}\n', "imp.jsonnet")
    assert "imports are not read" in str(raised.value) and raised.value.line == 2
    with pytest.raises(FormatError) as raised:
        parse_config(b'{\n  a: std.extVar("HOME"),\n}\n', "ext.jsonnet")
    assert raised.value.line == 2
    with pytest.raises(FormatError) as raised:
        parse_config(b"{\n  a: 1,\n  b: }\n", "bad.jsonnet")
    assert raised.value.line == 3


def test_jsonnet_runaway_evaluation_is_bounded(monkeypatch):
    from verification_pipeline.policy import inputs

    monkeypatch.setattr(inputs, "_JSONNET_SECONDS", 3)
    monkeypatch.setattr(inputs, "_JSONNET_MEMORY_BYTES", 256 << 20)
    with pytest.raises(FormatError) as raised:  # ~10 GB of strings if it were let run
        parse_config(b'std.length(std.makeArray(100000000, function(i) std.repeat("x", 100)))', "big.jsonnet")
    assert raised.value.source == "big.jsonnet"


def test_cyclonedx(policy_test):
    # "Can test cyclonedx against policy": exit 0 (the component's version is the expected digest)
    run = _v0(
        policy_test,
        "--policy",
        f"{EX}/cyclonedx/policy/",
        f"{EX}/cyclonedx/cyclonedx.json",
        "--parser",
        "cyclonedx",
    )
    assert run.code == 0 and run.lines == ["1 test, 1 passed, 0 warnings, 0 failures, 0 exceptions"]
    # conftest's XML branch re-encodes cyclonedx-go's structs: not reproduced, so refused by name
    xml = _v0(
        policy_test,
        "--policy",
        f"{EX}/cyclonedx/policy/",
        f"{EX}/cyclonedx/cyclonedx.xml",
        "--parser",
        "cyclonedx",
    )
    assert xml.code == 2 and "CycloneDX XML BOM is not read here" in xml.err


CYCLONEDX_V1 = """package main

import rego.v1

deny contains msg if {
\tinput.metadata.component.version != "sha256:d7ec60cf8390612b360c857688b383068b580d9a6ab78417c9493170ad3f1616"
\tmsg := sprintf(
\t\t"current SHA256 %s is not equal to expected SHA256 %s",
\t\t[input.metadata.component.version, "sha256:d7ec60cf8390612b360c857688b383068b580d9a6ab78417c9493170ad3f1616"],
\t)
}
"""


def test_cyclonedx_changed_digest_fails(policy_test, tmp_path):
    bom = (CONFTEST / EX / "cyclonedx/cyclonedx.json").read_text()
    edited = tmp_path / "bom.cyclonedx"  # conftest's choice by extension
    edited.write_text(bom.replace("sha256:d7ec60cf", "sha256:00ec60cf"))
    # conftest's policy binds the expected digest to a variable before sprintf: the rego-cpp 1.5.2 defect
    # (unescaped quotes, policy/README.md) refused by name once the rule fires; the literal passed directly works
    refused = _v0(policy_test, "--policy", f"{EX}/cyclonedx/policy/", str(edited))
    assert refused.code == 2 and "rego-cpp 1.5.2 defect" in refused.err
    policy = tmp_path / "digest.rego"
    policy.write_text(CYCLONEDX_V1)
    run = policy_test("--policy", str(policy), str(edited))
    assert run.code == 1
    assert (
        "current SHA256 sha256:00ec60cf8390612b360c857688b383068b580d9a6ab78417c9493170ad3f1616 is not equal to "
        "expected SHA256 sha256:d7ec60cf8390612b360c857688b383068b580d9a6ab78417c9493170ad3f1616" in run.out
    )
    assert (
        policy_test("--policy", str(policy), f"{EX}/cyclonedx/cyclonedx.json", "--parser", "cyclonedx").code
        == 0
    )
    with pytest.raises(FormatError):
        parse_config(b'{"bomFormat": "SPDX"}', "x.cyclonedx")


def test_spdx(policy_test, tmp_path):
    # "Can validate SPDX file": exit 0, 1 test. conftest's policy reads input.CreationInfo.DataLicense, which
    # tools-golang's JSON never has (it is `dataLicense`), so it passes whatever the license: so do we.
    run = _v0(policy_test, "-p", f"{EX}/spdx/policy", f"{EX}/spdx/sbom.spdx")
    assert run.code == 0 and run.lines == ["1 test, 1 passed, 0 warnings, 0 failures, 0 exceptions"]
    doc = parse_config((CONFTEST / EX / "spdx/sbom.spdx").read_bytes(), "sbom.spdx")
    # parser/spdx/spdx_test.go: dataLicense at the top; tools-golang converts every document to 2.3
    assert doc["dataLicense"] == "conftest-demo" and doc["spdxVersion"] == "SPDX-2.3"
    assert doc["creationInfo"]["creators"][0] == "Person: Steve Winslow (steve@swinslow.net)"
    policy = tmp_path / "license.rego"
    policy.write_text(
        'package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tinput.dataLicense != "CC0-1.0"\n'
        '\tmsg := sprintf("DataLicense should be CC0-1.0, found %s", [input.dataLicense])\n}\n'
    )
    denied = policy_test("-p", str(policy), f"{EX}/spdx/sbom.spdx")
    assert denied.code == 1 and "DataLicense should be CC0-1.0, found conftest-demo" in denied.out
    with pytest.raises(FormatError) as raised:
        parse_config(b"SPDXVersion: SPDX-2.2\nnot a tag line\n", "bad.spdx")
    assert raised.value.line == 2


JSONC = b"""// settings, as VS Code writes them
{
  /* a block
     comment */
  "url": "https://example.org//path", // a // inside a string is text
  "glob": "src/**/*.ts",
  "hash": "#not-a-comment",  # muzzammil's reader also takes # comments
  "quote": "say \\"//hi\\"",
  "list": [1, 2, 3,],
  "nested": {"a": null,},
}
"""


def test_jsonc(policy_test, tmp_path):
    # conftest v0.57.0 has no JSONC example: our own file, and a policy on it
    assert parse_config(JSONC, "settings.jsonc") == {
        "url": "https://example.org//path",
        "glob": "src/**/*.ts",
        "hash": "#not-a-comment",
        "quote": 'say "//hi"',
        "list": [1, 2, 3],
        "nested": {"a": None},
    }
    settings = tmp_path / "settings.jsonc"
    settings.write_bytes(JSONC)
    policy = tmp_path / "p.rego"
    policy.write_text(
        'package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tstartswith(input.url, "https://")\n'
        '\tmsg := sprintf("url %s is allowed", [input.url])\n}\n'
    )
    run = policy_test("-p", str(policy), str(settings))
    assert run.code == 1 and "url https://example.org//path is allowed" in run.out
    with pytest.raises(FormatError) as raised:
        parse_config(b'{\n  "a": 1 /* never closed\n}', "open.jsonc")
    assert raised.value.line == 2
    with pytest.raises(FormatError) as raised:
        parse_config(b'{\n  // c\n  "a": 1\n  "b": 2\n}', "bad.jsonc")
    assert raised.value.line == 4  # comments kept as blanks: the line is the source's
    for not_json in (b"[,]", b'{"a": 1,,}', b"{,}"):
        with pytest.raises(FormatError):
            parse_config(not_json, "commas.jsonc")


@pytest.mark.parametrize(
    ("ignore_file", "message"),
    [
        ("dockerignore/.dockerignore", ".git directories should be ignored"),
        ("gitignore/.gitignore", "id_rsa files should be ignored"),
    ],
)
def test_ignore_files(policy_test, ignore_file, message):
    # "Can parse .dockerignore files" / "Can parse .gitignore files": exit 1 with these messages
    folder = ignore_file.split("/")[0]
    run = _v0(policy_test, "-p", f"{EX}/ignore/{folder}/policy", f"{EX}/ignore/{ignore_file}")
    assert run.code == 1
    assert run.lines == [
        f"FAIL - {EX}/ignore/{ignore_file} - main - {message}",
        "1 test, 0 passed, 0 warnings, 1 failure, 0 exceptions",
    ]


def test_ignore_shape_is_go_ignores():
    (entries,) = parse_config((CONFTEST / EX / "ignore/gitignore/.gitignore").read_bytes(), ".gitignore")
    assert entries == [
        {"Kind": "Path", "Value": "foo", "Original": "foo"},
        {"Kind": "NegatedPath", "Value": "bar", "Original": "!bar"},
        {"Kind": "Empty", "Value": "", "Original": ""},
        {"Kind": "Comment", "Value": "Baz", "Original": "# Baz"},
        {"Kind": "Path", "Value": "qux ", "Original": "qux\\ "},  # an escaped trailing space is kept
    ]
    (entries,) = parse_config(b"a\\\\b\\c  \n   \n", "x.dockerignore")
    assert entries[0] == {"Kind": "Path", "Value": "a\\bc", "Original": "a\\\\b\\c  "}
    assert entries[1] == {"Kind": "Empty", "Value": "   ", "Original": "   "}


@pytest.mark.parametrize(
    ("name", "parser"),
    [
        ("settings.jsonc", "jsonc"),
        ("app.PROPERTIES", "properties"),
        ("play.hocon", "hocon"),
        ("config.edn", "edn"),
        ("arith.jsonnet", "jsonnet"),
        ("bom.cyclonedx", "cyclonedx"),
        ("sbom.spdx", "spdx"),
        ("a/.gitignore", "ignore"),
        ("web.dockerignore", "ignore"),
    ],
)
def test_parser_chosen_by_extension_as_conftest_does(name, parser):
    assert parser_for(name) == parser


def test_unknown_parser_name_refused(policy_test):
    run = policy_test("-p", f"{EX}/edn/policy", "--parser", "cue", f"{EX}/edn/sample_config.edn")
    assert run.code == 2 and "--parser 'cue'" in run.err
