"""One shared, locked ChronyConnection for the whole app, its history and last-known values.

Every request (page, API, ``/metrics``) reads chronyd through :class:`ChronyReader`:
one connection, one request at a time, reopened after a connection error so the
dashboard recovers by itself when chronyd restarts.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..connection import DEFAULT_ATTEMPTS, DEFAULT_TIMEOUT, Backend, ChronyConnection
from ..exceptions import (
    ChronyConnectionError,
    ChronyDataError,
    ChronyDisabledError,
    ChronyError,
    ChronyTimeoutError,
)
from .history import DEFAULT_HISTORY, History

__all__ = ["ChronyReader", "Known", "Reading"]


@dataclass
class Reading:
    """The outcome of reading several reports at once.

    ``values`` holds each report that answered; ``errors`` the exception of each
    that did not; ``error`` is set when chronyd could not be reached at all (then
    the remaining reports were not asked).
    """

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, ChronyError] = field(default_factory=dict)
    error: ChronyError | None = None
    taken_at: float = field(default_factory=time.time)

    @property
    def up(self) -> bool:
        """True when at least one report answered."""
        return bool(self.values)

    @property
    def failure(self) -> ChronyError | None:
        """Why nothing could be read: unreachable, or every report refused."""
        if self.error is not None:
            return self.error
        if not self.values and self.errors:
            return next(iter(self.errors.values()))
        return None


@dataclass(frozen=True)
class Known:
    """A report's last successfully read value and when it was read (epoch)."""

    value: Any
    taken_at: float


class ChronyReader:
    """Reads chronyd for the app through one ChronyConnection, serialised by a lock.

    After a connection or data error the connection is dropped and a fresh one is
    opened on the next read; an immediate failure on a connection that used to work
    (chronyd restarted, stale socket) is retried once at once. Every read is bounded:
    waiting for the lock and for chronyd together never take much longer than
    ``timeout * attempts``.

    ``history``: seconds of tracking and source samples kept for the charts, at most
    one point per ``history_interval`` seconds per series.
    ``known`` holds each report's last good value, so a page loaded during an outage
    still shows what chronyd last said (and when).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        attempts: int = DEFAULT_ATTEMPTS,
        backend: Backend = "auto",
        connect: Callable[[], ChronyConnection] | None = None,
        history: float = DEFAULT_HISTORY,
        history_interval: float = 2.0,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.attempts = attempts
        self.backend: str = backend
        self.budget = timeout * attempts
        self._connect = connect or (
            lambda: ChronyConnection(address, timeout=timeout, attempts=attempts, backend=backend)
        )
        self._conn: ChronyConnection | None = None
        self._lock = threading.Lock()
        self.history = History(history, min_interval=history_interval)
        self.known: dict[str, Known] = {}
        self.last_error: str | None = None
        self.last_success: float | None = None
        self.last_attempt: float | None = None
        self._cache: dict[tuple[str, ...], Reading] = {}

    def close(self) -> None:
        """Close the shared connection (a later read opens a new one)."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(ChronyError):
                conn.close()

    def _report(self, name: str) -> Any:
        fresh = self._conn is None
        if self._conn is None:
            self._conn = self._connect()
            self.backend = self._conn.backend
        try:
            return self._conn.report(name)
        except ChronyDisabledError:
            raise
        except (ChronyConnectionError, ChronyDataError) as exc:
            self._drop()
            if fresh or isinstance(exc, ChronyTimeoutError):
                raise
        # A session that used to work failed at once: chronyd probably restarted.
        self._conn = self._connect()
        return self._conn.report(name)

    def read(self, names: Iterable[str]) -> Reading:
        """Read each report in ``names``; never raises for chronyd's failures."""
        reading = Reading()
        self.last_attempt = time.time()
        deadline = time.monotonic() + self.budget
        if not self._lock.acquire(timeout=self.budget):
            reading.error = ChronyTimeoutError(
                "chronyd is still busy answering an earlier request; try again"
            )
            return reading
        try:
            for name in names:
                if time.monotonic() > deadline:
                    reading.errors[name] = ChronyTimeoutError("skipped: out of time")
                    continue
                try:
                    reading.values[name] = self._report(name)
                except ChronyConnectionError as exc:
                    reading.error = exc
                    break
                except ChronyError as exc:
                    reading.errors[name] = exc
        finally:
            self._lock.release()
        reading.taken_at = time.time()
        for name, value in reading.values.items():
            self.known[name] = Known(value, reading.taken_at)
        tracking = reading.values.get("tracking")
        if tracking is not None:
            self.history.add_tracking(reading.taken_at, tracking)
        sources = reading.values.get("sources")
        if sources is not None:
            self.history.add_sources(reading.taken_at, sources)
        if reading.up:
            self.last_success = reading.taken_at
        failure = reading.failure
        self.last_error = str(failure) if failure is not None else None
        return reading

    def cached_read(self, names: Iterable[str], max_age: float) -> Reading:
        """Like :meth:`read`, but reuse a reading of the same reports younger than
        ``max_age`` seconds (the page's poller and every open tab share one)."""
        key = tuple(names)
        cached = self._cache.get(key)
        if cached is not None and (time.time() - cached.taken_at <= max_age or self._lock.locked()):
            # Fresh enough, or another read (e.g. waiting on a hung chronyd) is under
            # way: answer at once rather than queue behind it.
            return cached
        reading = self.read(key)
        self._cache[key] = reading
        return reading
