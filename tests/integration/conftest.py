"""Fixtures over a real chronyd pair started by :mod:`pychrony.lab` (``ci/chrony_lab.py``).

The shared lab has 4 NTP sources (one reachable, three never answering) and a
noselect SHM refclock "GPS"; tests that stop or restart chronyd get their own.
Without chronyd the tests skip locally and fail in CI (``CI`` set).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

import pytest
from labs import LAB_SOURCES, start_lab

from pychrony import ChronyConnection
from pychrony.lab import Lab


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The shared lab; tests must leave it running and unpaused."""
    started = start_lab(sources=LAB_SOURCES, refclock=True)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def own_lab() -> Iterator[Lab]:
    """A lab of the test's own, for pausing, killing and restarting chronyd."""
    started = start_lab(sources=2, refclock=False)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(params=["unix", "udp"])
def transport(request: pytest.FixtureRequest) -> str:
    """Which of the lab's command endpoints a test talks to."""
    return str(request.param)


@pytest.fixture
def address(lab: Lab, transport: str) -> str:
    return lab.socket_path if transport == "unix" else lab.udp_address


@pytest.fixture
def conn(address: str) -> Iterator[ChronyConnection]:
    with ChronyConnection(address, timeout=2.0, attempts=3, backend="python") as connection:
        yield connection


@pytest.fixture
def chronyc(lab: Lab, transport: str) -> Callable[..., list[list[str]]]:
    """``chronyc -c -n ARGS`` over the same transport, as CSV rows."""

    def run(*args: str) -> list[list[str]]:
        out = lab.chronyc(*args, udp=transport == "udp")
        return [row for row in csv.reader(io.StringIO(out)) if row]

    return run
