"""Threads: ChronyConnection refuses concurrent use; ChronyConnectionPool shares safely."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from cmdmon_fake import Request, Sources, default_responder, fake_chronyd

from pychrony import (
    ChronyConnection,
    ChronyConnectionError,
    ChronyConnectionPool,
    ChronyError,
    ChronyTimeoutError,
    SourceStats,
    TrackingStatus,
)


def test_connection_used_by_two_threads_at_once_raises(tmp_path):
    entered, release = threading.Event(), threading.Event()
    respond = default_responder(Sources(count=1))

    def slow(request: Request) -> list[bytes]:
        entered.set()
        release.wait(5)
        return respond(request)

    with fake_chronyd(tmp_path, respond=slow) as fake:
        conn = ChronyConnection(fake.address, timeout=5, backend="python")
        conn.open()
        worker = threading.Thread(target=conn.get_tracking)
        worker.start()
        assert entered.wait(5)
        with pytest.raises(ChronyError, match="in use by another thread"):
            conn.get_tracking()
        with pytest.raises(ChronyError, match="in use by another thread"):
            conn.report("sources")
        release.set()
        worker.join(5)
        assert conn.get_tracking().stratum == 2  # usable again once the other call ended
        conn.close()


def test_pool_arguments_are_checked():
    with pytest.raises(ChronyError, match="size"):
        ChronyConnectionPool("/nonexistent", size=0)
    with pytest.raises(ChronyError, match="wait"):
        ChronyConnectionPool("/nonexistent", wait=float("nan"))
    with pytest.raises(ChronyError, match="timeout"):
        ChronyConnectionPool("/nonexistent", timeout=-1)


def test_pool_shares_at_most_size_connections_between_threads(tmp_path):
    with fake_chronyd(tmp_path, sources=Sources(count=3)) as fake:
        pool = ChronyConnectionPool(fake.address, size=3, backend="python")
        errors: list[BaseException] = []
        results: list[Any] = []

        def poll(i: int) -> None:
            try:
                for j in range(30):
                    if (i + j) % 2:
                        value = pool.get_tracking()
                        assert isinstance(value, TrackingStatus)
                    else:
                        value = pool.get_source_stats()
                        assert [type(v) for v in value] == [SourceStats] * 3
                    results.append(value)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=poll, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        assert len(results) == 16 * 30
        assert 1 <= len(pool._idle) <= 3  # never more connections than the pool's size
        client_dirs = [p for p in (tmp_path / "run").iterdir() if p.name != "chronyd.sock"]
        assert len(client_dirs) == len(pool._idle)
        pool.close()
        assert pool.closed
        assert [p.name for p in (tmp_path / "run").iterdir()] == ["chronyd.sock"]
        with pytest.raises(ChronyConnectionError, match="closed"):
            pool.get_tracking()


def test_pool_wait_for_a_free_connection_is_bounded(tmp_path):
    with fake_chronyd(tmp_path) as fake:
        pool = ChronyConnectionPool(fake.address, size=1, wait=0.2, backend="python")
        with pool.connection() as held:
            assert held.get_tracking().stratum == 2
            start = time.monotonic()
            with pytest.raises(ChronyTimeoutError, match="No free connection"):
                pool.get_tracking()
            assert 0.2 <= time.monotonic() - start < 1.0
        assert pool.get_tracking().stratum == 2
        pool.close()


def test_pool_drops_a_connection_closed_while_borrowed(tmp_path):
    with (
        fake_chronyd(tmp_path) as fake,
        ChronyConnectionPool(fake.address, size=2, backend="python") as pool,
    ):
        with pool.connection() as conn:
            conn.close()
        assert pool._idle == []
        assert pool.get_tracking().stratum == 2  # a new one is opened


def test_waiting_threads_are_served_in_arrival_order(tmp_path):
    with fake_chronyd(tmp_path) as fake:
        pool = ChronyConnectionPool(fake.address, size=1, backend="python")
        served: list[int] = []

        def borrow(i: int) -> None:
            with pool.connection() as conn:
                served.append(i)
                conn.get_tracking()

        threads = [threading.Thread(target=borrow, args=(i,)) for i in range(6)]
        with pool.connection():
            for i, thread in enumerate(threads):
                thread.start()
                while len(pool._waiting) <= i:  # queued behind the ones before it
                    time.sleep(0.001)
        for thread in threads:
            thread.join(10)
        # Handed over one by one, first come first served: nobody can barge in.
        assert served == list(range(6))
        assert pool._in_use == 0
        pool.close()
