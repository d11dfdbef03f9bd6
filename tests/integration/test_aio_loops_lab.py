"""One ``AsyncChronyConnection`` over several event loops, against a real chronyd,
for both backends: one ``asyncio.run()`` after another, a loop closed under a
pending call, loops in two threads taking turns, a call after ``close()``.
README, "What pychrony survives", sums them up.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import warnings

import pytest

from pychrony import AsyncChronyConnection, ChronyConnectionError

pytestmark = pytest.mark.integration

SLACK = 0.5  # seconds a loaded CI machine may add to a bounded wait
TIMEOUT, ATTEMPTS = 0.3, 2
BOUND = TIMEOUT * ATTEMPTS


def connect(address: str, backend: str) -> AsyncChronyConnection:
    return AsyncChronyConnection(address, timeout=TIMEOUT, attempts=ATTEMPTS, backend=backend)


async def contended(conn: AsyncChronyConnection) -> list[int]:
    """Five calls at once: the later ones wait for their turn."""
    results = await asyncio.gather(*(conn.get_tracking() for _ in range(5)))
    return [r.stratum for r in results]


def test_one_connection_in_one_asyncio_run_after_another(lab, backend, transport, address):
    conn = connect(address, backend)
    for _ in range(3):  # each run a new loop; contended, so a lock would bind to it
        assert asyncio.run(contended(conn)) == [9] * 5
        assert len(asyncio.run(conn.get_sources())) == 5
    conn.close()


def test_loop_closed_under_a_pending_call_never_blocks_a_later_one(own_lab, backend):
    conn = connect(own_lab.socket_path, backend)
    assert asyncio.run(conn.get_tracking()).stratum == 9
    dead = asyncio.new_event_loop()
    own_lab.pause()  # chronyd stopped: the call waits for its reply
    try:
        pending = dead.create_task(conn.get_sources())
        dead.run_until_complete(asyncio.sleep(0.1))  # the call holds the connection
        assert not pending.done()
        dead.close()  # stopped and closed, the call still pending (never cancelled)
    finally:
        own_lab.resume()
    start = time.monotonic()
    assert asyncio.run(conn.get_tracking()).stratum == 9  # a new loop gets its turn
    assert time.monotonic() - start < BOUND + SLACK
    assert len(asyncio.run(conn.get_sources())) == 2
    conn.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Task was destroyed but it is pending!"
        del pending
        gc.collect()


def test_loops_in_two_threads_take_turns_on_one_connection(lab, backend, transport, address):
    conn = connect(address, backend)
    outcomes: list[object] = []

    def run() -> None:
        async def calls() -> list[int]:
            return [(await conn.get_tracking()).stratum for _ in range(20)]

        try:
            outcomes.extend(asyncio.run(calls()))
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    conn.close()
    assert outcomes == [9] * 40


def test_calls_after_close_raise_connection_errors_in_any_loop(lab, backend):
    conn = connect(lab.socket_path, backend)
    assert asyncio.run(contended(conn)) == [9] * 5
    conn.close()
    for _ in range(2):
        with pytest.raises(ChronyConnectionError, match="closed"):
            asyncio.run(conn.get_tracking())
        with pytest.raises(ChronyConnectionError, match="closed"):
            asyncio.run(conn.open())


def test_a_cancelled_waiter_hands_the_turn_on(lab, backend):
    conn = connect(lab.socket_path, backend)

    async def main() -> list[object]:
        first = asyncio.ensure_future(conn.get_sources())
        waiting = asyncio.ensure_future(conn.get_tracking())
        third = asyncio.ensure_future(conn.get_tracking())
        await asyncio.sleep(0)
        waiting.cancel()
        got = await asyncio.gather(first, waiting, third, return_exceptions=True)
        return [type(g).__name__ for g in got]

    assert asyncio.run(main()) == ["list", "CancelledError", "TrackingStatus"]
    conn.close()
