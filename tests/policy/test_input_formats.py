"""INI, dotenv, XML and Dockerfile inputs in the shapes conftest's parsers give, checked on conftest
v0.57.0's examples (tests/fixtures/conftest/v0.57.0, Rego v0) and its acceptance expectations."""

from __future__ import annotations

from pathlib import Path

import pytest

from verification_pipeline.errors import FormatError
from verification_pipeline.policy.inputs import parse_config, parser_for

EX = "v0.57.0/examples"


def _v0(policy_test, *args: str):
    return policy_test("--rego-version", "v0", "--no-color", *args)


@pytest.mark.parametrize("parser", [(), ("--parser", "ini")])
def test_ini_grafana(policy_test, parser):
    # "Can parse ini files" + "Can parse stdin with parser flag" (the --parser half; no stdin here)
    run = _v0(policy_test, "-p", f"{EX}/ini/policy", *parser, f"{EX}/ini/grafana.ini")
    assert run.code == 1
    assert run.lines == [
        f"FAIL - {EX}/ini/grafana.ini - main - Users should verify their e-mail address",
        "6 tests, 5 passed, 0 warnings, 1 failure, 0 exceptions",
    ]
    assert "Basic auth should be enabled" not in run.out  # input["auth.basic"].enabled = true: a boolean


def test_ini_values_typed_as_go_ini_and_strconv_do():
    text = b"top = dropped\n[s]\nport = 3000\nratio = 2.5\non = true\noff = F\none = 1\nword = hello ; note\nurl = %(x)s\n"
    assert parse_config(text, "a.ini") == {
        "s": {"port": 3000, "ratio": 2.5, "on": True, "off": False, "one": 1, "word": "hello", "url": "%(x)s"}
    }
    with pytest.raises(FormatError) as raised:
        parse_config(b"[s]\nno value here\n", "bad.ini")
    assert raised.value.source == "bad.ini"


def test_dotenv(policy_test, tmp_path):
    # "Can parse .env files"
    run = _v0(policy_test, "-p", f"{EX}/dotenv/policy/", f"{EX}/dotenv/sample.env")
    assert run.code == 0 and "2 tests, 2 passed, 0 warnings, 0 failures" in run.out
    root = tmp_path / ".env.prod"  # conftest's names: .env, .env.*, *.env
    root.write_text("APP_NAME=\nMYSQL_USER=root\nHOME_COPY=${HOME}\n")
    failed = _v0(policy_test, "-p", f"{EX}/dotenv/policy/", str(root))
    assert failed.code == 1
    assert "APP_NAME must be set" in failed.out and "MYSQL_USER should not be root" in failed.out
    # the process's environment is never read into a policy's input
    assert parse_config(root.read_bytes(), str(root))["HOME_COPY"] == "${HOME}"
    # gotenv.StrictParse refuses a line that is not KEY=value; so do we, naming it
    with pytest.raises(FormatError) as raised:
        parse_config(b"A=1\nthis is not a binding\n", "bad.env")
    assert raised.value.line == 2


DOCKER_V1 = """package main

import rego.v1

denylist := ["openjdk"]

deny contains msg if {
\tsome instruction in input
\tinstruction.Cmd == "from"
\tsome image in instruction.Value
\tsome denied in denylist
\tcontains(image, denied)
\tmsg := sprintf("unallowed image found %v", [instruction.Value])
}

commands := ["apk", "apt", "pip", "curl", "wget"]

deny contains msg if {
\tsome instruction in input
\tinstruction.Cmd == "run"
\tsome line in instruction.Value
\tsome denied in commands
\tcontains(line, denied)
\tmsg := sprintf("unallowed commands found %v", [instruction.Value])
}
"""


