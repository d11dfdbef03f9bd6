"""Scrape latency of the exporter on real lab chronyds with 1, 8 and 64 sources.

* ``collect``: one full scrape in process, every collector (ntpdata included):
  ``ChronyCollector`` over a ``ScrapeReader`` (one flight: a worker thread reading
  every report) and prometheus_client's text encoding; what an agent embedding
  the collector pays;
* ``http``: ``GET /metrics`` from ``python -m pychrony.exporter`` over loopback
  HTTP, through uvicorn, as Prometheus scrapes it.

Both backends where they read chronyd: ``native`` needs the extension linked to a
real libchrony (run from ``build/real-libchrony/src``, or ``ci/bench.sh``'s venv);
over the C test double it is skipped. Nothing asserts on time; the checks are that
the scrape read every source.

    pytest benchmarks/test_bench_exporter.py --benchmark-columns=median,iqr,rounds
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry
from pytest_benchmark.fixture import BenchmarkFixture

from pychrony import ChronyConnection, ChronyError
from pychrony.exporter import ALL_COLLECTORS, ChronyCollector, ScrapeReader
from pychrony.lab import Lab

SIZES = (1, 8, 64)
EVERY = (*ALL_COLLECTORS, "ntpdata")
FLAGS = [f"--collector.{name}" for name in ALL_COLLECTORS if name != "tracking"]
FLAGS.append("--collector.sources.with-ntpdata")


@pytest.fixture(scope="module", params=SIZES)
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    with Lab(sources=request.param, refclock=False) as started:
        yield started


@pytest.fixture(params=["python", "native"])
def backend(request: pytest.FixtureRequest, lab: Lab) -> str:
    name = str(request.param)
    try:
        with ChronyConnection(lab.socket_path, backend=name, timeout=0.5, attempts=1) as conn:
            got = len(conn.get_sources())
    except ChronyError as exc:
        pytest.skip(f"the {name} backend does not read this chronyd: {exc}")
    if got != lab.sources:
        pytest.skip(f"the {name} backend is not linked to a real libchrony")
    return name


def _source_count(text: str) -> int:
    return len(re.findall(r"^chrony_sources_stratum\{", text, re.MULTILINE))


def test_collect(benchmark: BenchmarkFixture, lab: Lab, backend: str) -> None:
    registry = CollectorRegistry(auto_describe=False)
    reader = ScrapeReader(lab.socket_path, deadline=5.0, backend=backend)  # type: ignore[arg-type]
    registry.register(ChronyCollector(reader, EVERY))
    generate_latest(registry)  # warm: the session is open, names known
    benchmark.group = f"exporter: one full scrape in process, {lab.sources} sources"
    text = benchmark(generate_latest, registry).decode()
    reader.close()
    assert _source_count(text) == lab.sources
    assert "chrony_up 1.0" in text


def test_http(benchmark: BenchmarkFixture, lab: Lab, backend: str) -> None:
    argv = [sys.executable, "-m", "pychrony.exporter", f"--chrony.address=unix://{lab.socket_path}"]
    argv += [f"--chrony.backend={backend}", "--web.listen-address=127.0.0.1:0", *FLAGS]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    try:
        port = None
        deadline = time.monotonic() + 30
        for line in proc.stderr:
            found = re.search(r'msg="Listening on" address=\S*:(\d+)', line)
            if found:
                port = int(found.group(1))
                break
            assert time.monotonic() < deadline
        assert port is not None
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            client.get("/metrics")  # warm
            benchmark.group = f"exporter: GET /metrics over HTTP, {lab.sources} sources"
            text = benchmark(lambda: client.get("/metrics").text)
        assert _source_count(text) == lab.sources
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stderr.close()
