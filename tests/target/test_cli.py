"""`verification-pipeline target token|serve`, through the sub-app the root CLI mounts."""

from __future__ import annotations

import jwt
import pytest
from typer.testing import CliRunner

from verification_pipeline.cli.target import app
from verification_pipeline.errors import ConfigError, UsageError

runner = CliRunner()


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "jwt.secret"
    path.write_text("q" * 48 + "\n")
    return path


def test_token_prints_a_jwt_for_the_tenant_and_scopes(secret_file):
    result = runner.invoke(
        app,
        ["token", "--secret-file", str(secret_file), "--tenant", "tenant-7", "--scopes", "coherence:read"],
    )
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.stdout.strip(), b"q" * 48, algorithms=["HS256"])
    assert (claims["tenant"], claims["scopes"]) == ("tenant-7", ["coherence:read"])
    assert claims["exp"] - claims["iat"] == 3600


def test_token_refuses_a_short_secret(tmp_path):
    short = tmp_path / "short"
    short.write_text("tooshort")
    result = runner.invoke(app, ["token", "--secret-file", str(short)])
    assert isinstance(result.exception, ConfigError)
    assert "the JWT secret is 8 bytes; HS256 needs at least 32" in str(result.exception)
    assert "tooshort" not in str(result.exception)


@pytest.mark.parametrize("ttl", ["0", "-5", "99999999999999999999999", str(366 * 24 * 3600 + 1)])
def test_token_refuses_a_ttl_that_is_not_positive_or_beyond_a_year(secret_file, ttl):
    result = runner.invoke(app, ["token", "--secret-file", str(secret_file), "--ttl", ttl])
    assert result.exit_code == 2 and "--ttl" in result.output


def test_token_refuses_scopes_that_name_no_scope(secret_file):
    result = runner.invoke(app, ["token", "--secret-file", str(secret_file), "--scopes", ",, ,"])
    assert isinstance(result.exception, UsageError) and "names no scope" in str(result.exception)


def test_serve_names_a_missing_secret_file(tmp_path):
    missing = tmp_path / "nope"
    result = runner.invoke(app, ["serve", "--jwt-secret-file", str(missing)])
    assert isinstance(result.exception, ConfigError)
    assert str(missing) in str(result.exception)


def test_serve_reports_a_taken_port(secret_file, target):
    port = target.base_url.rsplit(":", 1)[1]
    result = runner.invoke(app, ["serve", "--jwt-secret-file", str(secret_file), "--port", port])
    assert "cannot listen on 127.0.0.1" in str(result.exception)
    assert "--port 0" in str(result.exception)
