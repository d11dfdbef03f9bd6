"""Reading chronyd for scrapes: one deadline per scrape, one read in flight at a time.

A scrape asks :meth:`ScrapeReader.read` for its reports and gets, by its deadline,
every report that answered; the others are marked failed. The reading itself runs
in a worker thread (a *flight*) through one :class:`pychrony.ChronyConnection`:
scrapes arriving while a flight is under way join it instead of queueing behind a
lock, so eight parallel scrapes against a hung chronyd all return at their
deadline, and chronyd sees one set of requests, not eight. The exporter holds no
protocol knowledge: the connection's ``timeout * attempts`` is the deadline.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..connection import Backend, ChronyConnection
from ..exceptions import (
    ChronyConnectionError,
    ChronyDataError,
    ChronyDisabledError,
    ChronyError,
    ChronyTimeoutError,
)

__all__ = ["DEFAULT_DEADLINE", "Reading", "ReportSource", "ScrapeReader", "scrape_request"]

#: Seconds a scrape may take by default (chrony_exporter's ``--chrony.timeout``).
DEFAULT_DEADLINE = 5.0
#: Requests sent per report before giving up; they share the deadline.
ATTEMPTS = 3


@dataclass(frozen=True)
class _Request:
    arrived: float  # time.monotonic() when the HTTP request came in
    timeout: float | None  # the scraper's own timeout, when it tells one


# Set by the app around one collection, in the thread that collects.
_REQUEST: contextvars.ContextVar[_Request | None] = contextvars.ContextVar(
    "pychrony_scrape_request", default=None
)


@contextlib.contextmanager
def scrape_request(arrived: float, timeout: float | None = None) -> Iterator[None]:
    """Inside the block a :meth:`ScrapeReader.read` counts its deadline from
    ``arrived`` (``time.monotonic()`` when the request came in, so time spent
    queued for a worker thread counts too) and ends by ``timeout`` seconds after
    it when that is the shorter (Prometheus' X-Prometheus-Scrape-Timeout-Seconds)."""
    token = _REQUEST.set(_Request(arrived, timeout))
    try:
        yield
    finally:
        _REQUEST.reset(token)


class Reading(Protocol):
    """What a read gives: the reports that answered and why the others did not."""

    @property
    def values(self) -> Mapping[str, Any]: ...
    @property
    def errors(self) -> Mapping[str, ChronyError]: ...
    @property
    def error(self) -> ChronyError | None: ...


class ReportSource(Protocol):
    """Anything that reads several reports at once without raising for chronyd's
    failures: :class:`ScrapeReader`, or the dashboard's ``ChronyReader``."""

    def read(self, names: Sequence[str]) -> Reading: ...


@dataclass
class ScrapeReading:
    """One scrape's reports (``values``), failures (``errors``) and, when chronyd
    could not be reached at all, ``error``."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, ChronyError] = field(default_factory=dict)
    error: ChronyError | None = None


class _Flight:
    """One read of ``names`` under way; joined by every scrape that arrives meanwhile."""

    def __init__(self, names: tuple[str, ...], deadline: float) -> None:
        self.names = names
        self.deadline = deadline
        self.values: dict[str, Any] = {}
        self.errors: dict[str, ChronyError] = {}
        self.error: ChronyError | None = None
        self.done = False
        self.changed = threading.Condition()

    def wait(self, until: float) -> ScrapeReading:
        """What the flight has by ``until`` (monotonic); the rest marked as missed."""
        with self.changed:
            while not self.done:
                left = until - time.monotonic()
                if left <= 0:
                    break
                self.changed.wait(left)
            reading = ScrapeReading(dict(self.values), dict(self.errors), self.error)
        if not self.done:
            late = ChronyTimeoutError("chronyd did not answer within the scrape's deadline")
            for name in self.names:
                if name not in reading.values and name not in reading.errors:
                    reading.errors[name] = late
            if not reading.values and reading.error is None:
                reading.error = late
        return reading


class ScrapeReader:
    """Reads reports for scrapes, each bounded by ``deadline`` seconds (single flight).

    ``address`` and ``backend`` are :class:`pychrony.ChronyConnection`'s; its
    per-reply timeout is ``deadline / 3`` with 3 attempts, so a flight never
    outlives the scrape that started it by more than one reply's wait. After a
    connection or data error the connection is reopened on the next flight (at
    once when a session that used to work fails: chronyd restarted).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        deadline: float = DEFAULT_DEADLINE,
        backend: Backend = "auto",
        connect: Callable[[], ChronyConnection] | None = None,
    ) -> None:
        if not deadline > 0:
            raise ChronyError(f"deadline must be a positive number of seconds, not {deadline!r}")
        self.address = address
        self.deadline = float(deadline)
        self._connect = connect or (
            lambda: ChronyConnection(
                address, timeout=self.deadline / ATTEMPTS, attempts=ATTEMPTS, backend=backend
            )
        )
        # Checks the address and backend now, not at the first scrape.
        self._conn: ChronyConnection | None = self._connect()
        self._proven = False  # the connection has answered once
        self.backend: str = self._conn.backend
        self._lock = threading.Lock()  # guards _flight
        self._flight: _Flight | None = None

    def read(self, names: Sequence[str], deadline: float | None = None) -> ScrapeReading:
        """Each report in ``names`` that answers within ``deadline`` seconds (default:
        the reader's; from the request's arrival inside :func:`scrape_request`);
        never raises for chronyd's failures."""
        seconds = self.deadline if deadline is None else deadline
        request = _REQUEST.get()
        start = time.monotonic() if request is None else request.arrived
        if request is not None and request.timeout is not None:
            seconds = min(seconds, request.timeout)
        until = start + seconds
        key = tuple(names)
        with self._lock:
            flight = self._flight
            busy = flight is not None and not flight.done
            if not busy:
                flight = self._start(key)
        if busy and flight is not None and flight.names != key:
            flight.wait(until)  # another set of reports is being read: its turn first
            with self._lock:
                flight = self._flight
                if flight is None or flight.done:
                    flight = self._start(key)
            if flight.names != key:
                return _all_failed(key, "chronyd is still busy with an earlier read")
        assert flight is not None
        return flight.wait(until)

    def close(self) -> None:
        """Close the connection (a later read opens a new one)."""
        with self._lock:
            self._drop()

    def _start(self, names: tuple[str, ...]) -> _Flight:
        flight = _Flight(names, time.monotonic() + self.deadline)
        self._flight = flight
        threading.Thread(
            target=self._fly, args=(flight,), name="pychrony-scrape", daemon=True
        ).start()
        return flight

    def _fly(self, flight: _Flight) -> None:
        try:
            for name in flight.names:
                if time.monotonic() > flight.deadline:
                    failure: ChronyError = ChronyTimeoutError("skipped: the deadline had passed")
                    with flight.changed:
                        flight.errors[name] = failure
                    continue
                try:
                    value = self._report(name)
                except ChronyConnectionError as exc:
                    with flight.changed:
                        flight.error = exc
                        for rest in flight.names:
                            if rest not in flight.values:
                                flight.errors.setdefault(rest, exc)
                    break
                except ChronyError as exc:
                    with flight.changed:
                        flight.errors[name] = exc
                        flight.changed.notify_all()
                    continue
                with flight.changed:
                    flight.values[name] = value
                    flight.changed.notify_all()
        finally:
            with flight.changed:
                flight.done = True
                flight.changed.notify_all()

    def _report(self, name: str) -> Any:
        if self._conn is None:
            self._conn, self._proven = self._connect(), False
        try:
            value = self._conn.report(name)
        except ChronyDisabledError:
            raise
        except (ChronyConnectionError, ChronyDataError) as exc:
            proven = self._proven
            self._drop()
            if not proven or isinstance(exc, ChronyTimeoutError):
                raise
            # A session that used to work failed at once: chronyd probably restarted.
            self._conn, self._proven = self._connect(), False
            value = self._conn.report(name)
        self._proven = True
        return value

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(ChronyError):
                conn.close()


def _all_failed(names: Sequence[str], why: str) -> ScrapeReading:
    failure = ChronyTimeoutError(why)
    return ScrapeReading(errors=dict.fromkeys(names, failure), error=failure)