def test_dockerfile(policy_test, tmp_path):
    # "Can parse docker files" / "Test command with all namespaces flag": conftest's own policies put `[_]` in a
    # call's argument, which rego-cpp 1.5.2 cannot compile (refused naming the line); the same rules with
    # `some ... in` give conftest's messages from our Dockerfile shape.
    refused = _v0(policy_test, "-p", f"{EX}/docker/policy", f"{EX}/docker/Dockerfile", "--all-namespaces")
    assert refused.code == 2 and "Invalid bracket argument" in refused.err
    policy = tmp_path / "docker.rego"
    policy.write_text(DOCKER_V1)
    run = policy_test("-p", str(policy), f"{EX}/docker/Dockerfile")
    assert run.code == 1
    assert 'unallowed image found ["openjdk:8-jdk-alpine"]' in run.out
    assert (
        'unallowed commands found ["apk add --no-cache python3 python3-dev build-base && pip3 install awscli==1.18.1"]'
        in run.out
    )


def test_dockerfile_shape_stages_flags_comments():
    text = b'# syntax=docker/dockerfile:1.4\nFROM golang AS build\n# build it\nRUN go build\n\nFROM alpine\nCOPY --link --from=build /out /bin/app\nONBUILD RUN echo x\nCMD ["app"]\n'
    (commands,) = parse_config(text, "dev.Dockerfile")
    assert [c["Cmd"] for c in commands] == [
        "comment",
        "from",
        "comment",
        "run",
        "from",
        "copy",
        "onbuild",
        "cmd",
    ]
    assert commands[0]["Value"] == ["syntax=docker/dockerfile:1.4"]
    assert commands[3] == {
        "Cmd": "run",
        "SubCmd": "",
        "JSON": False,
        "Flags": [],
        "Value": ["go build"],
        "Stage": 0,
    }
    assert commands[5]["Flags"] == ["--link", "--from=build"] and commands[5]["Stage"] == 1
    assert commands[6]["SubCmd"] == "run" and commands[6]["Value"] == ["echo x"]
    assert commands[7]["JSON"] is True and commands[7]["Value"] == ["app"]
    with pytest.raises(FormatError):
        parse_config(b"FROM a\nRUN <<EOF\n", "Dockerfile")


XML_V1 = """package main

import rego.v1

deny contains msg if {
\tsome plugin in input.project.build.plugins.plugin
\tplugin.artifactId == "maven-compiler-plugin"
\tplugin.version != "3.6.1"
\tmsg := sprintf("in %v \\n--- maven-plugin must have the version: %s \\n", [plugin.artifactId, "3.6.1"])
}
"""


def test_xml(policy_test, tmp_path):
    # "Can parse xml files". conftest's policy binds the version to a variable first, which rego-cpp 1.5.2
    # prints with unescaped quotes (not JSON): refused by name, exit 2, never misjudged.
    refused = _v0(policy_test, "-p", f"{EX}/xml/policy", f"{EX}/xml/pom.xml")
    assert refused.code == 2 and "rego-cpp 1.5.2 defect" in refused.err
    policy = tmp_path / "xml.rego"
    policy.write_text(XML_V1)
    run = policy_test("-p", str(policy), f"{EX}/xml/pom.xml")
    assert run.code == 1 and "--- maven-plugin must have the version: 3.6.1" in run.out


def test_xml_shape_and_no_entities():
    doc = parse_config(b'<a x="1"><b>t</b><b>u</b><c y="2">text</c><d/></a>', "a.xml")
    assert doc == {"a": {"-x": "1", "b": ["t", "u"], "c": {"-y": "2", "#content": "text"}, "d": None}}
    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "xxxxxxxx">]><r>&e;&e;</r>'
    with pytest.raises(FormatError):
        parse_config(bomb, "bomb.xml")
    with pytest.raises(FormatError):
        parse_config(b"<a>" * 5000 + b"</a>" * 5000, "deep.xml")


@pytest.mark.parametrize(
    ("name", "parser"),
    [
        ("Dockerfile", "dockerfile"),
        ("x/Dockerfile.debug", "dockerfile"),
        ("dev.dockerfile", "dockerfile"),
        (".env", "dotenv"),
        ("a/.env.prod", "dotenv"),
        ("prod.env", "dotenv"),
        ("grafana.INI", "ini"),
        ("pom.xml", "xml"),
        ("main.tf", "hcl2"),
        ("prod.tfvars", "hcl2"),
        ("a.HCL", "hcl2"),
    ],
)
def test_parser_chosen_by_name_as_conftest_does(name, parser):
    assert parser_for(name) == parser


