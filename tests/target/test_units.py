"""The target's plain parts on their own: latency specs, fault settings, limiter, store, tokens."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import jwt
import pytest

from reference_target.faults import FaultInjector, FaultSettings, parse_latency
from reference_target.limiter import AdmissionControl, TurnGate
from reference_target.store import CoherenceStore
from reference_target.tokens import TokenRejected, TokenVerifier, mint_token
from verification_pipeline.errors import ConfigError, InputError

SECRET = b"k" * 32


@pytest.mark.parametrize(
    ("spec", "low", "high"),
    [("50", 50, 50), (12.5, 12.5, 12.5), ("uniform:10:80", 10, 80), ("normal:50:10", 0, 200)],
)
def test_latency_specs_sample_within_their_range(spec, low, high):
    distribution = parse_latency(spec)
    rng = random.Random(1)
    samples = [distribution.sample(rng) for _ in range(500)]
    assert low <= min(samples) and max(samples) <= high
    assert parse_latency(str(distribution)) == distribution


def test_normal_latency_is_clamped_at_zero():
    rng = random.Random(2)
    assert min(parse_latency("normal:1:50").sample(rng) for _ in range(500)) == 0.0


@pytest.mark.parametrize("spec", [None, "0", 0])
def test_zero_latency_is_no_fault(spec):
    assert parse_latency(spec) is None


@pytest.mark.parametrize("spec", ["fast", "-5", "uniform:1", "poisson:3:4", "uniform:9:1", True, "nan"])
def test_bad_latency_specs_are_refused(spec):
    with pytest.raises(ValueError):
        parse_latency(spec)


def test_fault_update_is_partial_and_null_switches_off():
    settings = FaultSettings.parse({"error_rate": 0.2, "read_latency_ms": "uniform:1:2"}, source="test")
    updated = settings.updated({"read_latency_ms": None, "drop_event_rate": 0.5}, source="test")
    assert (updated.error_rate, updated.read_latency_ms, updated.drop_event_rate) == (0.2, None, 0.5)
    assert updated.updated({"error_rate": None}, source="test").error_rate == 0.0


def test_fault_errors_name_the_field_and_source():
    with pytest.raises(ConfigError, match=r"^flags \[drop_event_rate\]: must be at most 1\.0, got 3"):
        FaultSettings.parse({"drop_event_rate": 3}, source="flags")


def test_rps_limit_alone_injects_no_fault():
    injector = FaultInjector(FaultSettings(rps_limit=5), seed=0)
    assert not injector.settings.active
    assert not injector.http_error() and injector.added_latency_ms("read") == 0.0


def test_injector_reset_returns_to_the_baseline():
    injector = FaultInjector(FaultSettings(error_rate=1.0), seed=0)
    injector.replace(FaultSettings())
    assert not injector.http_error()
    injector.reset()
    assert injector.http_error()


def test_token_bucket_refills_at_the_limit():
    admission = AdmissionControl(max_inflight=100, rps_limit=2)
    assert admission.admit() is None and admission.admit() is None
    refusal = admission.admit()
    assert refusal is not None and refusal.kind == "rate_limited" and refusal.retry_after_s == 1
    time.sleep(0.55)
    assert admission.admit() is None
    assert admission.inflight == 3


def test_inflight_limit_counts_releases():
    admission = AdmissionControl(max_inflight=1, rps_limit=None)
    assert admission.admit() is None
    assert admission.admit().kind == "overloaded"
    admission.release()
    assert admission.admit() is None


def test_turn_gate_runs_a_few_requests_per_loop_turn_in_arrival_order():
    async def scenario() -> list[tuple[int, int]]:
        loop = asyncio.get_running_loop()
        turns = [0]

        def tick() -> None:
            turns[0] += 1
            loop.call_soon(tick)

        tick()
        gate = TurnGate(per_turn=2)
        ran: list[tuple[int, int]] = []

        async def request(number: int) -> None:
            await gate.wait_turn()
            ran.append((number, turns[0]))

        await asyncio.gather(*(request(number) for number in range(7)))
        return ran

    ran = asyncio.run(scenario())
    assert [number for number, _ in ran] == list(range(7))
    per_turn = Counter(turn for _, turn in ran)
    assert max(per_turn.values()) == 2
    assert len(per_turn) == 4


def test_store_keeps_newest_signals_and_evicts_least_recent_tenant():
    store = CoherenceStore(max_tenants=2, max_signals_per_tenant=3)
    for value in range(5):
        store.append("a", "t", float(value), "s", "ts", 0.0)
    store.append("b", "t", 1.0, "s", "ts", 0.0)
    store.coherence("a")  # touch a, so b is the least recently used
    store.append("c", "t", 1.0, "s", "ts", 0.0)
    assert (store.tenants_held, store.signals_held) == (2, 4)
    assert store.coherence("b").status == "NO_DATA"
    assert store.coherence("a").signal_count == 5


def test_store_numbers_events_per_tenant_including_t0_echoes():
    store = CoherenceStore()
    first = store.append("a", "t", 0.5, "s", "ts", 1.0)
    echo = store.echo("a", "ts", 2.0)
    other = store.append("b", "t", 0.5, "s", "ts", 1.0)
    assert (first.seq, echo.seq, other.seq) == (1, 2, 1)
    assert first.id != echo.id


def test_minted_token_verifies_and_carries_its_claims():
    claims = TokenVerifier(SECRET).verify(mint_token(SECRET, "tenant-9", ["coherence:read"]))
    assert (claims.tenant, claims.scopes) == ("tenant-9", frozenset({"coherence:read"}))
    assert claims.allows("coherence:read") and not claims.allows("coherence:write")


def test_cached_token_still_expires():
    verifier = TokenVerifier(SECRET)
    now = int(time.time())
    token = jwt.encode({"sub": "s", "tenant": "t", "scopes": [], "exp": now + 1}, SECRET, algorithm="HS256")
    verifier.verify(token)
    time.sleep(1.1)
    with pytest.raises(TokenRejected, match="expired"):
        verifier.verify(token)


@pytest.mark.parametrize(("tenant", "scopes"), [("*", ["coherence:read"]), ("t", ["admin"])])
def test_mint_refuses_wildcard_tenant_and_unknown_scopes(tenant, scopes):
    with pytest.raises(InputError):
        mint_token(SECRET, tenant, scopes)
