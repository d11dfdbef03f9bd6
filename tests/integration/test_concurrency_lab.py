"""Threads and coroutines against a real chronyd: no errors, no crossed replies,
an event loop that never blocks, recovery after chronyd stalls.

The native rows (the ``backend`` fixture of tests/conftest.py) need the
extension linked to a real libchrony: ci/test.sh runs them from its second build.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import pytest
from labs import LAB_SOURCES

from pychrony import (
    Activity,
    AsyncChronyConnection,
    ChronyConnection,
    ChronyConnectionPool,
    ChronyTimeoutError,
    Source,
    SourceStats,
    TrackingStatus,
)
from pychrony.lab import Lab

pytestmark = pytest.mark.integration

SLACK = 0.5
#: Records of the shared lab's per-source reports: its NTP sources and a refclock.
RECORDS = LAB_SOURCES + 1
#: Reports chronyd serves over UDP too (its default ``opencommands``).
NAMES = ["tracking", "sources", "sourcestats", "activity"]
MODELS = {"sources": Source, "sourcestats": SourceStats}


def check(name: str, value: Any, ref_id: int) -> None:
    """``value`` is a complete ``name`` report of the shared lab (not another's reply)."""
    if name == "tracking":
        assert isinstance(value, TrackingStatus)
        assert value.reference_id == ref_id
    elif name == "activity":
        assert isinstance(value, Activity)
        assert value.online + value.offline + value.burst_online + value.burst_offline == (
            LAB_SOURCES
        )
    else:
        assert [type(v) for v in value] == [MODELS[name]] * RECORDS


def test_sixteen_threads_poll_for_ten_seconds(lab: Lab, backend: str):
    with ChronyConnection(lab.socket_path, backend=backend) as conn:  # type: ignore[arg-type]
        ref_id = conn.get_tracking().reference_id
    pool = ChronyConnectionPool(lab.socket_path, size=4, backend=backend)  # type: ignore[arg-type]
    per_thread = ChronyConnection(lab.udp_address, backend=backend)  # type: ignore[arg-type]
    errors: list[BaseException] = []
    calls = [0] * 16
    end = time.monotonic() + 10.0

    def poll(i: int) -> None:
        # Threads 0-14 share the pool; thread 15 owns a connection over UDP.
        conn = per_thread if i == 15 else pool
        try:
            for j in itertools.count():
                if time.monotonic() >= end:
                    return
                name = NAMES[(i + j) % len(NAMES)]
                check(name, conn.report(name), ref_id)
                calls[i] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=poll, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    pool.close()
    per_thread.close()
    assert errors == []
    assert all(n > 0 for n in calls), calls


async def heartbeat(beats: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        beats.append(time.monotonic())
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("transport", ["unix", "udp"])
def test_thousand_coroutines_over_four_connections(lab: Lab, backend: str, transport: str):
    address = lab.socket_path if transport == "unix" else lab.udp_address
    with ChronyConnection(address, backend=backend) as conn:  # type: ignore[arg-type]
        ref_id = conn.get_tracking().reference_id

    async def main() -> tuple[list[Any], list[float]]:
        beats: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(heartbeat(beats, stop))
        conns = [AsyncChronyConnection(address, backend=backend) for _ in range(4)]  # type: ignore[arg-type]
        try:
            calls = [conns[i % 4].report(NAMES[(i // 4) % 4]) for i in range(1000)]
            return await asyncio.gather(*calls), beats
        finally:
            stop.set()
            await ticker
            for conn in conns:
                conn.close()

    results, beats = asyncio.run(main())
    for i, value in enumerate(results):
        check(NAMES[(i // 4) % 4], value, ref_id)
    assert len(beats) >= 2  # the heartbeat ran between the calls


def test_stalled_chronyd_does_not_block_the_loop_and_recovers(own_lab: Lab, backend: str):
    async def main() -> tuple[list[Any], float, list[float], list[Any]]:
        conns = [
            AsyncChronyConnection(own_lab.socket_path, timeout=0.2, attempts=2, backend=backend)  # type: ignore[arg-type]
            for _ in range(3)
        ]
        for conn in conns:
            await conn.get_tracking()
        beats: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(heartbeat(beats, stop))
        with own_lab.paused():
            start = time.monotonic()
            stalled = await asyncio.gather(
                *(conns[i % 3].get_sources() for i in range(30)), return_exceptions=True
            )
            elapsed = time.monotonic() - start
        stop.set()
        await ticker
        after = await asyncio.gather(*(conn.get_sources() for conn in conns))
        for conn in conns:
            conn.close()
        return stalled, elapsed, beats, after

    stalled, elapsed, beats, after = asyncio.run(main())
    assert all(isinstance(r, ChronyTimeoutError) for r in stalled), stalled
    # Ten calls queue on each connection, each bounded by 0.4 s.
    assert 4.0 <= elapsed < 4.0 + 2 * SLACK
    assert max(b - a for a, b in itertools.pairwise(beats)) < 0.3
    assert [len(sources) for sources in after] == [2, 2, 2]