def test_a_format_without_parser_is_refused_by_name(policy_test, tmp_path):
    cue = tmp_path / "deployment.cue"
    cue.write_text("x: 1\n")
    run = policy_test("-p", f"{EX}/kubernetes/policy", "--rego-version", "v0", str(cue))
    assert run.code == 2 and "no parser for .cue files" in run.err


def test_hcl2_terraform(policy_test, tmp_path):
    # "Can parse hcl files" (conftest at 6a3fd60, Rego v1: tests/fixtures/conftest/examples/hcl2). Its
    # `contains(rule.cidr_blocks[_], ...)` is the `[_]`-in-a-call form rego-cpp 1.5.2 cannot compile (exit 2
    # naming the line); with that one line written `some block in ...` every rule judges our HCL2 shape.
    refused = policy_test("-p", "examples/hcl2/policy", "examples/hcl2/terraform.tf")
    assert refused.code == 2 and "examples/hcl2/policy/deny.rego:19:" in refused.err
    source = (Path("examples/hcl2/policy/deny.rego")).read_text()
    assert '\tcontains(rule.cidr_blocks[_], "0.0.0.0/0")' in source
    policy = tmp_path / "deny.rego"
    policy.write_text(
        source.replace(
            '\tcontains(rule.cidr_blocks[_], "0.0.0.0/0")',
            '\tsome block in rule.cidr_blocks\n\tcontains(block, "0.0.0.0/0")',
        )
    )
    run = policy_test("-p", str(policy), "examples/hcl2/terraform.tf")
    assert run.code == 1
    assert "ALB `my-alb-listener` is using HTTP rather than HTTPS" in run.out  # conftest's expectation
    assert "ASG `my-rule` defines a fully open ingress" in run.out
    assert "Azure disk `source` is not encrypted" in run.out  # encryption_settings is a list of bodies
    # the tags rule: every AWS resource but the tagged bucket (rego-cpp 1.5.2 does not format %q: see README)
    tags = [line for line in run.lines if "missing required tags" in line]
    assert [line.rsplit(" ", 1)[1] for line in tags] == [
        "aws_alb_listener",
        "aws_db_security_group",
        "aws_security_group_rule",
    ]


HCL = """
resource "aws_elastic_beanstalk_environment" "example" {
  name        = "test_environment"
  application = "testing"

  setting {
    namespace = "aws:autoscaling:asg"
    name      = "MinSize"
    value     = "1"
  }

  dynamic "setting" {
    for_each = data.consul_key_prefix.environment.var
    content {
      simple = "${4 - 2}"
      namespace = "aws:elasticbeanstalk:application:environment"
      name      = setting.key
    }
  }
}
provider "aws" {
  version = "=2.46.0"
  alias   = "one"
}
provider "aws" {
  version = "=2.47.0"
  alias   = "two"
}
"""


def test_hcl2_shape_is_hcl2jsons():
    # conftest's parser/hcl2/convert_test.go (simple-resources, multiple-providers), the cases our rendering
    # shares with hcl2json (expressions and template directives are python-hcl2's text, heredocs lose their
    # last newline: inputs.py)
    assert parse_config(HCL.encode(), "main.tf") == {
        "resource": {
            "aws_elastic_beanstalk_environment": {
                "example": [
                    {
                        "name": "test_environment",
                        "application": "testing",
                        "setting": [{"name": "MinSize", "namespace": "aws:autoscaling:asg", "value": "1"}],
                        "dynamic": {
                            "setting": [
                                {
                                    "for_each": "${data.consul_key_prefix.environment.var}",
                                    "content": [
                                        {
                                            "name": "${setting.key}",
                                            "namespace": "aws:elasticbeanstalk:application:environment",
                                            "simple": "${4 - 2}",
                                        }
                                    ],
                                }
                            ]
                        },
                    }
                ]
            }
        },
        "provider": {"aws": [{"alias": "one", "version": "=2.46.0"}, {"alias": "two", "version": "=2.47.0"}]},
    }
    with pytest.raises(FormatError) as raised:
        parse_config(b'resource "a" {\n  x = \n}\n', "bad.tf")
    assert raised.value.line == 2
