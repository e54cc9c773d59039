"""The fan-out probe: S Socket.IO subscribers, one GraphQL publisher, every delivery accounted.

Subscribers are held by worker processes (see `subscribers`), each with its own event loop,
so that stamping thousands of arrivals never queues behind one loop; the publisher runs in the
calling process. The run has three phases: every subscriber connects and has its `subscribe`
acknowledged before the first publish (so a late join is never mistaken for a loss); the
publisher sends M signals; the workers then wait until every subscriber has seen every event
or the grace period after the last publish has passed. Every stamp, in every process, comes
from this host's monotonic clock (`clock`), so neither the target's clock nor a step of the
wall clock during the run enters a latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Self, cast
from urllib.parse import urlsplit, urlunsplit

import httpx
import polars as pl

from verification_pipeline.errors import ConfigError, TargetError
from verification_pipeline.fanout.accounting import Publish, Receipt, account_deliveries
from verification_pipeline.fanout.clock import as_epoch_ms, as_stamp_ms, stamp_ms
from verification_pipeline.fanout.looplag import LoopLagMonitor, collector_at_rest
from verification_pipeline.fanout.metrics import (
    fanout_metrics,
    loop_lag_p99_by_process,
    seed_method_figures,
    worst_loop_lag_p99,
)
from verification_pipeline.fanout.publisher import PublishOutcome, T0Emitter, publish_signals, warm_up
from verification_pipeline.fanout.redact import redact_token
from verification_pipeline.fanout.subscribers import (
    CONNECTS_IN_FLIGHT,
    SubscribeFailed,
    SubscriberGroup,
    run_group,
    subscribe_one,
)
from verification_pipeline.fanout.wire import websocket_url
from verification_pipeline.reachability import check_http_url, check_reachable

log = logging.getLogger(__name__)

# Spawning a worker and importing socketio takes a few seconds on a busy machine.
WORKER_START_S = 30.0
# After the grace period, how long a worker may take to stop and hand its receipts over.
WORKER_REPORT_S = 30.0

# Progress callback: (phase, done, total), phases "subscribe", "publish", "drain".
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, kw_only=True)
class ProbeConfig:
    """One probe run. `rate` None publishes at the seed's cadence (publish, then 10 ms pause)."""

    url: str
    token: str = field(repr=False)
    tenant: str = "tenant-123"
    subscribers: int = 50
    events: int = 200
    rate: float | None = None
    late_ms: float = 250.0
    grace_ms: float = 5000.0
    subscribe_url: str | None = None
    socketio_path: str = "socket.io"
    processes: int | None = None
    subscribers_per_process: int = 500
    connect_timeout_s: float = 5.0
    """Per connection: TCP connect, and the Socket.IO handshake (or a GraphQL answer) after it."""
    request_timeout_s: float = 10.0
    max_loop_lag_ms: float = 20.0
    t0_echoes: bool = False
    """Also emit the seed's `t0` message after each publish (seed cadence only), so that
    `seed_method` figures, measured as the seed's script measures, come beside ours."""

    def __post_init__(self) -> None:
        check_http_url(self.url, field="url")
        if self.subscribe_url is not None:
            check_http_url(self.subscribe_url, field="subscribe_url", example="http://127.0.0.1:4000")
        for name in ("rate", "late_ms", "grace_ms", "connect_timeout_s", "request_timeout_s"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ConfigError(f"must be a finite number, got {value}", field=name)
        if not self.token:
            raise ConfigError("a JWT is required", field="token", hint="set VP_TARGET_JWT or pass --token")
        if not self.tenant:
            raise ConfigError("a tenant id is required", field="tenant")
        for name in ("subscribers", "events", "subscribers_per_process"):
            if getattr(self, name) < 1:
                raise ConfigError(f"must be at least 1, got {getattr(self, name)}", field=name)
        if self.processes is not None and not 1 <= self.processes <= self.subscribers:
            raise ConfigError(
                f"must lie between 1 and the number of subscribers ({self.subscribers})", field="processes"
            )
        if self.rate is not None and not self.rate > 0:
            raise ConfigError(
                f"must be a positive number of events per second, got {self.rate}", field="rate"
            )
        if self.t0_echoes and self.rate is not None:
            raise ConfigError(
                "t0 echoes follow the seed's cadence (publish, t0, 10 ms pause); they cannot go with a fixed rate",
                field="t0_echoes",
            )
        for name in ("connect_timeout_s", "request_timeout_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(
                    f"must be a positive number of seconds, got {getattr(self, name)}", field=name
                )
        if not self.grace_ms > 0:
            raise ConfigError(f"must be positive, got {self.grace_ms}", field="grace_ms")
        if not 0 <= self.late_ms <= self.grace_ms:
            raise ConfigError(
                f"must lie between 0 and grace_ms ({self.grace_ms:g}), got {self.late_ms}", field="late_ms"
            )

    @property
    def socketio_url(self) -> str:
        """The Socket.IO base URL: given, or the GraphQL URL without `/graphql`, as the seed does."""
        if self.subscribe_url:
            return self.subscribe_url
        parts = urlsplit(self.url)
        path = parts.path.removesuffix("/").removesuffix("/graphql")
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


@dataclass(frozen=True)
class ProbeResult:
    """Everything a run measured; `deliveries` is the `fanout_latencies` table."""

    deliveries: pl.DataFrame
    loop_lag: pl.DataFrame
    publish_failures: list[str]
    foreign_events: int
    disconnects: int
    processes: int
    seed_method: dict | None = None

    def metrics(self) -> dict:
        figures = fanout_metrics(
            self.deliveries, loop_lag=self.loop_lag, publish_errors=len(self.publish_failures)
        )
        # per loop, for the person reading fanout.json; not in the signed SLO document's fan-out figures
        figures["loop_lag_p99_ms_by_process"] = loop_lag_p99_by_process(self.loop_lag)
        return figures | ({"seed_method": self.seed_method} if self.seed_method is not None else {})


def plan_groups(config: ProbeConfig) -> list[SubscriberGroup]:
    """Split the subscribers evenly over as many processes as the per-process bound needs.

    By default never more processes than cores: past that, the loops only wait for each other's
    time slices, and that wait is stamped into every arrival (measured: `benchmarks/RESULTS.md`).
    """
    needed = math.ceil(config.subscribers / config.subscribers_per_process)
    processes = config.processes or max(1, min(needed, os.cpu_count() or 1))
    base, extra = divmod(config.subscribers, processes)
    groups, first = [], 0
    for index in range(processes):
        count = base + (1 if index < extra else 0)
        groups.append(
            SubscriberGroup(
                index=index,
                first=first,
                count=count,
                url=config.socketio_url,
                socketio_path=config.socketio_path,
                tenant=config.tenant,
                connect_timeout_s=config.connect_timeout_s,
                token=config.token,
            )
        )
        first += count
    return groups


def run_probe(
    config: ProbeConfig,
    *,
    progress: Progress | None = None,
    on_worker: Callable[[int], None] | None = None,
) -> ProbeResult:
    """Run the probe against a live target; raises TargetError naming the URL and the cause.

    Synchronous (it runs its own event loops): call it from plain code, not from a running loop.
    `on_worker` gets the pid of each subscriber process once it has started.
    """
    report = progress or (lambda phase, done, total: None)
    for url in (config.url, config.socketio_url):
        check_reachable(url, config.connect_timeout_s)
    groups = plan_groups(config)
    # One subscriber's whole handshake and one GraphQL request, each bounded by the connect
    # timeout, before any process starts: a server that accepts connections and never answers
    # (or answers plain HTTP) is named in seconds, not after every subscriber's timeout in turn.
    asyncio.run(_preflight(config, groups[0]))
    log.info(
        "fan-out probe: %d subscribers in %d processes, %d events",
        config.subscribers,
        len(groups),
        config.events,
    )
    with _SubscriberProcesses(groups, config.socketio_url) as subscribers:
        for worker in subscribers.workers:
            if on_worker is not None and worker.pid is not None:
                on_worker(worker.pid)
        subscribers.wait_until_subscribed(config, report)
        # asyncio's loop, not uvloop's: with the publisher on uvloop its lag fell by ~0.7 ms but the
        # 300-subscriber p95 rose from 12-14 to 19-25 ms (benchmarks/RESULTS.md, issue 24)
        outcome, echoes, publisher_lag_ms = asyncio.run(_publish(config, report))
        _check_publishes(config, outcome)
        # Every event gets its full grace period, so the last one's ends the wait.
        deadline = as_stamp_ms(max(p.published_at_ms for p in outcome.publishes)) + config.grace_ms
        awaited = [publish.event_id for publish in (*outcome.publishes, *echoes)]
        harvest = subscribers.drain(awaited, deadline, report)
    return _result(config, len(groups), outcome, echoes, publisher_lag_ms, harvest)


def _check_publishes(config: ProbeConfig, outcome: PublishOutcome) -> None:
    """Refuse a run in which no publish was accepted; warn about the ones that failed."""
    if not outcome.publishes:
        raise TargetError(
            f"{config.url}: none of the {config.events} publishes was accepted; first failure: {outcome.failures[0]}"
        )
    if outcome.failures:
        log.warning(
            "%d of %d publishes failed; first: %s",
            len(outcome.failures),
            config.events,
            outcome.failures[0],
        )


def _result(
    config: ProbeConfig,
    processes: int,
    outcome: PublishOutcome,
    echoes: list[Publish],
    publisher_lag_ms: list[float],
    harvest: _Harvest,
) -> ProbeResult:
    """Every delivery accounted for, the loops' lag per process, and what else the run saw."""
    known = {publish.event_id for publish in outcome.publishes}
    ours = known | {echo.event_id for echo in echoes}
    loop_lag = pl.DataFrame(
        [("publisher", lag) for lag in publisher_lag_ms] + harvest.loop_lag,
        schema={"process": pl.String, "lag_ms": pl.Float64},
        orient="row",
    )
    _warn_about_probe_health(loop_lag, harvest.disconnects, config.max_loop_lag_ms)
    return ProbeResult(
        deliveries=account_deliveries(
            outcome.publishes,
            [receipt for receipt in harvest.receipts if receipt.event_id in known],
            config.subscribers,
            late_ms=config.late_ms,
            grace_ms=config.grace_ms,
        ),
        loop_lag=loop_lag,
        publish_failures=outcome.failures,
        foreign_events=sum(1 for receipt in harvest.receipts if receipt.event_id not in ours),
        disconnects=harvest.disconnects,
        processes=processes,
        seed_method=(
            seed_method_figures(outcome.publishes, echoes, harvest.receipts, config.events)
            if config.t0_echoes
            else None
        ),
    )


@dataclass
class _Harvest:
    """What the subscriber processes hand back after the grace period."""

    receipts: list[Receipt] = field(default_factory=list)
    loop_lag: list[tuple[str, float]] = field(default_factory=list)
    disconnects: int = 0


class _SubscriberProcesses:
    """The worker processes of one run; leaving the block stops exactly those, whatever happened."""

    def __init__(self, groups: list[SubscriberGroup], url: str) -> None:
        self.groups = groups
        self.url = url
        self.links: dict[int, Connection] = {}
        self.workers: list[multiprocessing.process.BaseProcess] = []

    def __enter__(self) -> Self:
        # spawn, not fork: the caller may hold threads (Dagster, uvicorn) that fork would copy mid-state.
        context = multiprocessing.get_context("spawn")
        try:
            for group in self.groups:
                ours, theirs = context.Pipe()
                worker = context.Process(
                    target=run_group, args=(group, theirs), name=f"fanout-subscribers-{group.index}"
                )
                worker.daemon = True
                worker.start()
                theirs.close()
                self.links[group.index] = ours
                self.workers.append(worker)
        except BaseException:
            self.__exit__()
            raise
        return self

    def wait_until_subscribed(self, config: ProbeConfig, report: Progress) -> None:
        largest = max(group.count for group in self.groups)
        within_s = WORKER_START_S + config.connect_timeout_s * math.ceil(largest / CONNECTS_IN_FLIGHT)
        connected = 0
        for _index, message in self._one_message_from_each(within_s):
            if message[0] == "error":
                raise TargetError(f"{self.url}: {message[1]}")
            connected += message[1]
            report("subscribe", connected, config.subscribers)

    def drain(self, event_ids: list[str], deadline: float, report: Progress) -> _Harvest:
        for link in self.links.values():
            link.send(("drain", event_ids, deadline))
        harvest = _Harvest()
        within_s = max(0.0, deadline - stamp_ms()) / 1000.0 + WORKER_REPORT_S
        for done, (index, message) in enumerate(self._one_message_from_each(within_s), 1):
            _, receipts, loop_lag_ms, disconnects = message
            # stamped on the monotonic clock, shown as epoch time with the one offset the publishes use
            harvest.receipts.extend(
                Receipt(subscriber, event_id, seq, as_epoch_ms(at))
                for subscriber, event_id, seq, at in receipts
            )
            harvest.loop_lag.extend((f"subscribers-{index}", lag) for lag in loop_lag_ms)
            harvest.disconnects += disconnects
            report("drain", done, len(self.groups))
        return harvest

    def _one_message_from_each(self, within_s: float) -> Iterator[tuple[int, tuple]]:
        """Yield (group index, message) once per worker; fail when one dies or is too slow."""
        waiting = {self.links[group.index]: group.index for group in self.groups}
        deadline = time.monotonic() + within_s
        while waiting:
            # wait() returns a subset of the objects it was given: here, our worker links
            ready = cast(list[Connection], wait(list(waiting), timeout=max(0.0, deadline - time.monotonic())))
            if not ready:
                raise TargetError(
                    f"{self.url}: {len(waiting)} subscriber process(es) did not report within {within_s:.0f} s",
                    hint="the target may be overloaded; try fewer --subscribers",
                )
            for link in ready:
                index = waiting.pop(link)
                try:
                    yield index, link.recv()
                except EOFError:
                    raise RuntimeError(f"subscriber process {index} exited without reporting") from None

    def __exit__(self, *_exc: object) -> None:
        for link in self.links.values():
            with contextlib.suppress(OSError):  # that worker has already finished
                link.send(("abort",))
        for worker in self.workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=5)
        for link in self.links.values():
            link.close()


