"""The compatibility contract: the seed's own clients, unmodified, pass against the target."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path


def _k6(k6_binary: Path, script: Path, graphql_url: str, jwt: str, summary: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(k6_binary), "run", "--quiet", "--no-usage-report", "--address", "127.0.0.1:0",
         "--vus", "10", "--duration", "10s", "-e", f"GRAPHQL_URL={graphql_url}", "-e", f"JWT={jwt}",
         f"--summary-export={summary}", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def test_seed_k6_read_and_write_scripts_pass_every_check(target, seed_clients, k6_binary, tmp_path):
    jwt = target.token()
    runs = {
        name: _k6(
            k6_binary, seed_clients / f"graphql_{name}.js", target.graphql_url, jwt, tmp_path / f"{name}.json"
        )
        for name in ("read", "write")
    }
    for name, run in runs.items():
        output, _ = run.communicate(timeout=120)
        assert run.returncode == 0, f"k6 {name}: {output}"
    for name in runs:
        metrics = json.loads((tmp_path / f"{name}.json").read_text())["metrics"]
        checks = metrics["checks"]
        assert checks["fails"] == 0, f"{name}: {checks}"
        assert checks["passes"] >= 500, f"{name}: only {checks['passes']} iterations in 10 s"
        assert metrics["http_req_failed"]["value"] == 0


def test_seed_fanout_script_exits_0_with_p95_within_slo(target, seed_clients, node_modules, tmp_path):
    shutil.copy(seed_clients / "subscription_fanout.js", tmp_path)
    env = {
        **os.environ,
        "NODE_PATH": str(node_modules),
        "GRAPHQL_URL": target.graphql_url,
        "JWT": target.token(),
    }
    result = subprocess.run(
        ["node", "subscription_fanout.js"],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    fanout = json.loads((tmp_path / "fanout.json").read_text())
    assert fanout["count"] >= 200
    assert fanout["p95_ms"] <= 250, fanout
