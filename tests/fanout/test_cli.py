"""`fanout run`: writes the seed's shape plus ours, exits 1 through GateFailed, never shows the token."""

from __future__ import annotations

import json
import socket

import typer
from typer.testing import CliRunner

from verification_pipeline.cli import fanout
from verification_pipeline.errors import ConfigError, GateFailed, TargetError
from verification_pipeline.fanout.seed_import import import_seed_fanout


def invoke(args: list[str], token: str):
    """`verification-pipeline fanout run ...` on a local root, as the lead mounts the sub-app."""
    root = typer.Typer()
    root.add_typer(fanout.app, name="fanout")
    # the token comes from the environment, as it should in CI, not from argv
    return CliRunner().invoke(root, ["fanout", "run", *args], env={"VP_TARGET_JWT": token})


def test_run_writes_the_seed_shape_plus_our_fields(target, tmp_path):
    out = tmp_path / "fanout.json"
    token = target.token("fanout-cli")
    args = ["--url", target.graphql_url, "--tenant", "fanout-cli", "--subscribers", "3", "--events", "5"]
    result = invoke([*args, "--out", str(out), "--grace-ms", "3000"], token)
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert list(written)[:3] == ["count", "p95_ms", "p99_ms"]
    assert (written["count"], written["delivered"] + written["late"], written["lost"]) == (15, 15, 0)
    assert (written["duplicates"], written["delivery_ratio"], written["subscribers"], written["events"]) == (
        0,
        1.0,
        3,
        5,
    )
    assert written["evidence"] == "raw"
    # a file we wrote can be read back the way a CI-produced seed file is
    assert import_seed_fanout(out.read_bytes(), str(out))["p95_ms"] == written["p95_ms"]
    assert token not in result.output and token not in out.read_text()


def test_t0_echoes_write_the_seed_method_figures(target, tmp_path):
    out = tmp_path / "fanout.json"
    token = target.token("fanout-cli-echoes")
    args = [
        "--url",
        target.graphql_url,
        "--tenant",
        "fanout-cli-echoes",
        "--subscribers",
        "1",
        "--events",
        "6",
    ]
    result = invoke([*args, "--out", str(out), "--t0-echoes"], token)
    assert result.exit_code == 0, result.output
    seed_method = json.loads(out.read_text())["seed_method"]
    assert seed_method["count"] == 6 and seed_method["echoes"] > 0
    assert f"p95 {seed_method['p95_ms']:.3f} ms" in result.output
    refused = invoke([*args, "--out", str(out), "--t0-echoes", "--rate", "20"], token)
    assert isinstance(refused.exception, ConfigError) and refused.exception.exit_code == 2
    assert "[t0_echoes]" in str(refused.exception)


def test_a_breached_gate_is_gate_failed_and_the_evidence_is_still_written(target, tmp_path):
    out = tmp_path / "fanout.json"
    args = ["--url", target.graphql_url, "--tenant", "fanout-cli-gate", "--subscribers", "2", "--events", "3"]
    result = invoke([*args, "--out", str(out), "--max-p95-ms", "0.001"], target.token("fanout-cli-gate"))
    assert isinstance(result.exception, GateFailed)
    assert result.exception.exit_code == 1
    assert "exceeds 0.001 ms" in str(result.exception)
    assert json.loads(out.read_text())["count"] == 6


def test_an_unreachable_target_is_a_target_error_naming_the_url(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{holder.getsockname()[1]}/graphql"
    result = invoke(["--url", url, "--out", str(tmp_path / "fanout.json")], "a.b.c")
    assert isinstance(result.exception, TargetError)
    assert str(result.exception).startswith(url) and "Connection refused" in str(result.exception)
    assert not (tmp_path / "fanout.json").exists()


def test_a_breach_measured_by_a_lagging_probe_is_said_inconclusive(target, tmp_path, monkeypatch):
    """The probe's own loop held up on purpose (each publish blocks it 40 ms): the breached gate
    is reported as no verdict on the target, with the lag, before the breach itself."""
    import time

    from verification_pipeline.fanout import publisher

    real_publish = publisher._publish

    async def blocking_publish(*args, **kwargs):
        time.sleep(0.04)  # noqa: ASYNC251 - blocks the event loop on purpose, as a starved probe would
        return await real_publish(*args, **kwargs)

    monkeypatch.setattr(publisher, "_publish", blocking_publish)
    out = tmp_path / "fanout.json"
    args = ["--url", target.graphql_url, "--tenant", "fanout-cli-lag", "--subscribers", "2", "--events", "20"]
    result = invoke([*args, "--out", str(out), "--max-p95-ms", "0.001"], target.token("fanout-cli-lag"))
    assert isinstance(result.exception, GateFailed) and result.exception.exit_code == 1
    message = str(result.exception)
    assert message.startswith("INCONCLUSIVE, not a verdict on the target: the probe's own event loops lagged")
    assert "exceeds 0.001 ms" in message
    assert json.loads(out.read_text())["loop_lag_p99_ms"] > 20
