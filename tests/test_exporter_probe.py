"""Probe mode without a network: targets, collectors, the connection cache, the route,
the flags. Real chronyd (several targets, deadlines, no threads): tests/integration/
test_probe_lab.py."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from pychrony.exceptions import ChronyError
from pychrony.exporter import COLLECTORS
from pychrony.exporter.command import build_parser
from pychrony.exporter.probe import (
    ConnectionCache,
    ProbeError,
    Prober,
    parse_collectors,
    parse_target,
)
from pychrony.exporter.web import create_app
from pychrony.testing import SCENARIO_MULTI_SOURCE, patched_chrony_connection

# -- targets and collectors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("192.0.2.1:1323", "192.0.2.1:1323"),
        (" [2001:db8::1]:323 ", "[2001:db8::1]:323"),
        ("2001:db8::1", "2001:db8::1"),
        ("unix:///run/chrony/chronyd.sock", "/run/chrony/chronyd.sock"),
    ],
)
def test_targets_as_prometheus_sends_them(text, address):
    assert parse_target(text) == address


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "Target parameter is missing"),
        ("   ", "Target parameter is missing"),
        ("unix://relative.sock", "absolute path"),
        ("/run/chrony/chronyd.sock", "unix:///path"),
        ("http://192.0.2.1:323", "HOST[:PORT]"),
        ("192.0.2.1:99999", "Invalid target"),
        ("[2001:db8::1", "Invalid target"),
        ("ntp1.example.net:323", "an IPv4 or IPv6 address"),  # names are not resolved
    ],
)
def test_bad_targets_are_a_probe_error(text, why):
    with pytest.raises(ProbeError, match=why.replace("[", r"\[")):
        parse_target(text)


def test_collectors_parameter():
    assert parse_collectors(None, ("tracking",)) == ("tracking",)
    assert parse_collectors(" ", ("tracking",)) == ("tracking",)
    assert parse_collectors("sources, tracking,sources", ()) == ("sources", "tracking")
    with pytest.raises(ProbeError, match="Unknown collectors \\[.nope.\\]"):
        parse_collectors("tracking,nope", ())
    assert issubclass(ProbeError, ChronyError)


# -- the connection cache ----------------------------------------------------------------


class FakeConnection:
    def __init__(self, address: str) -> None:
        self.address = address
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def cache(size: int = 2, idle: float = 60.0) -> tuple[ConnectionCache, list, Clock]:
    opened: list[FakeConnection] = []
    clock = Clock()

    def connect(address: str) -> FakeConnection:
        opened.append(FakeConnection(address))
        return opened[-1]

    return ConnectionCache(connect, size=size, idle_close=idle, clock=clock), opened, clock  # type: ignore[arg-type]


def test_cache_reuses_a_targets_connection_and_evicts_the_least_recently_used():
    connections, opened, _ = cache(size=2)
    for address in ("a", "b", "a", "c"):
        with connections.lease(address):
            pass
    assert [c.address for c in opened] == ["a", "b", "c"]  # "a" reused
    assert list(connections._entries) == ["a", "c"]  # "b" was the least recently used
    assert [c.closed for c in opened] == [False, True, False]


def test_cache_never_evicts_a_connection_in_use_nor_grows_past_its_size():
    connections, opened, _ = cache(size=1)
    with connections.lease("a"):
        with connections.lease("b") as b:
            assert not b.conn.closed  # serves its probe
            assert "b" not in connections
        assert opened[1].closed  # and is closed after it
        assert not opened[0].closed
    assert len(connections) == 1
    assert "a" in connections


def test_sweep_closes_what_was_idle_too_long_but_not_what_is_in_use():
    connections, opened, clock = cache(size=4, idle=60.0)
    with connections.lease("a"):
        pass
    clock.now += 30
    with connections.lease("b"):
        pass
    clock.now += 31
    with connections.lease("c"):
        clock.now += 100
        assert connections.sweep() == 2  # a and b; c is in use
    assert [c.closed for c in opened] == [True, True, False]
    assert list(connections._entries) == ["c"]
    connections.close()
    assert opened[2].closed
    assert len(connections) == 0


def test_discard_forgets_only_the_entry_given():
    connections, opened, _ = cache()
    with connections.lease("a") as first:
        pass
    connections.discard("a", first)
    with connections.lease("a") as second:
        pass
    connections.discard("a", first)  # stale: the new entry stays
    assert second.conn is opened[1]
    assert "a" in connections
    assert opened[0].closed


def test_cache_refuses_nonsense_sizes():
    with pytest.raises(ChronyError, match="at least 1"):
        ConnectionCache(FakeConnection, size=0)  # type: ignore[arg-type]
    with pytest.raises(ChronyError, match="positive"):
        ConnectionCache(FakeConnection, idle_close=0)  # type: ignore[arg-type]


# -- the route, over a scripted chronyd ---------------------------------------------------


def get(app, path: str, **params: str) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://exporter") as client:
            return await client.get(path, params=params or None)  # {} would drop path's query

    return asyncio.run(run())


def samples(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_probe_route_reads_the_collectors_asked_for():
    with patched_chrony_connection(SCENARIO_MULTI_SOURCE):
        prober = Prober(deadline=2.0, collectors=("tracking",), backend="python")
        app = create_app(CollectorRegistry(), prober=prober)
        default = samples(get(app, "/probe", target="192.0.2.1").text)
        wider = samples(get(app, "/probe", target="192.0.2.1", collectors="sources").text)
        # Prometheus' params as a YAML list: one collectors= per item
        listed = get(app, "/probe?target=192.0.2.1&collectors=sources&collectors=tracking")
        listed_samples = samples(listed.text)
        landing = get(app, "/").text
    assert default["chrony_up"] == [({}, 1.0)]
    assert [lab["collector"] for lab, _ in default["chrony_scrape_collector_success"]] == [
        "tracking"
    ]
    assert "chrony_tracking_stratum" in default
    assert "chrony_sources_state_info" not in default
    assert len(wider["chrony_sources_state_info"]) == len(SCENARIO_MULTI_SOURCE.sources)
    assert "chrony_tracking_stratum" not in wider
    assert "chrony_probe_duration_seconds" in wider
    assert [lab["collector"] for lab, _ in listed_samples["chrony_scrape_collector_success"]] == [
        "sources",
        "tracking",
    ]
    assert "/probe?target=HOST[:PORT]" in landing


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({}, "Target parameter is missing"),
        ({"target": "192.0.2.1:x"}, "Invalid target"),
        ({"target": "192.0.2.1", "collectors": "nope"}, "Unknown collectors"),
    ],
)
def test_probe_route_answers_400_for_what_it_cannot_probe(params, why):
    prober = Prober(deadline=1.0, collectors=("tracking",), backend="python")
    response = get(create_app(CollectorRegistry(), prober=prober), "/probe", **params)
    assert response.status_code == 400
    assert why in response.text


def test_without_a_prober_there_is_no_probe_route():
    assert get(create_app(CollectorRegistry()), "/probe", target="x").status_code == 404


def test_prober_refuses_unknown_default_collectors():
    with pytest.raises(ChronyError, match="unknown collectors"):
        Prober(deadline=1.0, collectors=("nope",), backend="python")
    with pytest.raises(ChronyError, match="deadline"):
        Prober(deadline=0, collectors=(), backend="python")


# -- flags ---------------------------------------------------------------------------------


def test_probe_flags_and_defaults():
    args = build_parser().parse_args([])
    assert (args.probe, args.probe_only, args.probe_path) == (False, False, "/probe")
    assert (args.probe_connections, args.probe_idle_close) == (1024, 120.0)
    args = build_parser().parse_args(
        ["--probe.only", "--probe.connections=5", "--probe.idle-close=30s"]
    )
    assert (args.probe_only, args.probe_connections, args.probe_idle_close) == (True, 5, 30.0)
    for bad in ("--probe.connections=0", "--probe.connections=x", "--probe.idle-close=0s"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([bad])
    assert set(COLLECTORS) >= {"tracking", "sources"}
