"""Probe mode against several real chronyd: ``GET /probe?target=…`` as Prometheus sends it.

* each target's metrics are that chronyd's (their source counts and strata differ);
* a dead target and a SIGSTOPped one answer ``chrony_up 0`` by the probe's deadline
  (``--chrony.timeout`` or X-Prometheus-Scrape-Timeout-Seconds), while probes of the
  live ones keep answering at once;
* once a target's connection is cached, probes run on the event loop alone (an
  executor that refuses every job proves it) and the cache stays within its size.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from labs import start_lab
from test_exporter_lab import SLACK, exporter, one, parse

from pychrony.exporter.probe import Prober
from pychrony.lab import Lab

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fleet() -> Iterator[list[Lab]]:
    """Three labs of 1, 2 and 3 NTP sources (their chronyd tell apart by that)."""
    labs: list[Lab] = []
    try:
        for sources in (1, 2, 3):
            labs.append(start_lab(sources=sources, refclock=False))
        yield labs
    finally:
        for started in labs:
            started.stop()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: One client for every probe: ``httpx.get`` builds a client (and its TLS context) per
#: call, ~50 ms of CPU that ten threads then queue for behind the GIL.
CLIENT = httpx.Client(timeout=20)


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    CLIENT.close()


def probe(url: str, target: str, **params: str) -> tuple[float, dict]:
    headers = {}
    timeout = params.pop("scrape_timeout", None)
    if timeout is not None:
        headers["X-Prometheus-Scrape-Timeout-Seconds"] = timeout
    start = time.monotonic()
    response = CLIENT.get(url + "/probe", params={"target": target, **params}, headers=headers)
    elapsed = time.monotonic() - start
    assert response.status_code == 200, response.text
    return elapsed, parse(response.text)[1]


def stratum(lab: Lab) -> int:
    return int(lab.chronyc("tracking").split(",")[2])


def test_each_target_reads_its_own_chronyd(fleet, backend):
    flags = ("--probe.only", "--collector.sources", "--collector.sourcestats")
    with exporter(fleet[0].socket_path, *flags, backend=backend) as running:
        for lab in fleet:
            _, samples = probe(running.url, lab.udp_address)
            assert one(samples, "chrony_up") == 1
            assert len(samples["chrony_sources_state_info"]) == lab.sources
            assert len(samples["chrony_sourcestats_samples"]) == lab.sources
            assert one(samples, "chrony_tracking_stratum") == stratum(lab)
            assert 0 < one(samples, "chrony_probe_duration_seconds") < 5
        # collectors= narrows or widens a probe; serverstats needs the Unix socket
        _, over_udp = probe(running.url, fleet[1].udp_address, collectors="serverstats")
        _, over_unix = probe(
            running.url, f"unix://{fleet[1].socket_path}", collectors="serverstats,tracking"
        )
        metrics = httpx.get(running.url + "/metrics", timeout=10).text
        bad = httpx.get(running.url + "/probe", params={"target": "a b:c"}, timeout=10)
        missing = httpx.get(running.url + "/probe", timeout=10)
    assert one(over_udp, "chrony_scrape_collector_success", collector="serverstats") == 0
    assert "chrony_sources_state_info" not in over_udp
    assert one(over_unix, "chrony_scrape_collector_success", collector="serverstats") == 1
    assert one(over_unix, "chrony_serverstats_command_packets_received_total") > 0
    # probe only: /metrics has the exporter's own families, no chronyd of its own
    assert "pychrony_exporter_build_info" in metrics
    assert "chrony_up" not in metrics
    assert bad.status_code == 400
    assert "Invalid target" in bad.text
    assert missing.status_code == 400
    assert "Target parameter is missing" in missing.text


def test_dead_and_stopped_targets_answer_up_0_by_the_deadline(fleet, own_lab, backend):
    dead = f"127.0.0.1:{free_udp_port()}"
    with exporter(own_lab.socket_path, "--probe.enabled", "--chrony.timeout=5s") as running:
        assert one(probe(running.url, own_lab.udp_address)[1], "chrony_up") == 1
        elapsed, samples = probe(running.url, dead, scrape_timeout="2")
        assert one(samples, "chrony_up") == 0
        assert elapsed < 1.75 + SLACK
        results: list[tuple[float, dict]] = []
        live: list[tuple[float, dict]] = []

        def stopped_probe() -> None:
            results.append(probe(running.url, own_lab.udp_address, scrape_timeout="1.5"))

        with own_lab.paused():
            threads = [threading.Thread(target=stopped_probe) for _ in range(10)]
            for t in threads:
                t.start()
            time.sleep(0.2)  # the stopped probes are waiting now
            for lab in fleet:
                live.append(probe(running.url, lab.udp_address))
            for t in threads:
                t.join(10)
        # the exporter's own chronyd is not the stopped one's business
        _, local = parse(httpx.get(running.url + "/metrics", timeout=10).text)
    assert len(results) == 10
    for elapsed, samples in results:
        assert elapsed < 1.25 + SLACK, [round(e, 3) for e, _ in results]
        assert one(samples, "chrony_up") == 0
        assert 1.0 < one(samples, "chrony_probe_duration_seconds") < 1.25 + SLACK
    for elapsed, samples in live:
        assert one(samples, "chrony_up") == 1
        assert elapsed < 1.0, [round(e, 3) for e, _ in live]
    assert one(local, "chrony_up") == 1


class _NoThreads(concurrent.futures.ThreadPoolExecutor):
    """An executor that refuses work: no probe may hand anything to a thread."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError(f"a probe used a worker thread for {fn!r}")