CONNECT_TIMEOUT_HINT = (
    "check that the GraphQL and Socket.IO URLs name the target's endpoints; if it is only slow "
    "to answer, give it longer with `fanout run --connect-timeout SECONDS`"
)


async def _preflight(config: ProbeConfig, group: SubscriberGroup) -> None:
    """Refuse a target that does not speak Socket.IO or GraphQL within the connect timeout."""
    try:
        subscription = await subscribe_one(group, websocket_url(group.url, group.socketio_path))
    except SubscribeFailed as exc:
        raise TargetError(
            f"{config.socketio_url}: {redact_token(str(exc), config.token)}", hint=CONNECT_TIMEOUT_HINT
        ) from None
    await subscription.close()
    timeout = httpx.Timeout(config.connect_timeout_s)
    async with httpx.AsyncClient(timeout=timeout) as client:
        try:
            await warm_up(client, config.url, config.token)
        except httpx.TimeoutException:
            raise TargetError(
                f"{config.url}: connected, but no answer to a GraphQL request within "
                f"{config.connect_timeout_s:g} s",
                hint=CONNECT_TIMEOUT_HINT,
            ) from None


async def _publish(
    config: ProbeConfig, report: Progress
) -> tuple[PublishOutcome, list[Publish], list[float]]:
    """The publishes, the echoes of the t0 messages (when asked for), and the loop's lag.

    The lag is sampled over the publishes alone, the window in which publish times are stamped,
    with the collector at rest as in the subscriber processes (`subscribers._hold`): building the
    client and its warm-up request stamp nothing.
    """
    monitor = LoopLagMonitor()
    timeout = httpx.Timeout(config.request_timeout_s, connect=config.connect_timeout_s)
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=timeout))
        emitter = (
            await stack.enter_async_context(
                T0Emitter(
                    config.socketio_url,
                    config.socketio_path,
                    config.token,
                    config.tenant,
                    config.request_timeout_s,
                )
            )
            if config.t0_echoes
            else None
        )
        await warm_up(client, config.url, config.token)
        with collector_at_rest():
            monitor.start()
            outcome = await publish_signals(
                client,
                config.url,
                config.token,
                config.tenant,
                config.events,
                rate=config.rate,
                on_published=lambda done: report("publish", done, config.events),
                after_publish=emitter.emit if emitter is not None else None,
            )
            lag = await monitor.stop()
    if emitter is not None and emitter.refusals:
        log.warning("%d t0 messages were refused; first: %s", len(emitter.refusals), emitter.refusals[0])
    return outcome, (emitter.echoes if emitter is not None else []), lag


def _warn_about_probe_health(loop_lag: pl.DataFrame, disconnects: int, max_loop_lag_ms: float) -> None:
    worst_lag = worst_loop_lag_p99(loop_lag)
    if worst_lag is not None and worst_lag > max_loop_lag_ms:
        log.warning(
            "the probe's event loops lagged up to %.1f ms (p99) > %.1f ms, so latencies may include the "
            "probe's own delay: the machine is busy, or a loop holds too many subscribers (--processes)",
            worst_lag,
            max_loop_lag_ms,
        )
    if disconnects:
        log.warning("%d subscribers were disconnected by the target during the run", disconnects)
