"""One verdict everywhere: the asset check, the signed bundle, the release documents, the release
decision and what promotion reads all judge the fan-out delivery ratio by the configured gate, and
all report the baseline comparison's WARN (no earlier RC) without letting it block a PASS.

The case from issue 16: VP_MIN_DELIVERY_RATIO=0.99 and 0.995 measured passed the check while the
signed bundle said FAIL (a gate hard-coded to 1.0). The real assets run in process against a real
SeaweedFS; only the measurements are made up (the load and fan-out assets are replaced by assets
of the same names returning fixed rows), so the delivery ratio is exactly 199 of 200.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from verification_pipeline.definitions import build_definitions
from verification_pipeline.defs.evidence.files import stored_value_metadata
from verification_pipeline.defs.lineage import latest_decision
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.evidence.keys import generate_key_pair, load_public_key_file
from verification_pipeline.evidence.statements import EXTENSION, TEST_RESULT_PREDICATE, ReleaseCandidate
from verification_pipeline.evidence.verify import verify_files
from verification_pipeline.fanout.accounting import DELIVERED, DELIVERY_SCHEMA, LOST
from verification_pipeline.loadtest.ingest import SAMPLE_SCHEMA
from verification_pipeline.records import ServiceBuildRecord
from verification_pipeline.stack.control import DEMO_REPORTS
from verification_pipeline.storage.bundles import read_bundle_uri
from verification_pipeline.storage.s3 import S3Settings

RC = "v24.1.0-rc1"
SBOM = Path(__file__).resolve().parents[1] / "scans" / "fixtures" / "syft" / "alpine.syft.json"
SLOS = """
version: 1
confidence: 0.95
slos:
  - {name: read_latency_p95, metric: quantile, source: read, quantile: 0.95, threshold: 350, unit: ms, min_samples: 100}
  - {name: write_latency_p95, metric: quantile, source: write, quantile: 0.95, threshold: 700, unit: ms, min_samples: 100}
  - {name: error_rate, metric: rate, source: all, threshold: 5, unit: percent, min_samples: 200}
  - {name: fanout_latency_p95, metric: quantile, source: fanout, quantile: 0.95, threshold: 250, unit: ms, min_samples: 50}
  - {name: ingest_latency_p95, metric: quantile, source: ingest, quantile: 0.95, threshold: 500, unit: ms, min_samples: 100}
"""
START = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


def requests(op: str, n: int = 300) -> pl.DataFrame:
    """n successful requests of `op`, 20 ms each, 10 ms apart."""
    return pl.DataFrame(
        {
            "timestamp": [START + dt.timedelta(milliseconds=10 * i) for i in range(n)],
            "op": [op] * n,
            "latency_ms": [20.0] * n,
            "status": [200] * n,
            "ok": [True] * n,
            "failure": [None] * n,
            "scenario": [op] * n,
            "segment": ["0:1"] * n,
            "ingest_ms": [5.0 if op == "write" else None] * n,
        },
        schema=SAMPLE_SCHEMA,
    )


def deliveries(subscribers: int = 4, events: int = 50, lost: int = 1) -> pl.DataFrame:
    """subscribers x events pairs, the last `lost` never delivered: ratio 199/200 by default."""
    rows = []
    for event in range(events):
        for subscriber in range(subscribers):
            gone = event * subscribers + subscriber >= subscribers * events - lost
            published = START + dt.timedelta(milliseconds=20 * event)
            rows.append(
                {
                    "subscriber": subscriber,
                    "event_id": f"e{event}",
                    "seq": event,
                    "published_at": published,
                    "received_at": None if gone else published + dt.timedelta(milliseconds=30),
                    "latency_ms": None if gone else 30.0,
                    "status": LOST if gone else DELIVERED,
                }
            )
    return pl.DataFrame(rows, schema=DELIVERY_SCHEMA)


def measured(name: str, frame: pl.DataFrame, bundle_path: str | None) -> dg.AssetsDefinition:
    """An asset named like the real measuring one, returning fixed rows (and declaring its bundle file)."""

    @dg.asset(name=name, partitions_def=release_candidates, group_name="load")
    def _measured() -> dg.Output[pl.DataFrame]:
        return dg.Output(frame, metadata=stored_value_metadata(bundle_path) if bundle_path else {})

    return _measured


def measured_build() -> dg.AssetsDefinition:
    """`service_build` as if the service had reported the RC's commit (no target runs here)."""

    @dg.asset(name="service_build", partitions_def=release_candidates, group_name="release")
    def _service_build(release_candidate: ReleaseCandidate) -> ServiceBuildRecord:
        commit = release_candidate.commit
        return ServiceBuildRecord(expected_commit=commit, reported_commit=commit, source="test stand-in")

    return _service_build


