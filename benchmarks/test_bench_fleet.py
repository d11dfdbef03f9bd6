"""Probe mode at scale: one exporter probing N real lab chronyd (benchmarks/fleet.py).

N = 10, 100, 250 (CI's ``--bench-quick``: 2 targets, a 1 s interval). Each size is
measured once (a scrape interval of 15 s, then a burst, then the chronyc-per-report
alternative); the figures go to pytest-benchmark's ``extra_info`` and the README
table comes from ``python benchmarks/fleet.py``. Nothing asserts on time; the checks
are that every probe read its chronyd.

    pytest benchmarks/test_bench_fleet.py --benchmark-json=fleet.json
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict

import fleet as fleet_bench  # beside this file
import pytest
from placement import pinned
from pytest_benchmark.fixture import BenchmarkFixture

from pychrony.lab import Lab

SIZES = (10, 100, 250)
QUICK = (2,)


def sizes(config: pytest.Config) -> tuple[int, ...]:
    return QUICK if config.getoption("--bench-quick") else SIZES


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "size" in metafunc.fixturenames:
        metafunc.parametrize("size", sizes(metafunc.config))


@pytest.fixture(scope="module")
def labs(request: pytest.FixtureRequest) -> Iterator[list[Lab]]:
    # The daemons inherit the load generator's CPU; the pytest process gets its CPUs
    # back afterwards (test_bench_peers.py, run later, needs both).
    cpu, size = fleet_bench.LOADGEN_CPU, max(sizes(request.config))
    with pinned(cpu), fleet_bench.fleet(size) as started:
        yield started


def test_probe_a_fleet(
    benchmark: BenchmarkFixture, request: pytest.FixtureRequest, labs: list[Lab], size: int
) -> None:
    interval = 1.0 if request.config.getoption("--bench-quick") else 15.0
    benchmark.group = "exporter: probing a fleet of chronyd"
    # the python backend: the native one here may be linked to the C test double
    args = (labs[:size], interval, "--chrony.backend=python")
    figures = benchmark.pedantic(fleet_bench.measure, args=args, rounds=1, iterations=1)
    benchmark.extra_info.update(asdict(figures))
    assert figures.failed == 0
    assert figures.targets == size
