"""Probe settings: refused with the field named, URLs derived as the seed does, groups planned."""

from __future__ import annotations

import pytest

from verification_pipeline.errors import ConfigError
from verification_pipeline.fanout.probe import ProbeConfig, plan_groups
from verification_pipeline.fanout.wire import websocket_url

TOKEN = "header.payload.signature-not-to-be-printed"


def config(**changes) -> ProbeConfig:
    return ProbeConfig(url="http://127.0.0.1:4000/graphql", token=TOKEN, **changes)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"subscribers": 0}, "subscribers"),
        ({"events": 0}, "events"),
        ({"rate": 0.0}, "rate"),
        ({"grace_ms": 0.0}, "grace_ms"),
        ({"late_ms": 6000.0}, "late_ms"),
        ({"processes": 3, "subscribers": 2}, "processes"),
        ({"tenant": ""}, "tenant"),
        ({"t0_echoes": True, "rate": 50.0}, "t0_echoes"),
        ({"request_timeout_s": 0.0}, "request_timeout_s"),
        ({"connect_timeout_s": -1.0}, "connect_timeout_s"),
    ],
)
def test_bad_settings_name_their_field(changes, field):
    with pytest.raises(ConfigError, match=rf"\[{field}\]"):
        config(**changes)


def test_bad_url_and_missing_token_are_config_errors():
    with pytest.raises(ConfigError, match=r"\[url\]"):
        ProbeConfig(url="127.0.0.1:4000/graphql", token=TOKEN)
    with pytest.raises(ConfigError, match=r"\[token\]"):
        ProbeConfig(url="http://127.0.0.1:4000/graphql", token="")


def test_the_token_never_shows_in_the_config_or_its_groups():
    assert TOKEN not in repr(config())
    assert all(TOKEN not in repr(group) for group in plan_groups(config()))


@pytest.mark.parametrize(
    ("url", "subscribe_url", "expected"),
    [
        ("http://127.0.0.1:4000/graphql", None, "http://127.0.0.1:4000"),
        ("https://svc.example/api/graphql/", None, "https://svc.example/api"),
        ("http://127.0.0.1:4000/graphql", "http://127.0.0.1:4001", "http://127.0.0.1:4001"),
    ],
)
def test_socketio_url_is_the_graphql_url_without_graphql(url, subscribe_url, expected):
    assert ProbeConfig(url=url, token=TOKEN, subscribe_url=subscribe_url).socketio_url == expected


def test_by_default_1000_subscribers_on_2_cores_are_held_by_two_processes_of_500(monkeypatch):
    # the case: measured, one uvloop loop per 500 keeps its lag p99 at 2-3 ms (benchmarks/RESULTS.md)
    monkeypatch.setattr("verification_pipeline.fanout.probe.os.cpu_count", lambda: 2)
    assert [group.count for group in plan_groups(config(subscribers=1000))] == [500, 500]


@pytest.mark.parametrize(
    ("subscribers", "processes", "per_process", "cores", "counts"),
    [
        (1, None, 200, 8, [1]),
        (200, None, 200, 8, [200]),
        (201, None, 200, 8, [101, 100]),
        (1000, None, 200, 8, [200] * 5),
        # never more loops than cores by default: they would only wait for each other's slices
        (1000, None, 200, 2, [500, 500]),
        (1000, None, 500, 1, [1000]),
        # an explicit count is taken as given
        (10, 3, 200, 1, [4, 3, 3]),
    ],
)
def test_subscribers_are_split_evenly_over_processes(
    monkeypatch, subscribers, processes, per_process, cores, counts
):
    monkeypatch.setattr("verification_pipeline.fanout.probe.os.cpu_count", lambda: cores)
    groups = plan_groups(
        config(subscribers=subscribers, processes=processes, subscribers_per_process=per_process)
    )
    assert [group.count for group in groups] == counts
    assert [group.first for group in groups] == [sum(counts[:i]) for i in range(len(counts))]
    assert {group.tenant for group in groups} == {"tenant-123"}


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        ("http://127.0.0.1:4000", "socket.io", "ws://127.0.0.1:4000/socket.io/?EIO=4&transport=websocket"),
        ("https://rc.example.com/api/", "/rt/", "wss://rc.example.com/api/rt/?EIO=4&transport=websocket"),
    ],
)
def test_the_subscribers_websocket_url_is_engineio_v4_over_websocket(base, path, expected):
    assert websocket_url(base, path) == expected
