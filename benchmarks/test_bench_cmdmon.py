"""The pure-Python protocol client against a real chronyd (pychrony.lab), 1/8/64 sources.

Each benchmark is one public call over a connection opened once, as a monitoring
loop would make it: ``get_tracking()`` (one round trip) and ``get_sources()``
(a count, then every record and source name: pipelined by default, and one
round trip at a time for comparison). The machine's load swings these numbers;
compare contenders within one run. Nothing here asserts on time.

    python -m pytest benchmarks/test_bench_cmdmon.py --benchmark-only \\
        --benchmark-group-by=param:sources --benchmark-columns=min,median,ops
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from pychrony import ChronyConnection
from pychrony.lab import Lab, LabError, find_chronyd

QUICK = pytest.mark.benchmark(min_rounds=5, max_time=0.5, warmup=True)


@pytest.fixture(scope="module", params=[1, 8, 64], ids=lambda n: f"{n}")
def sources(request: pytest.FixtureRequest) -> Iterator[Lab]:
    """A lab whose client has this many NTP sources (one reachable)."""
    if find_chronyd() is None and os.geteuid() != 0:
        pytest.skip("chronyd is not installed (apt-get install chrony)")
    lab = Lab(sources=request.param, refclock=False)
    try:
        lab.start()
    except LabError as exc:
        pytest.fail(f"the chronyd lab did not start: {exc}")
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def conn(sources: Lab) -> Iterator[ChronyConnection]:
    with ChronyConnection(sources.socket_path, backend="python") as connection:
        yield connection


@QUICK
def test_get_tracking(benchmark, conn):
    benchmark.extra_info["records"] = 1
    assert benchmark(conn.get_tracking).is_synchronized()


@QUICK
def test_get_sources_pipelined(benchmark, conn, sources):
    benchmark.extra_info["records"] = sources.sources
    assert len(benchmark(conn.get_sources)) == sources.sources


@QUICK
def test_get_sources_sequential(benchmark, conn, sources):
    conn.open()
    conn._session.pipelining = False  # one round trip per record (and per name)
    benchmark.extra_info["records"] = sources.sources
    assert len(benchmark(conn.get_sources)) == sources.sources
