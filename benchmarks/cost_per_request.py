"""Benchmark: the reference target's cost per 1,000 requests under the seed's k6 profile, read as
the pipeline reads it (its /metrics, and PromQL through a real Prometheus scraping it), with the
`cpu_burn_ms` fault in the same run as the reference the cost gate must tell apart.

Three phases on one target: without fault, without fault again (the run-to-run spread the
allowed rise must cover), then with `--burn-ms` of CPU per request (the fault the tests use);
each runs the seed's `graphql_read.js` (50 VUs) and `graphql_write.js` (20 VUs) for
`--duration`, inside `cost.sampling.sample_resources`, and the later ones are judged against
the first by `cost.document` as `cost_per_request` judges an RC against its baseline.

    uv run python benchmarks/cost_per_request.py [--duration 30s] [--burn-ms 2]
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import yaml
from seed_clients import seed_clients
from target_load import SEED_READ_VUS, SEED_WRITE_VUS, k6, seconds
from target_process import start_target, token

from verification_pipeline.cost.document import baseline_block, cost_document, policy_of
from verification_pipeline.cost.sampling import sample_resources
from verification_pipeline.slo.spec import default_slo_spec

MIB = 1 << 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def prometheus(work: Path, target: str) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if not binary:
        sys.exit("prometheus not found: scripts/system-deps.sh installs it")
    config = {"global": {"scrape_interval": "1s"},
              "scrape_configs": [{"job_name": "coherence", "static_configs": [{"targets": [target]}]}]}  # fmt: skip
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    base = f"http://127.0.0.1:{_free_port()}"
    process = subprocess.Popen(
        [binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'tsdb'}",
         f"--web.listen-address={base.removeprefix('http://')}"],
        stdout=(work / "prometheus.log").open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            # starting, Prometheus answers 503 with a text body: not JSON yet
            with contextlib.suppress(httpx.HTTPError, ValueError):
                answer = httpx.get(f"{base}/api/v1/query", params={"query": "up == 1"}, timeout=2).json()
                if answer["data"]["result"]:
                    break
            if time.monotonic() > deadline:
                sys.exit(
                    "prometheus did not scrape the target:\n" + (work / "prometheus.log").read_text()[-2000:]
                )
            time.sleep(0.25)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="30s", help="k6 duration per phase")
    parser.add_argument("--burn-ms", type=float, default=2.0, help="the fault phase's CPU ms per request")
    args = parser.parse_args()
    policy = default_slo_spec().cost.model_copy(update={"promql_settle_s": 2.0})
    clients = seed_clients()
    with tempfile.TemporaryDirectory(prefix="cost-per-request-") as tmp:
        work = Path(tmp)
        admin = secrets.token_hex(16)
        (work / "admin.token").write_text(admin)
        target = start_target(work, ["--admin-token-file", str(work / "admin.token")])
        info, secret = target.info, target.secret
        try:
            with prometheus(work, info["base_url"].removeprefix("http://")) as server:
                documents = {}
                phases = (("no fault", {}), ("no fault, again", {}),
                          (f"cpu_burn_ms={args.burn_ms:g}", {"cpu_burn_ms": args.burn_ms}))  # fmt: skip
                for phase, faults in phases:
                    httpx.post(f"{info['base_url']}/admin/faults", json=faults or {"cpu_burn_ms": None},
                               headers={"X-Admin-Token": admin}, timeout=10).raise_for_status()  # fmt: skip
                    load_token = token(secret, "tenant-123")
                    with sample_resources(
                        "slo_load", policy, metrics_url=f"{info['base_url']}/metrics", prometheus_url=server
                    ) as sampler:
                        runs = [
                            k6(clients / "graphql_read.js", SEED_READ_VUS, args.duration, info["graphql_url"],
                               load_token, work / f"read-{len(documents)}.json"),
                            k6(clients / "graphql_write.js", SEED_WRITE_VUS, args.duration, info["graphql_url"],
                               load_token, work / f"write-{len(documents)}.json"),
                        ]  # fmt: skip
                        for run in runs:
                            run.communicate(timeout=seconds(args.duration) + 120)
                    baseline = baseline_block("no fault", "-", documents["no fault"]) if documents else None
                    documents[phase] = cost_document(
                        sampler.rows(),
                        policy=policy_of(policy),
                        notes={"slo_load": sampler.notes},
                        baseline=baseline,
                    )
        finally:
            target.stop()
    print(
        "| phase | source | requests | CPU s | CPU s per 1,000 requests | peak RSS (MiB) | cache hit ratio | limiter refusals |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for phase, document in documents.items():
        for source, f in document["phases"]["slo_load"]["sources"].items():
            print(f"| {phase} | {source} | {f['requests']:,.0f} | {f['cpu_seconds']:.2f} | "
                  f"{f['cpu_seconds_per_1000_requests']:.3f} | {f['peak_resident_memory_bytes'] / MIB:.0f} | "
                  f"{f['cache_hit_ratio']:.4f} | {f['limiter_refused']:,.0f} |")  # fmt: skip
    for phase, document in list(documents.items())[1:]:
        print(
            f"\ncost gate of '{phase}' against the first no-fault phase: {document['verdict']}: {document['reason']}"
        )


if __name__ == "__main__":
    main()