def test_cached_probes_run_on_the_event_loop_alone(fleet, backend):
    async def run() -> tuple[list[float], int]:
        prober = Prober(deadline=2.0, collectors=("tracking", "sources"), backend=backend)
        targets = [lab.udp_address for lab in fleet]
        try:
            for target in targets:  # opening a session is the one job for a thread
                await prober.probe(target)
            loop = asyncio.get_running_loop()
            loop.set_default_executor(_NoThreads())
            threads = threading.active_count()
            probes = [prober.probe(t) for t in targets for _ in range(20)]
            outcomes = await asyncio.gather(*probes)
            assert threading.active_count() <= threads  # none started
            ups = [_value(o, "chrony_up") for o in outcomes]
            return ups, len(prober.connections)
        finally:
            prober.close()

    ups, cached = asyncio.run(run())
    assert ups == [1.0] * 60
    assert cached == len(fleet)


def test_the_cache_keeps_at_most_its_size_and_evicts_the_oldest(fleet):
    async def run() -> list[tuple[float, list[str]]]:
        prober = Prober(deadline=2.0, collectors=("tracking",), backend="python", cache_size=2)
        seen = []
        try:
            for lab in (*fleet, fleet[0]):
                outcome = await prober.probe(lab.udp_address)
                seen.append((_value(outcome, "chrony_up"), list(prober.connections._entries)))
        finally:
            prober.close()
        return seen

    seen = asyncio.run(run())
    a, b, c = (lab.udp_address for lab in fleet)
    assert [up for up, _ in seen] == [1.0] * 4
    assert [cached for _, cached in seen] == [[a], [a, b], [b, c], [c, a]]


def test_a_restarted_target_is_read_again(own_lab, backend):
    async def run() -> list[float]:
        prober = Prober(deadline=2.0, collectors=("tracking",), backend=backend)
        ups = []
        try:
            ups.append(_value(await prober.probe(own_lab.udp_address), "chrony_up"))
            own_lab.restart_client()
            for _ in range(10):
                ups.append(_value(await prober.probe(own_lab.udp_address), "chrony_up"))
                if ups[-1] == 1:
                    break
        finally:
            prober.close()
        return ups

    ups = asyncio.run(run())
    assert ups[0] == 1
    assert ups[-1] == 1
    assert len(ups) == 2, ups  # the first probe after the restart reads it


def _value(families, name: str) -> float:
    (family,) = [f for f in families.collect() if f.name == name]
    (sample,) = family.samples
    return float(sample.value)
