"""AsyncChronyConnection over both backends: the scripted chronyd stand-in (python),
the C test double (native) and the mock session (testing kit)."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cmdmon_fake import Request, Sources, default_responder, fake_chronyd
from double_scenario import linked_to_double, write_scenario

from pychrony import (
    AsyncChronyConnection,
    ChronyConnection,
    ChronyConnectionError,
    ChronyConnectionPool,
    ChronyDataError,
    ChronyError,
    ChronyTimeoutError,
    ServerStats,
    Source,
    SourceStats,
    TrackingStatus,
    _backend,
)
from pychrony import registry as reg
from pychrony.registry import REPORTS
from pychrony.testing import SCENARIO_MULTI_SOURCE, patched_chrony_connection

SLACK = 0.5  # seconds a loaded CI machine may add to a bounded wait


def test_every_report_has_a_getter_on_every_connection_class():
    for report in REPORTS:
        for cls in (ChronyConnection, ChronyConnectionPool, AsyncChronyConnection):
            assert callable(getattr(cls, report.getter)), (cls, report.getter)
        assert inspect.iscoroutinefunction(getattr(AsyncChronyConnection, report.getter))


def test_getters_are_described_by_the_registry():
    for report in REPORTS:
        for cls in (ChronyConnection, ChronyConnectionPool, AsyncChronyConnection):
            assert getattr(cls, report.getter).__doc__ == report.description, cls


async def heartbeat(beats: list[float], stop: asyncio.Event) -> None:
    """Ticks every 10 ms: a blocked loop shows as a gap."""
    while not stop.is_set():
        beats.append(time.monotonic())
        await asyncio.sleep(0.01)


NAMES = ["tracking", "sources", "sourcestats", "serverstats"]


def check_not_crossed(results: list[Any], sources: int, stratum: int) -> None:
    """Every call got the report it asked for (``NAMES[(i // 4) % 4]``), complete."""
    for i, value in enumerate(results):
        name = NAMES[(i // 4) % len(NAMES)]
        if name == "tracking":
            assert isinstance(value, TrackingStatus)
            assert value.stratum == stratum
        elif name == "serverstats":
            assert isinstance(value, ServerStats)
        else:
            model = Source if name == "sources" else SourceStats
            assert [type(v) for v in value] == [model] * sources


async def read_all(conn: AsyncChronyConnection) -> dict[str, Any]:
    return {report.name: await conn.report(report.name) for report in REPORTS}


def read_all_sync(address: str, backend: str) -> dict[str, Any]:
    with ChronyConnection(address, backend=backend) as conn:  # type: ignore[arg-type]
        return {report.name: conn.report(report.name) for report in REPORTS}


# -- python backend against the scripted stand-in -----------------------------------


def test_python_backend_reads_every_report_like_the_blocking_one(tmp_path):
    sources = Sources(count=5, refclocks=frozenset({0}))
    with fake_chronyd(tmp_path, sources=sources) as fake:

        async def main() -> dict[str, Any]:
            async with AsyncChronyConnection(fake.address, backend="python") as conn:
                assert conn.backend == "python"
                return await read_all(conn)

        got = asyncio.run(main())
        assert got == read_all_sync(fake.address, "python")
        assert [s.name for s in got["sources"]][1:] == [
            f"ntp-192.0.2.{i}.example.org" for i in range(2, 6)
        ]


def read_at_once(connect: Callable[[], AsyncChronyConnection]) -> list[Any]:
    """1000 reports (every kind in turn) over 4 connections, all awaited at once."""

    async def main() -> list[Any]:
        conns = [connect() for _ in range(4)]
        calls = [conns[i % 4].report(NAMES[(i // 4) % len(NAMES)]) for i in range(1000)]
        try:
            return await asyncio.gather(*calls)
        finally:
            for conn in conns:
                conn.close()

    return asyncio.run(main())


@pytest.mark.parametrize("udp", [False, True], ids=["unix", "udp"])
def test_many_coroutines_over_few_connections(tmp_path, udp):
    with fake_chronyd(tmp_path, udp=udp, sources=Sources(count=3)) as fake:
        results = read_at_once(lambda: AsyncChronyConnection(fake.address, backend="python"))
        check_not_crossed(results, sources=3, stratum=2)


def test_silent_chronyd_times_out_within_bound_without_blocking_the_loop(tmp_path):
    with fake_chronyd(tmp_path, respond=lambda request: []) as fake:

        async def main() -> tuple[list[BaseException | Any], float, list[float]]:
            beats: list[float] = []
            stop = asyncio.Event()
            ticker = asyncio.create_task(heartbeat(beats, stop))
            conns = [
                AsyncChronyConnection(fake.address, timeout=0.2, attempts=2, backend="python")
                for _ in range(2)
            ]
            for conn in conns:
                await conn.open()
            start = time.monotonic()
            results = await asyncio.gather(
                *(conns[i % 2].get_tracking() for i in range(2)), return_exceptions=True
            )
            elapsed = time.monotonic() - start
            stop.set()
            await ticker
            for conn in conns:
                conn.close()
            return results, elapsed, beats

        results, elapsed, beats = asyncio.run(main())
    assert all(isinstance(r, ChronyTimeoutError) for r in results), results
    assert 0.4 <= elapsed < 0.4 + SLACK
    # The loop kept running while both connections waited for chronyd.
    assert len(beats) >= 20
    # A blocking wait would stall it for a whole call (0.4 s).
    assert max(b - a for a, b in itertools.pairwise(beats)) < 0.3


def test_cancelled_call_leaves_the_connection_usable(tmp_path):
    answer = {"on": False}
    sources = Sources(count=2)
    respond = default_responder(sources)

    def maybe(request: Request) -> list[bytes]:
        return respond(request) if answer["on"] else []

    with fake_chronyd(tmp_path, respond=maybe) as fake:

        async def main() -> Any:
            async with AsyncChronyConnection(fake.address, timeout=5, backend="python") as conn:
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(conn.get_sources(), 0.1)
                answer["on"] = True
                return await conn.get_sources()

        assert len(asyncio.run(main())) == 2


def test_closed_connection_raises(tmp_path):
    with fake_chronyd(tmp_path) as fake:

        async def main() -> None:
            conn = AsyncChronyConnection(fake.address, backend="python")
            await conn.get_tracking()
            conn.close()
            assert conn.closed
            with pytest.raises(ChronyConnectionError, match="closed"):
                await conn.get_tracking()

        asyncio.run(main())


def test_missing_socket_raises_connection_error(tmp_path):
    async def main() -> None:
        with pytest.raises(ChronyConnectionError):
            await AsyncChronyConnection(str(tmp_path / "none.sock"), backend="python").open()

    asyncio.run(main())


def test_unknown_report_is_rejected():
    async def main() -> None:
        with pytest.raises(ChronyError, match="Unknown report"):
            await AsyncChronyConnection("/nonexistent", backend="python").report("nope")

    asyncio.run(main())


# -- the testing kit's mock session (no socket) -------------------------------------


def test_mock_sessions_serve_async_connections():
    with patched_chrony_connection(SCENARIO_MULTI_SOURCE):

        async def main() -> Any:
            async with AsyncChronyConnection() as conn:
                return await conn.get_sources()

        got = asyncio.run(main())
    assert [s.address for s in got] == [s.address for s in SCENARIO_MULTI_SOURCE.sources]


# -- native backend over the C test double ------------------------------------------


@pytest.fixture
def double(tmp_path: Path):
    if _backend.native is None:
        pytest.skip(f"native extension not built: {_backend.NATIVE_UNAVAILABLE_REASON}")
    if not linked_to_double():
        pytest.skip("the native extension is linked to a real libchrony, not the test double")

    def write(**options: Any) -> str:
        path = tmp_path / f"scenario{len(list(tmp_path.iterdir()))}.txt"
        return write_scenario(path, SCENARIO_MULTI_SOURCE, **options)

    return write


@pytest.mark.c_extension
def test_native_backend_reads_every_report_like_the_blocking_one(double):
    path = double()

    async def main() -> dict[str, Any]:
        async with AsyncChronyConnection(path, backend="native") as conn:
            assert conn.backend == "native"
            return await read_all(conn)

    got = asyncio.run(main())
    assert got == read_all_sync(double(), "native")
    assert len(got["sources"]) == len(SCENARIO_MULTI_SOURCE.sources)


@pytest.mark.c_extension
def test_native_many_coroutines_over_few_connections(double):
    results = read_at_once(lambda: AsyncChronyConnection(double(), backend="native"))
    check_not_crossed(
        results, sources=len(SCENARIO_MULTI_SOURCE.sources), stratum=SCENARIO_MULTI_SOURCE.stratum
    )


@pytest.mark.c_extension
def test_native_silence_times_out_without_blocking_the_loop(double):
    path = double(never_readable=True)

    async def main() -> tuple[BaseException | None, float, list[float]]:
        beats: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(heartbeat(beats, stop))
        conn = AsyncChronyConnection(path, timeout=0.2, attempts=3, backend="native")
        start = time.monotonic()
        error: BaseException | None = None
        try:
            await conn.get_tracking()
        except ChronyError as exc:
            error = exc
        elapsed = time.monotonic() - start
        stop.set()
        await ticker
        conn.close()
        return error, elapsed, beats

    error, elapsed, beats = asyncio.run(main())
    assert isinstance(error, ChronyTimeoutError)
    assert 0.6 <= elapsed < 0.6 + SLACK
    assert len(beats) >= 30


@pytest.mark.c_extension
@pytest.mark.parametrize(("drop", "ok"), [(2, True), (3, False)])
def test_native_lost_replies_are_resent(double, drop, ok):
    path = double(drop=drop)

    async def main() -> Any:
        async with AsyncChronyConnection(path, timeout=0.05, attempts=3) as conn:
            return await conn.get_tracking()

    if ok:
        assert asyncio.run(main()).stratum == SCENARIO_MULTI_SOURCE.stratum
    else:
        with pytest.raises(ChronyTimeoutError):
            asyncio.run(main())


def test_absurd_record_count_is_rejected_before_anything_is_fetched(tmp_path):
    honest = default_responder(Sources())

    def respond(request: Request) -> list[bytes]:
        if request.command == reg.COUNT_REQUEST:  # 2**31 - 1 sources
            return [request.reply(reg.COUNT_RESPONSE, [2**31 - 1])]
        return honest(request)

    with fake_chronyd(tmp_path, respond=respond) as fake:

        async def main() -> Any:
            async with AsyncChronyConnection(fake.address, backend="python") as conn:
                with pytest.raises(ChronyDataError, match="2147483647 records"):
                    await conn.get_sources()
                return await conn.get_tracking()

        assert asyncio.run(main()).stratum == 2
        asked = [r.command for r in fake.requests]
        assert asked.count(reg.COUNT_REQUEST) == 1
        assert reg.SOURCES.record_request not in asked  # no record was requested
