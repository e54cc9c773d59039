"""slos.yaml: the seed's five SLOs by default; every mistake names its field."""

from __future__ import annotations

import pytest
import yaml

from verification_pipeline.errors import ConfigError
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH, default_slo_spec, load_slo_spec


def test_default_is_the_seeds_five_slos() -> None:
    spec = default_slo_spec()
    assert spec.confidence == 0.95
    got = {(s.name, s.metric, s.source, s.quantile, s.threshold, s.unit) for s in spec.slos}
    assert got == {
        ("read_latency_p95", "quantile", "read", 0.95, 350, "ms"),
        ("write_latency_p95", "quantile", "write", 0.95, 700, "ms"),
        ("error_rate", "rate", "all", None, 0.1, "percent"),
        ("fanout_latency_p95", "quantile", "fanout", 0.95, 250, "ms"),
        ("ingest_latency_p95", "quantile", "ingest", 0.95, 100, "ms"),
    }


def edited(change) -> str:
    document = yaml.safe_load(DEFAULT_SLOS_PATH.read_text())
    change(document)
    return yaml.safe_dump(document)


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        (
            lambda d: d["slos"][1].update(threshold="fast"),
            r"\[slos\[1\]\.threshold\]",
            "expected a number, got .fast.",
        ),
        (lambda d: d["slos"][0].update(unit="s"), r"\[slos\[0\]\.unit\]", "'ms' or 'percent'"),
        (lambda d: d["slos"][0].pop("quantile"), r"\[slos\[0\]\]", "needs `quantile`"),
        (lambda d: d["slos"][2].update(source="ingest"), r"\[slos\[2\]\]", "rate SLO counts failed requests"),
        (lambda d: d["slos"][2].update(unit="ms"), r"\[slos\[2\]\]", "unit must be percent"),
        (
            lambda d: d["slos"][3].pop("min_samples"),
            r"\[slos\[3\]\.min_samples\]",
            "required field is missing",
        ),
        (lambda d: d["slos"][4].update(colour="red"), r"\[slos\[4\]\.colour\]", "unknown key"),
        (lambda d: d["slos"][4].update(name="read_latency_p95"), ":", "repeated: read_latency_p95"),
        (lambda d: d.update(confidence=1.5), r"\[confidence\]", "must be below 1"),
        (lambda d: d["slos"][0].update(quantile=95), r"\[slos\[0\]\.quantile\]", "must be below 1"),
        (
            lambda d: d["slos"][0].update(responses="failed"),
            r"\[slos\[0\]\.responses\]",
            "'successful' or 'all'",
        ),
        (lambda d: d["slos"][2].update(responses="all"), r"\[slos\[2\]\]", "applies to latency SLOs only"),
    ],
)
def test_errors_name_the_field(change, where: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"slos\.yaml.*{where}.*{message}"):
        load_slo_spec(edited(change))


def test_yaml_errors_name_the_line() -> None:
    with pytest.raises(ConfigError, match=r"team\.yaml:3: not valid YAML: mapping values are not allowed"):
        load_slo_spec("version: 1\nslos:\n  - name: a: b\n", source="team.yaml")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_slo_spec("- just a list\n")


SLO = "slos:\n  - {name: read_p95, metric: quantile, source: read, quantile: 0.95, threshold: %s, unit: ms, min_samples: 1}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SLO % ".inf", r"slos\.yaml:2 \[slos\[0\]\.threshold\]: must be a finite number, got inf"),
        (SLO % "1e400", r"slos\.yaml:2 \[slos\[0\]\.threshold\]: must be a finite number, got inf"),
        (SLO % ".nan", r"slos\.yaml:2 \[slos\[0\]\.threshold\]: must be a finite number, got nan"),
        (SLO % ("1" * 4301), r"slos\.yaml:2: holds an integer of more than 4300 digits"),
        ("slos: " + "[" * 10_000, r"slos\.yaml: not a configuration file: nested too deeply"),
        (
            SLO.replace("name: read_p95", 'name: read_p95, description: "\\ud800"') % 5,
            r"\[slos\[0\]\.description\]: holds an unpaired",
        ),
        (SLO % "2026-13-45", r"slos\.yaml: holds a value that cannot be read: month must be in 1\.\.12"),
    ],
    ids=["inf", "overflow", "nan", "huge-int", "deep", "lone-surrogate", "impossible-date"],
)
def test_values_no_slo_can_hold_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_slo_spec(text, source="slos.yaml")


def test_latency_slos_count_successful_responses_unless_told_otherwise() -> None:
    spec = load_slo_spec(edited(lambda d: d["slos"][1].update(responses="all")))
    assert [slo.responses for slo in spec.slos] == [
        "successful",
        "all",
        "successful",
        "successful",
        "successful",
    ]
