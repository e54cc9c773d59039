"""No credential is written into any file under infra/: every one arrives by reference.

Looks for AWS access key ids, AWS secret keys, PEM private keys, JWTs and password/token/secret
literals. A value counts as a reference when it is empty, a boolean, a YAML/JSON block that
follows on the next lines (`password:` then `env: DAGSTER_PG_PASSWORD`), or built from an
expansion (`$VAR`, `"$(cat file)"`, a GitHub `${{ secrets.X }}` expression), or the path
of a key file (`keys/evidence-signing.key`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.files import INFRA

AWS_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
AWS_SECRET_VALUE = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
# A key that *ends* in one of these words holds a secret; `secretName`, `envSecrets`,
# `passwordSecret` and the like name where a secret lives and are fine.
SECRET_ASSIGNMENT = re.compile(
    r"""(?ix) (?P<key>[\w.-]*(?:password|passwd|token|jwt|secret|secret_key|secret_access_key|signing_key|private_key))
    ["']? \s* [:=] \s* (?P<value>.*?) \s* (?:\#.*)? $"""
)
REFERENCE = re.compile(
    r"""(?x) ^ (?: | "" | '' | null | ~ | true | false | [{\[].* | ,
    | .*\$.*
    | [\w./-]+\.(?:key|pem) ) ,? $"""
)


def infra_files() -> list[Path]:
    return sorted(p for p in INFRA.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def findings(path: Path) -> list[str]:
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        where = f"{path.name}:{number}"
        for name, pattern in (
            ("AWS access key id", AWS_ACCESS_KEY_ID),
            ("private key", PRIVATE_KEY),
            ("JWT", JWT),
        ):
            if pattern.search(line):
                found.append(f"{where}: {name}")
        match = SECRET_ASSIGNMENT.search(line)
        if match and not REFERENCE.match(match.group("value")):
            found.append(f"{where}: literal value for {match.group('key')}")
        if re.search(r"(?i)secret_access_key|aws_secret", line) and AWS_SECRET_VALUE.search(line):
            found.append(f"{where}: AWS secret access key")
    return found


def test_there_are_files_to_scan() -> None:
    names = {p.relative_to(INFRA).as_posix() for p in infra_files()}
    assert {"Dockerfile", "dagster.yaml", "compose.yaml", "helm/values.yaml", "ci/verify-rc.yml"} <= names


@pytest.mark.parametrize("path", infra_files(), ids=lambda p: p.relative_to(INFRA).as_posix())
def test_no_secret_in(path: Path) -> None:
    assert findings(path) == []


def test_the_scanner_finds_planted_secrets(tmp_path: Path) -> None:
    # Built from pieces so no scanner mistakes this test for a leak.
    planted = {
        "aws_id": "key_id: " + "AKIA" + "ABCDEFGHIJKLMNOP",
        "pem": "-----BEGIN " + "OPENSSH PRIVATE KEY-----",
        "jwt": "auth: " + "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiJ0ZXN0In0" + ".c2lnbmF0dXJl",
        "yaml_password": "  postgresqlPassword: " + "hunter2hunter2",
        "env_password": "DAGSTER_PG_PASSWORD=" + "s3cr3t-value",
        "token": "VP_TARGET_JWT: " + "abc.def.ghi",
        "signing_key": "VP_EVIDENCE_SIGNING_KEY=" + '"MC4CAQAwBQYDK2VwBCIEI"',
        "aws_secret": "AWS_SECRET_ACCESS_KEY=" + "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY12",
    }
    for name, line in planted.items():
        path = tmp_path / f"{name}.txt"
        path.write_text(line + "\n")
        assert findings(path), f"planted {name} not found: {line!r}"


def test_references_are_not_findings(tmp_path: Path) -> None:
    path = tmp_path / "references.yaml"
    path.write_text(
        "password:\n  env: DAGSTER_PG_PASSWORD\n"
        'postgresqlPassword: ""\n'
        "JWT: ${{ secrets.VP_TARGET_JWT }}\n"
        "DAGSTER_PG_PASSWORD=\n"
        "secretName: verification-pipeline-signing-key\n"
        'kubectl create secret generic x --from-literal=postgresql-password="$PG_PASSWORD"\n'
    )
    assert findings(path) == []
