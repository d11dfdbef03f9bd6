"""asyncio: :class:`AsyncChronyConnection`, the awaitable twin of ``ChronyConnection``.

Both backends' sessions are stepped by the event loop through the asyncio driver
(:mod:`pychrony.protocol.aio`): pychrony's own client's sans-I/O engine, and
libchrony's ``get_fd`` / ``needs_response`` / ``process_response`` cycle for the
native backend, both waiting with the loop's reader and writer and a timer.
Nothing blocks the loop but opening a session, which runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from ._aio_turn import Turn
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
from .protocol.aio import drive as _drive

__all__ = ["AsyncChronyConnection"]


@describe_getters
class AsyncChronyConnection:
    """A connection to chronyd for asyncio code: ``ChronyConnection``'s methods, awaitable.

    Same arguments as :class:`pychrony.ChronyConnection`. Calls on one
    connection run one at a time, in the order they were made, from whichever
    event loop (one ``asyncio.run()`` after another, loops in several threads); a
    call left pending by a loop that was closed never blocks a later one. Run
    calls concurrently over several connections. Each call is bounded by
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
        self._turn = Turn()  # one call at a time, from any event loop

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
        async with self._turn.hold():
            if self._conn.closed:
                raise ChronyConnectionError("This connection is closed; create a new one")
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
        async with self._turn.hold() as call:
            if self._conn.closed:
                raise ChronyConnectionError("This connection is closed; create a new one")
            session = await self._ensure_open()
            if not report.libchrony:  # clients: pychrony's own client reads it
                return await _read_protocol(self._conn)
            read_steps = getattr(session, "read_steps", None)
            if read_steps is not None:  # native: the reader itself is stepped
                call.steps = read_steps(report)
                return await _drive(session, call.steps)
            load_steps = getattr(session, "load_steps", None)
            if load_steps is not None:  # python: fetch everything, then read from memory
                call.steps = load_steps(report)
                await _drive(session, call.steps)
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


async def _read_protocol(conn: ChronyConnection) -> Any:
    """The clients report, read by pychrony's own client (its side session opened
    in a worker thread with the native backend)."""
    from ._clients import clients_steps, read_clients
    from .protocol.session import CmdmonSession

    session = await asyncio.to_thread(conn.protocol_session)
    if isinstance(session, CmdmonSession):
        return await _drive(session, clients_steps(session))
    return read_clients(session)
