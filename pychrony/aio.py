"""asyncio: :class:`AsyncChronyConnection`, the awaitable twin of ``ChronyConnection``.

Both backends' sessions are stepped by the event loop: their protocol engines
are generators that yield waits, ``(poll events, deadline)``; this module waits
for them with the loop's reader and writer on the session's socket and a timer
(libchrony's ``get_fd`` / ``needs_response`` / ``process_response`` cycle for the
native backend, pychrony's own engine for the Python one). Nothing blocks the
loop but opening a session, which runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from select import POLLIN, POLLOUT
from time import monotonic
from types import TracebackType
from typing import Any, TypeVar

from .connection import (
    DEFAULT_ATTEMPTS,
    DEFAULT_TIMEOUT,
    Backend,
    ChronyConnection,
    describe_getters,
    find_report,
)
from .exceptions import ChronyConnectionError
from .models import (
    Activity,
    AuthData,
    Client,
    NTPData,
    RTCData,
    SelectData,
    ServerStats,
    Smoothing,
    Source,
    SourceStats,
    TrackingStatus,
    Transport,
)

__all__ = ["AsyncChronyConnection"]

_T = TypeVar("_T")


@describe_getters
class AsyncChronyConnection:
    """A connection to chronyd for asyncio code: ``ChronyConnection``'s methods, awaitable.

    Same arguments as :class:`pychrony.ChronyConnection`. Calls on one
    connection run one at a time, in the order they were made; run calls
    concurrently over several connections. Each call is bounded by
    ``timeout * attempts``, like the blocking connection's.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        attempts: int = DEFAULT_ATTEMPTS,
        backend: Backend = "auto",
    ) -> None:
        self._conn = ChronyConnection(address, timeout=timeout, attempts=attempts, backend=backend)
        self._lock = asyncio.Lock()

    @property
    def address(self) -> str | None:
        """The address connected to (see ``ChronyConnection.address``); None when not."""
        return self._conn.address

    @property
    def transport(self) -> Transport | None:
        """The :class:`pychrony.Transport` in use; None when not connected."""
        return self._conn.transport

    @property
    def timeout(self) -> float:
        """Seconds each wait for a reply may take."""
        return self._conn.timeout

    @property
    def attempts(self) -> int:
        """Requests sent before giving up."""
        return self._conn.attempts

    @property
    def backend(self) -> str:
        """The backend in use: "native" or "python"."""
        return self._conn.backend

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._conn.closed

    def __repr__(self) -> str:
        return "<Async" + repr(self._conn)[1:]

    # -- lifecycle ------------------------------------------------------------

    async def open(self) -> AsyncChronyConnection:
        """Open the session now (otherwise the first call does), in a worker thread."""
        async with self._lock:
            await self._ensure_open()
        return self

    async def _ensure_open(self) -> Any:
        conn = self._conn
        if conn.session is None:
            await asyncio.to_thread(conn.open)
        return conn.session

    def close(self) -> None:
        """Close the session; a call waiting on it ends with ChronyConnectionError."""
        self._conn.close()

    async def __aenter__(self) -> AsyncChronyConnection:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reports --------------------------------------------------------------

    async def report(self, name: str) -> Any:
        """Any report by libchrony name ("tracking", "sources", …)."""
        report = find_report(name)
        async with self._lock:
            if self._conn.closed:
                raise ChronyConnectionError("This connection is closed; create a new one")
            session = await self._ensure_open()
            if not report.libchrony:  # clients: pychrony's own client reads it
                return await _read_protocol(self._conn)
            read_steps = getattr(session, "read_steps", None)
            if read_steps is not None:  # native: the reader itself is stepped
                return await _drive(session, read_steps(report))
            load_steps = getattr(session, "load_steps", None)
            if load_steps is not None:  # python: fetch everything, then read from memory
                await _drive(session, load_steps(report))
            return self._conn.read_with(session, report)

    async def get_tracking(self) -> TrackingStatus:
        return await self.report("tracking")  # type: ignore[no-any-return]

    async def get_sources(self) -> list[Source]:
        return await self.report("sources")  # type: ignore[no-any-return]

    async def get_source_stats(self) -> list[SourceStats]:
        return await self.report("sourcestats")  # type: ignore[no-any-return]

    async def get_select_data(self) -> list[SelectData]:
        return await self.report("selectdata")  # type: ignore[no-any-return]

    async def get_ntp_data(self) -> list[NTPData]:
        return await self.report("ntpdata")  # type: ignore[no-any-return]

    async def get_server_stats(self) -> ServerStats:
        return await self.report("serverstats")  # type: ignore[no-any-return]

    async def get_activity(self) -> Activity:
        return await self.report("activity")  # type: ignore[no-any-return]

    async def get_auth_data(self) -> list[AuthData]:
        return await self.report("authdata")  # type: ignore[no-any-return]

    async def get_rtc_data(self) -> RTCData | None:
        return await self.report("rtcdata")  # type: ignore[no-any-return]

    async def get_smoothing(self) -> Smoothing:
        return await self.report("smoothing")  # type: ignore[no-any-return]

    async def get_clients(self) -> list[Client]:
        """chronyd's client access log (Unix socket only; see ``backend_of``)."""
        return await self.report("clients")  # type: ignore[no-any-return]

    def backend_of(self, name: str) -> str:
        """The code that reads report ``name`` (see ``ChronyConnection.backend_of``)."""
        return self._conn.backend_of(name)


async def _drive(session: Any, steps: Generator[tuple[int, float], int, _T]) -> _T:
    """Run a session's steps, waiting on the running loop."""
    loop = asyncio.get_running_loop()
    try:
        events, deadline = next(steps)
        while True:
            ready = await _wait(loop, session.fileno(), events, deadline)
            events, deadline = steps.send(ready)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        steps.close()  # cancelled: release the session's state at once


async def _wait(loop: asyncio.AbstractEventLoop, fd: int, events: int, deadline: float) -> int:
    """The events of ``events`` that happen on ``fd`` first, or 0 at ``deadline``."""
    delay = deadline - monotonic()
    if delay <= 0:
        return 0
    ready: asyncio.Future[int] = loop.create_future()

    def done(what: int) -> None:
        if not ready.done():
            ready.set_result(what)

    if events & POLLIN:
        loop.add_reader(fd, done, POLLIN)
    if events & POLLOUT:
        loop.add_writer(fd, done, POLLOUT)
    timer = loop.call_later(delay, done, 0)
    try:
        return await ready
    finally:
        timer.cancel()
        if events & POLLIN:
            loop.remove_reader(fd)
        if events & POLLOUT:
            loop.remove_writer(fd)


async def _read_protocol(conn: ChronyConnection) -> Any:
    """The clients report, read by pychrony's own client (its side session opened
    in a worker thread with the native backend)."""
    from ._clients import clients_steps, read_clients
    from ._cmdmon import CmdmonSession

    session = await asyncio.to_thread(conn.protocol_session)
    if isinstance(session, CmdmonSession):
        return await _drive(session, clients_steps(session))
    return read_clients(session)
