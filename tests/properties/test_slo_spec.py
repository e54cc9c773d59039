"""`slos.yaml` loading (`slo.spec.load_slo_spec`) under mutated and random input: a validated SloSpec
whose SLOs make sense, or a ConfigError naming the file (and the field where it can)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.properties.budget import examples
from tests.properties.mutations import (
    Token,
    dumps_with_tokens,
    json_paths,
    key_names,
    mutated_bytes,
    mutated_json,
)
from tests.properties.oracles import typed_outcome
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH, REQUEST_SOURCES, SloSpec, load_slo_spec

FAMILY = LABEL = "slos.yaml"
SOURCE = "config/slos.yaml"
SEED_TEXT = DEFAULT_SLOS_PATH.read_bytes()
SEED_DOC = yaml.safe_load(SEED_TEXT)
SEED_PATHS = json_paths(SEED_DOC)
SEED_KEYS = key_names(SEED_DOC)


def spec_invariants(spec: SloSpec) -> Mapping[str, str]:
    problems: dict[str, str] = {}
    names = [slo.name for slo in spec.slos]
    if not spec.slos or len(set(names)) != len(names):
        problems["slo-names"] = f"SLO names must be present and unique: {names}"
    if not 0.5 < spec.confidence < 1:
        problems["confidence"] = f"confidence {spec.confidence} outside (0.5, 1)"
    for slo in spec.slos:
        if slo.min_samples < 1:
            problems["min-samples"] = f"{slo.name}: min_samples {slo.min_samples}"
        if slo.metric == "quantile" and not (
            slo.quantile is not None and 0 < slo.quantile < 1 and slo.unit == "ms"
        ):
            problems["quantile-slo"] = f"{slo.name}: a quantile SLO needs 0<q<1 and ms"
        if slo.metric == "rate" and not (
            slo.unit == "percent" and slo.source in REQUEST_SOURCES and slo.threshold <= 100
        ):
            problems["rate-slo"] = f"{slo.name}: a rate SLO is a percentage of requests"
        if not (math.isfinite(slo.threshold) and slo.threshold >= 0):
            problems["slo-threshold-infinite"] = f"{slo.name}: threshold {slo.threshold} accepted"
    return problems


def load(data: bytes | str) -> SloSpec | None:
    return typed_outcome(
        LABEL,
        lambda: load_slo_spec(data, source=SOURCE),
        source=SOURCE,
        family=FAMILY,
        invariants=spec_invariants,
    )


@st.composite
def edited_documents(draw: st.DrawFn) -> str:
    """The packaged spec with values of other types, deleted keys and hostile tokens, written as
    block YAML when it can be, else as JSON (which YAML reads too)."""
    doc = draw(mutated_json(SEED_DOC, paths=SEED_PATHS, keys=SEED_KEYS))
    if _has_token(doc) or draw(st.booleans()):
        return dumps_with_tokens(doc, indent=draw(st.sampled_from([None, 2])))
    return yaml.safe_dump(doc, sort_keys=draw(st.booleans()), allow_unicode=True)


def _has_token(value: object) -> bool:
    if isinstance(value, Token):
        return True
    if isinstance(value, dict):
        return any(_has_token(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_token(v) for v in value)
    return False


@pytest.mark.timeout(300)
@examples(150)
@given(text=edited_documents())
def test_edited_spec_values(text: str) -> None:
    load(text.encode("utf-8", "surrogatepass"))


@pytest.mark.timeout(300)
@examples(120)
@given(data=st.data())
def test_mutated_spec_bytes(data: st.DataObject) -> None:
    """Flipped bytes, cut lines, tabs and CRLF, BOMs and non-UTF-8 in the YAML text."""
    load(data.draw(mutated_bytes(SEED_TEXT)))


# YAML features a JSON-minded parser never sees: anchors and aliases (a small "billion laughs"),
# merge keys, tags (including python/object ones safe_load must refuse), several documents,
# duplicate keys, complex keys, tabs.
YAML_SNIPPETS = (
    (
        "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
        "slos: [*c, *c, *c, *c, *c, *c, *c, *c]\n"
    ),
    (
        "base: &base {metric: quantile, source: read, quantile: 0.95, unit: ms, min_samples: 1}\n"
        "slos:\n  - <<: *base\n    name: a\n    threshold: 1\n"
    ),
    "slos: !!python/object/apply:os.system ['true']\n",
    "slos: !!binary aGVsbG8=\n",
    "slos: !!set {a, b}\n",
    "slos: []\n---\nslos: []\n",
    "slos: []\nslos: [{name: a}]\n",
    "? [a, b]\n: c\n",
    "? {a: 1}\n: c\n",
    "slos:\n\t- name: a\n",
    "slos: *undefined\n",
    "slos: &loop [*loop]\n",
    "version: 1\nconfidence: .nan\nslos: []\n",
    "1: 2\nnull: 3\ntrue: 4\n2026-11-27: 5\n",
    "slos:\n  - {name: a, metric: quantile, source: read, quantile: 1e-400, threshold: 1e400, unit: ms, min_samples: 1e3}\n",
    "slos:\n  - {name: a, metric: rate, source: all, threshold: 0x10, unit: percent, min_samples: 0b1}\n",
    "%YAML 1.1\n%TAG ! tag:example.com,2000:\n---\nslos: !thing []\n",
    "slos: '" + "a" * 100_000 + "'\n",
)


@pytest.mark.timeout(300)
@examples(80)
@given(
    snippet=st.sampled_from(YAML_SNIPPETS),
    prefix=st.sampled_from(["", "\ufeff", "# comment\n", "version: 1\n"]),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-16-le"]),
)
def test_yaml_features_and_encodings(snippet: str, prefix: str, encoding: str) -> None:
    load((prefix + snippet).encode(encoding))


@pytest.mark.timeout(300)
@examples(120)
@given(
    data=st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200),
        st.recursive(
            st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
            max_leaves=10,
        ).map(lambda doc: json.dumps({"slos": doc})),
    )
)
def test_random_text_and_documents(data: str | bytes) -> None:
    load(data)
