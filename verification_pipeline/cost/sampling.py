"""Reading the service's resource figures around a load phase: its /metrics, and PromQL.

Both sources are read when the phase starts, every `sample_interval_s` while it runs (a gauge's
peak is the highest value read) and when it ends; PromQL's last read waits `promql_settle_s`
first, so the server has scraped the phase's end. A source that cannot be read at the start
(no /metrics, no server, a query that answers nothing) is left out with a note saying why,
never counted as zero. Every answer is size-capped.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import polars as pl
from prometheus_client.parser import text_string_to_metric_families

from verification_pipeline.background import in_background
from verification_pipeline.cost.schema import BASELINE_SIDE, ROWS_SCHEMA
from verification_pipeline.cost.spec import QUANTITIES, CostPolicy
from verification_pipeline.errors import shown

MAX_ANSWER_BYTES = 8 << 20
"""A /metrics page or a PromQL answer: a service with many series is ~1 MB."""
TIMEOUT_S = 5.0
FINAL_READ_DELAY_S = 0.5
"""A service counts a request once it has answered it: the last answers of a phase are counted a
little after the client has them (measured on the reference target: ~15 of 800 at once)."""


class SourceUnreadable(Exception):
    """One read of a source failed; the message says why, without any credential."""


def _get(client: httpx.Client, url: str, params: dict[str, str] | None = None) -> bytes:
    try:
        with client.stream("GET", url, params=params, timeout=TIMEOUT_S) as answer:
            if answer.status_code != 200:
                raise SourceUnreadable(f"GET {url} answered HTTP {answer.status_code}")
            body = bytearray()
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise SourceUnreadable(f"GET {url}: the answer is over {MAX_ANSWER_BYTES} bytes")
            return bytes(body)
    except httpx.HTTPError as error:
        raise SourceUnreadable(f"GET {url} failed: {type(error).__name__}") from None


def parse_exposition(text: str, policy: CostPolicy) -> dict[str, float]:
    """The quantities `policy.scrape` names, summed over their matching series; absent ones left out."""
    wanted = {q: series for q in QUANTITIES if (series := getattr(policy.scrape, q)) is not None}
    found: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                for quantity, series in wanted.items():
                    if series.matches(sample.name, dict(sample.labels)):
                        found[quantity] = found.get(quantity, 0.0) + float(sample.value)
    except ValueError as error:
        raise SourceUnreadable(f"the /metrics page is not Prometheus text: {shown(str(error))}") from None
    return found


def query_promql(client: httpx.Client, server: str, query: str, at: float) -> float | None:
    """An instant query's one value (a scalar, or a vector of one sample); None when it has none."""
    body = _get(client, server.rstrip("/") + "/api/v1/query", {"query": query, "time": f"{at:.3f}"})
    try:
        answer = json.loads(body)
        if answer.get("status") != "success":
            raise SourceUnreadable(f"PromQL {query!r}: {shown(str(answer.get('error')))}")
        data = answer["data"]
        if data["resultType"] == "scalar":
            return float(data["result"][1])
        if data["resultType"] != "vector":
            raise SourceUnreadable(f"PromQL {query!r} gives a {data['resultType']}, not one number")
        result = data["result"]
        if not result:
            return None
        if len(result) > 1:
            raise SourceUnreadable(f"PromQL {query!r} gives {len(result)} series; sum() them to one")
        return float(result[0]["value"][1])
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise SourceUnreadable(f"PromQL {query!r}: an answer that is not Prometheus's ({error})") from None