def verify_rc(
    environ: dict[str, str],
    instance: dg.DagsterInstance,
    selection: list[str] | None = None,
    raw_fanout: str | None = "raw/fanout.parquet",
    run_config: dict | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize the RC's assets (or only `selection`, the rest read from storage)."""
    defs = build_definitions(environ)
    replaced = {"load_samples", "fanout_latencies", "service_build"}
    real = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.node_def.name not in replaced]
    stand_ins = [
        measured("read_load_samples", requests("read"), "raw/read.parquet"),
        measured("write_load_samples", requests("write"), "raw/write.parquet"),
        measured("concurrent_baseline_samples", requests("read", n=0), None),  # no baseline deployment
        measured("fanout_latencies", deliveries(), raw_fanout),
        measured_build(),
    ]
    instance.add_dynamic_partitions(release_candidates.name, [RC])
    return dg.materialize(
        [*real, *stand_ins],
        partition_key=RC,
        instance=instance,
        resources=defs.resources,
        run_config=run_config
        if run_config is not None
        else {"ops": {"sbom": {"config": {"source": "import", "path": str(SBOM)}}}}
        if selection is None
        else {},
        selection=selection,
        raise_on_error=False,
    )


@pytest.fixture
def environ(s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    slos = tmp_path / "slos.yaml"
    slos.write_text(SLOS)
    keys = generate_key_pair(tmp_path / "keys")
    monkeypatch.setenv("VP_S3_PREFIX", f"one-verdict-{tmp_path.name}")
    monkeypatch.setenv("VP_TARGET_GRAPHQL_URL", "http://127.0.0.1:9/graphql")  # never called: no load runs
    monkeypatch.delenv("VP_EVIDENCE_SIGNING_KEY", raising=False)
    return {
        **s3_env,
        "VP_S3_PREFIX": f"one-verdict-{tmp_path.name}",
        "VP_SLOS_FILE": str(slos),
        "VP_EVIDENCE_SIGNING_KEY_FILE": str(keys.private_key),
        "PUBLIC_KEY": str(keys.public_key),
        **DEMO_REPORTS,
    }


@pytest.mark.slow  # about 40 s per case: the real assets, syft version, S3 round trips, signing
@pytest.mark.parametrize(
    ("min_delivery_ratio", "expected"),
    [("0.99", "PASS"), ("0.999", "FAIL")],
    ids=["0.99 configured, 0.995 measured: PASS", "0.999 configured, 0.995 measured: FAIL"],
)
def test_the_delivery_gate_gives_one_verdict_in_check_bundle_docs_decision_and_promotion(
    environ, instance, min_delivery_ratio, expected
):
    result = verify_rc({**environ, "VP_MIN_DELIVERY_RATIO": min_delivery_ratio}, instance)
    failed = {e.step_key for e in result.all_events if e.is_step_failure}
    # a FAIL decision's blocking check `promotable` fails its step, after the decision is recorded
    assert failed == (set() if expected == "PASS" else {"release_decision"}), failed
    recorded_decision = latest_decision(instance, RC)

    # the asset check in the UI
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["fanout_delivery_ratio"].passed is (expected == "PASS")
    assert f"gate >= {float(min_delivery_ratio):g}" in checks["fanout_delivery_ratio"].description
    assert all(checks[name].passed for name in ("read_latency_p95", "error_rate", "policies_pass"))

    # the signed bundle: its verdict, its gate, its copy of the release documents
    bundle = result.asset_value("evidence_bundle")
    files = read_bundle_uri(bundle.uri, S3Settings.from_env(environ))
    report = verify_files(files, load_public_key_file(Path(environ["PUBLIC_KEY"])), expected_rc=RC)
    statements = [_payload(line) for line in files["attestations.intoto.jsonl"].splitlines()]
    (test_result,) = [s for s in statements if s["predicateType"] == TEST_RESULT_PREDICATE]
    gate = next(
        g for g in test_result["predicate"][EXTENSION]["gates"] if g["name"] == "slo:fanout_delivery_ratio"
    )
    assert (gate["verdict"], gate["delivery_ratio"], gate["min_delivery_ratio"]) == (
        expected,
        0.995,
        float(min_delivery_ratio),
    )
    assert bundle.verdict == report.verdict == test_result["predicate"][EXTENSION]["verdict"] == expected
    assert json.loads(files["slo/metrics.json"])["verdict"] == expected

    # the release documents: the asset's output is what the bundle signs, and it states the same verdict
    docs = result.asset_value("release_docs")
    assert docs.verdict == expected
    for name, text in docs.files.items():
        assert files[f"release/{name}"] == text.encode()
    pr_body = docs.files["PR_BODY_v24.1.md"]
    assert ("**Verdict: PASSED.**" in pr_body) is (expected == "PASS")

    # the comparison with an earlier RC (there is none) warns everywhere, and blocks nothing
    compared = next(
        g for g in test_result["predicate"][EXTENSION]["gates"] if g["name"] == "baseline:no_regression"
    )
    assert (compared["verdict"], compared["status"]) == ("WARN", "NO_BASELINE")
    assert "baseline:no_regression" in test_result["predicate"]["warnedTests"]
    assert checks["no_regression"].passed is False
    assert "baseline:no_regression: WARN: no earlier RC" in pr_body

    # the release decision and what `promote` reads from the instance
    decision = result.asset_value("release_decision")
    assert decision.verdict == recorded_decision["verdict"] == expected
    assert checks["promotable"].passed is (expected == "PASS")


def _payload(line: bytes) -> dict:
    """The in-toto statement a DSSE envelope line carries (its signature is checked by verify_files)."""
    return json.loads(base64.b64decode(json.loads(line)["payload"]))


@pytest.mark.slow
def test_release_docs_that_state_another_verdict_than_the_gates_are_never_signed(environ, instance):
    assert verify_rc({**environ, "VP_MIN_DELIVERY_RATIO": "0.99"}, instance).success
    # the SLO figures are judged again with a stricter gate, the documents are not rendered again
    stricter = {**environ, "VP_MIN_DELIVERY_RATIO": "0.999"}
    assert verify_rc(stricter, instance, selection=["slo_metrics"]).success
    result = verify_rc(stricter, instance, selection=["evidence_bundle"])
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.to_string()  # our error is the cause of Dagster's
    assert "release_docs states PASS" in message and "say FAIL" in message


@pytest.mark.slow
def test_missing_evidence_is_incomplete_in_the_docs_the_bundle_and_the_decision_alike(environ, instance):
    result = verify_rc({**environ, "VP_MIN_DELIVERY_RATIO": "0.99"}, instance, raw_fanout=None)
    docs, bundle = result.asset_value("release_docs"), result.asset_value("evidence_bundle")
    assert bundle.missing_files == docs.missing_files == ("raw/fanout.parquet",)
    assert docs.verdict == bundle.verdict == result.asset_value("release_decision").verdict == "INCOMPLETE"
    assert "missing from the evidence bundle: raw/fanout.parquet" in docs.files["PR_BODY_v24.1.md"]


@pytest.mark.slow
def test_a_release_policy_of_the_rc_line_judges_the_verified_bundle_and_its_denial_fails_the_decision(
    environ, instance, tmp_path
):
    assert verify_rc({**environ, "VP_MIN_DELIVERY_RATIO": "0.99"}, instance).success
    policy = tmp_path / "release-v24.1.rego"  # the policy of the v24.1 line, named through `{line}`
    policy.write_text(
        "package main\nimport rego.v1\n\n"
        "deny_held_back contains msg if {\n"
        '\tinput.releaseCandidate.tag == "v24.1.0-rc1"\n'
        "\tsome slo in input.slos\n"
        '\tslo.name == "read_latency_p95"\n'
        '\tmsg := sprintf("%s held back: read p95 %v ms on %v samples", [input.releaseCandidate.tag, slo.value, slo.n])\n'
        "}\n"
    )
    config = {
        "ops": {"release_decision": {"config": {"release_policy": str(tmp_path / "release-{line}.rego")}}}
    }
    result = verify_rc(
        {**environ, "VP_MIN_DELIVERY_RATIO": "0.99"},
        instance,
        selection=["release_decision"],
        run_config=config,
    )
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["release_policy"].passed is False
    assert checks["release_policy"].description.startswith(
        "main.deny_held_back: v24.1.0-rc1 held back: read p95 "
    )
    decision = result.asset_value("release_decision")
    assert decision.verdict == "FAIL" and checks["promotable"].passed is False
    assert any(r.startswith("release policy: main.deny_held_back: ") for r in decision.reasons)
    # without the policy the same bundle's decision is its signed PASS, and the check says none ran
    plain = verify_rc({**environ, "VP_MIN_DELIVERY_RATIO": "0.99"}, instance, selection=["release_decision"])
    plain_checks = {e.check_name: e for e in plain.get_asset_check_evaluations()}
    assert plain.asset_value("release_decision").verdict == "PASS"
    assert (
        plain_checks["release_policy"].passed
        and "no release policy configured" in plain_checks["release_policy"].description
    )
