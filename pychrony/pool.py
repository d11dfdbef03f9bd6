"""``ChronyConnectionPool``: connections to one chronyd shared safely between threads."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from ._arguments import check_seconds
from .connection import (
    DEFAULT_ATTEMPTS,
    DEFAULT_TIMEOUT,
    Backend,
    ChronyConnection,
    ReportMethods,
)
from .exceptions import ChronyConnectionError, ChronyError, ChronyTimeoutError
from .models import Transport

__all__ = ["ChronyConnectionPool"]

#: Seconds a call waits for a free connection by default.
DEFAULT_WAIT = 10.0


class _Turn:
    """A thread waiting for a connection, and what it is handed."""

    __slots__ = ("conn", "given")

    def __init__(self) -> None:
        self.given = threading.Event()
        self.conn: ChronyConnection | None = None


class ChronyConnectionPool(ReportMethods):
    """Thread-safe access to chronyd: each call borrows one of up to ``size`` connections.

    The other arguments are :class:`pychrony.ChronyConnection`'s. A call waits
    at most ``wait`` seconds for a free connection (ChronyTimeoutError), then
    is bounded by ``timeout * attempts`` as usual. Connections open on first
    use and are kept for the next call; :meth:`close` closes them all.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        size: int = 4,
        timeout: float = DEFAULT_TIMEOUT,
        attempts: int = DEFAULT_ATTEMPTS,
        backend: Backend = "auto",
        wait: float = DEFAULT_WAIT,
    ) -> None:
        if not (isinstance(size, int) and size >= 1):
            raise ChronyError(f"size must be a positive integer, not {size!r}")
        check_seconds("wait", wait, zero=True)
        # Checks the other arguments (and that the backend exists) now.
        first = ChronyConnection(address, timeout=timeout, attempts=attempts, backend=backend)
        self.requested_address = address
        self._connected: ChronyConnection | None = None  # the last one that opened
        self.timeout = first.timeout
        self.attempts = attempts
        self.backend = first.backend
        self.size = size
        self.wait = float(wait)
        self._requested_backend: Backend = backend
        self._idle: list[ChronyConnection] = [first]
        self._lock = threading.Lock()  # guards the three below
        self._in_use = 0  # slots taken: borrowed connections and ones being opened
        self._waiting: deque[_Turn] = deque()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[ChronyConnection]:
        """Borrow a connection for several calls; it returns to the pool afterwards.

        Waiting threads are served first come, first served: a thread that
        returns a connection hands it to the longest-waiting one.
        """
        conn = self._acquire()
        if conn is None:
            try:
                conn = ChronyConnection(
                    self.requested_address,
                    timeout=self.timeout,
                    attempts=self.attempts,
                    backend=self._requested_backend,
                )
            except BaseException:
                self._release(None)
                raise
        try:
            yield conn
        finally:
            self._release(conn)

    def _acquire(self) -> ChronyConnection | None:
        """A connection, or None for a free slot to open one in."""
        with self._lock:
            if self._closed:
                raise ChronyConnectionError("This ChronyConnectionPool is closed")
            if not self._waiting and self._in_use < self.size:
                self._in_use += 1
                return self._idle.pop() if self._idle else None
            turn = _Turn()
            self._waiting.append(turn)
        if not turn.given.wait(self.wait):
            with self._lock:
                if not turn.given.is_set():  # else handed over meanwhile: take it
                    self._waiting.remove(turn)
                    raise ChronyTimeoutError(
                        f"No free connection to chronyd in the pool within {self.wait:g} s "
                        f"(all {self.size} in use)"
                    )
        if self._closed:
            self._release(turn.conn)
            raise ChronyConnectionError("This ChronyConnectionPool is closed")
        return turn.conn

    def _release(self, conn: ChronyConnection | None) -> None:
        """Hand ``conn`` (or its slot) to the first waiting thread, else keep it idle."""
        if conn is not None and (conn.closed or self._closed):
            conn.close()
            conn = None
        if conn is not None and conn.session is not None:
            self._connected = conn
        with self._lock:
            if self._waiting:
                turn = self._waiting.popleft()
                turn.conn = conn
                turn.given.set()
                return
            self._in_use -= 1
            if conn is not None and not self._closed:
                self._idle.append(conn)
                return
        if conn is not None:
            conn.close()

    def report(self, name: str) -> Any:
        """Any report by libchrony name ("tracking", "sources", …)."""
        with self.connection() as conn:
            return conn.report(name)

    def close(self) -> None:
        """Close every idle connection; borrowed ones close when returned."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._connected = None
        for conn in idle:
            conn.close()

    @property
    def address(self) -> str | None:
        """Where the connection the pool last used is connected (``ChronyConnection.address``);
        None before the first call and after close."""
        conn = self._connected
        return None if conn is None else conn.address

    @property
    def transport(self) -> Transport | None:
        """The :class:`pychrony.Transport` of :attr:`address`; None when not connected."""
        conn = self._connected
        return None if conn is None else conn.transport

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def __enter__(self) -> ChronyConnectionPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._idle)} idle"
        return (
            f"<ChronyConnectionPool {self.requested_address or 'auto'!s} backend={self.backend} "
            f"size={self.size} {state}>"
        )