@dataclass
class PhaseSampler:
    """Reads every source of `policy` for one phase; `rows()` is what it read, `notes` what it could not."""

    phase: str
    policy: CostPolicy
    metrics_url: str | None
    prometheus_url: str | None
    clock: Callable[[], float] = time.time
    side: str = ""
    """`BASELINE_SIDE` for the concurrent baseline's deployment: its rows' and notes' sources carry it."""
    notes: dict[str, str] = field(default_factory=dict)
    _rows: list[dict] = field(default_factory=list)
    _live: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._client = httpx.Client(trust_env=False)
        if self.metrics_url is not None:
            self._live.add("scrape")
        else:
            self.notes[self._named("scrape")] = "no /metrics URL"
        if self.side:
            pass  # slos.yaml's PromQL queries name one deployment, this RC's: the baseline is read by its /metrics
        elif self.prometheus_url is None:
            self.notes["promql"] = "VP_PROMETHEUS_URL not set"
        elif not any(getattr(self.policy.promql, q) for q in QUANTITIES):
            self.notes["promql"] = "slos.yaml cost.promql names no query"
        else:
            self._live.add("promql")

    def _named(self, source: str) -> str:
        return source + self.side

    def read(self, sources: tuple[str, ...] = ("scrape", "promql"), *, first: bool = False) -> None:
        """One read of each live source; a failure on the first read drops the source, later ones skip a point."""
        for source in sources:
            if source not in self._live:
                continue
            try:
                at = self.clock()
                figures = self._scrape() if source == "scrape" else self._promql(at)
            except SourceUnreadable as error:
                if first:
                    self._live.discard(source)
                    self.notes[self._named(source)] = str(error)
                continue
            if first and not figures:
                self._live.discard(source)
                self.notes[self._named(source)] = "none of the series slos.yaml names is there"
                continue
            self._rows += [
                {"phase": self.phase, "source": self._named(source), "quantity": q, "ts": at, "value": v}
                for q, v in sorted(figures.items())
            ]

    def _scrape(self) -> dict[str, float]:
        assert self.metrics_url is not None
        return parse_exposition(_get(self._client, self.metrics_url).decode("utf-8", "replace"), self.policy)

    def _promql(self, at: float) -> dict[str, float]:
        assert self.prometheus_url is not None
        found = {}
        for quantity in QUANTITIES:
            query = getattr(self.policy.promql, quantity)
            if query and (value := query_promql(self._client, self.prometheus_url, query, at)) is not None:
                found[quantity] = value
        return found

    def rows(self) -> pl.DataFrame:
        return pl.DataFrame(self._rows, schema={k: v for k, v in ROWS_SCHEMA.items() if k != "seq"})

    def close(self) -> None:
        self._client.close()


@contextmanager
def sample_resources(
    phase: str, policy: CostPolicy, *, metrics_url: str | None, prometheus_url: str | None
) -> Iterator[PhaseSampler]:
    """Read before the block (the phase's load), every interval during it, and after it."""
    sampler = PhaseSampler(phase, policy, metrics_url, prometheus_url)
    with reading([sampler], policy):
        yield sampler


def baseline_sampler(phase: str, policy: CostPolicy, metrics_url: str | None) -> PhaseSampler:
    """The concurrent baseline's deployment, read by its /metrics beside this RC's (`reading`)."""
    return PhaseSampler(phase, policy, metrics_url, None, side=BASELINE_SIDE)


def rows_of(samplers: list[PhaseSampler]) -> pl.DataFrame:
    """Every sampler's rows, in the order they were read."""
    return pl.concat([s.rows() for s in samplers], how="vertical").sort("ts", maintain_order=True)


@contextmanager
def reading(samplers: list[PhaseSampler], policy: CostPolicy) -> Iterator[None]:
    """Read every sampler before the block, every interval during it and after it, at the same
    moments: this RC's service and a concurrent baseline's are read around the same load."""
    for sampler in samplers:
        sampler.read(first=True)

    def during(stop: threading.Event) -> None:
        while not stop.wait(policy.sample_interval_s):
            for sampler in samplers:
                sampler.read()

    try:
        with in_background(during, f"cost-{samplers[0].phase}"):
            yield
    finally:
        time.sleep(FINAL_READ_DELAY_S)
        for sampler in samplers:
            sampler.read(("scrape",))
        if any("promql" in s._live for s in samplers) and policy.promql_settle_s:
            time.sleep(policy.promql_settle_s)
        for sampler in samplers:
            sampler.read(("promql",))
            sampler.close()
