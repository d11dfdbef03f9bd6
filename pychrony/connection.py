"""``ChronyConnection``: one session to chronyd and a reader for its reports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Literal, TypeVar

from . import _backend, _reader_py
from ._arguments import check_address, check_attempts, check_seconds
from ._session import Session
from .exceptions import ChronyConnectionError, ChronyError, ChronyLibraryError
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
from .registry import REPORTS, REPORTS_BY_NAME, Report

__all__ = [
    "DEFAULT_ATTEMPTS",
    "DEFAULT_TIMEOUT",
    "Backend",
    "ChronyConnection",
    "ReportMethods",
    "describe_getters",
    "find_report",
]

Backend = Literal["auto", "native", "python"]
_C = TypeVar("_C")

#: Seconds to wait for each reply before resending.
DEFAULT_TIMEOUT = 1.0
#: Requests sent before giving up with ChronyTimeoutError.
DEFAULT_ATTEMPTS = 3

_NATIVE_HINT = (
    "The native backend needs pychrony's extension built against libchrony: install "
    "a manylinux wheel (`pip install pychrony`), or libchrony's development files "
    "(e.g. `dnf install libchrony-devel`) and reinstall from source; "
    'backend="python" works everywhere'
)

# Session factories pushed by pychrony.testing.patched_chrony_connection.
_session_overrides: list[Callable[[str | None], Session]] = []


@contextmanager
def session_override(factory: Callable[[str | None], Session]) -> Iterator[None]:
    """Make every ChronyConnection created inside the block use ``factory``
    (called with the address the connection was given)."""
    _session_overrides.append(factory)
    try:
        yield
    finally:
        _session_overrides.remove(factory)


def find_report(name: str) -> Report:
    """The registry's report named ``name``; ChronyError for an unknown name."""
    try:
        return REPORTS_BY_NAME[name]
    except KeyError:
        raise ChronyError(f"Unknown report {name!r}; known: {', '.join(REPORTS_BY_NAME)}") from None


def describe_getters(cls: type[_C]) -> type[_C]:
    """Give the report getters of ``cls`` the registry's descriptions as docstrings."""
    for report in REPORTS:
        getattr(cls, report.getter).__doc__ = report.description
    return cls


@describe_getters
class ReportMethods:
    """``get_tracking()`` & co. over ``report(name)`` (registry: ``Report.getter``)."""

    def report(self, name: str) -> Any:
        """Any report by libchrony name ("tracking", "sources", …)."""
        raise NotImplementedError

    def get_tracking(self) -> TrackingStatus:
        return self.report("tracking")  # type: ignore[no-any-return]

    def get_sources(self) -> list[Source]:
        return self.report("sources")  # type: ignore[no-any-return]

    def get_source_stats(self) -> list[SourceStats]:
        return self.report("sourcestats")  # type: ignore[no-any-return]

    def get_select_data(self) -> list[SelectData]:
        return self.report("selectdata")  # type: ignore[no-any-return]

    def get_ntp_data(self) -> list[NTPData]:
        return self.report("ntpdata")  # type: ignore[no-any-return]

    def get_server_stats(self) -> ServerStats:
        return self.report("serverstats")  # type: ignore[no-any-return]

    def get_activity(self) -> Activity:
        return self.report("activity")  # type: ignore[no-any-return]

    def get_auth_data(self) -> list[AuthData]:
        return self.report("authdata")  # type: ignore[no-any-return]

    def get_rtc_data(self) -> RTCData | None:
        return self.report("rtcdata")  # type: ignore[no-any-return]

    def get_smoothing(self) -> Smoothing:
        return self.report("smoothing")  # type: ignore[no-any-return]

    def get_clients(self) -> list[Client]:
        """chronyd's client access log (Unix socket only; see ``backend_of``)."""
        return self.report("clients")  # type: ignore[no-any-return]


class ChronyConnection(ReportMethods):
    """A connection to chronyd's command interface.

    ``address``: a Unix socket path, ``IPv4[:port]``, ``IPv6`` or ``[IPv6]:port``;
    None tries /run/chrony/chronyd.sock, /var/run/chrony/chronyd.sock, 127.0.0.1
    and ::1. ``timeout`` bounds each wait for a reply (seconds) and ``attempts``
    the number of requests sent, so a call never takes longer than their product.
    ``backend``: "native" (libchrony extension), "python" (pychrony's own
    protocol client) or "auto" (native where built). The session opens on
    ``__enter__`` or the first call, and closes on ``__exit__`` (a later ``with``
    opens it again). A connection is for one thread at a time
    (a call made while another thread's call runs raises ChronyError): share
    a :class:`pychrony.ChronyConnectionPool` between threads instead.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        attempts: int = DEFAULT_ATTEMPTS,
        backend: Backend = "auto",
    ) -> None:
        timeout = check_seconds("timeout", timeout)
        check_attempts(attempts)
        check_address(address)
        self.requested_address = address
        self.timeout = float(timeout)
        self.attempts = attempts
        # No attribute refers back to self (no bound method, no closure): a dropped,
        # unclosed connection is freed at once, closing its socket, instead of
        # holding a descriptor until the cyclic garbage collector runs.
        self._factory: Callable[[str | None], Any] | None = None  # a patched session factory
        self._native: Any = None
        self._read: Callable[[Any, Report], Any]
        self.backend: str = self._choose_backend(backend)
        self._session: Any = None
        self._side: Any = None  # pychrony's client beside libchrony's (see backend_of)
        self._closed = False
        # One token while no call runs: a call pops it and puts it back. pop() and
        # append() are atomic, and ~900 instructions cheaper per call than
        # Lock.acquire(False), which parses its arguments as keywords.
        self._idle = [True]

    def _choose_backend(self, backend: str) -> str:
        if backend not in ("auto", "native", "python"):
            raise ChronyError(f'backend must be "auto", "native" or "python", not {backend!r}')
        if _session_overrides:
            self._factory = _session_overrides[-1]
            self._read = _reader_py.read_report
            return "python"
        native = _backend.native
        if backend == "native" and native is None:
            raise ChronyLibraryError(
                "libchrony bindings not available (native backend): "
                f"{_backend.NATIVE_UNAVAILABLE_REASON}. {_NATIVE_HINT}"
            )
        if backend != "python" and native is not None:
            self._native = native
            self._read = native.read_report
            return "native"
        self._read = _reader_py.read_report
        return "python"

    def _open_session(self) -> Any:
        if self._factory is not None:
            return self._factory(self.requested_address)
        address = self.requested_address
        if self._native is not None:
            return self._native.open_session(address, self.timeout, self.attempts)
        from .protocol.session import open_session

        return open_session(address, timeout=self.timeout, attempts=self.attempts)

    # -- lifecycle ------------------------------------------------------------

    def open(self) -> ChronyConnection:
        """Open the session now (otherwise the first call does)."""
        if self._closed:
            raise ChronyConnectionError("This ChronyConnection is closed; create a new one")
        if self._session is None:
            self._session = self._open_session()
        return self

    def close(self) -> None:
        """Close the session; further calls raise ChronyConnectionError."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            session.close()
        side, self._side = self._side, None
        if side is not None:
            side.close()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def __enter__(self) -> ChronyConnection:
        # `with conn:` again reopens a closed connection: pychrony 2.x reuses one so.
        self._closed = False
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._session else "not opened"
        where = self.requested_address or "auto"
        return f"<ChronyConnection {where} backend={self.backend} {state}>"

    # -- reports --------------------------------------------------------------

    @property
    def session(self) -> Any:
        """The open session (None before the first call and after close)."""
        return self._session

    @property
    def address(self) -> str | None:
        """The address connected to: the one given, or the candidate auto-detection
        connected to ("/run/chrony/chronyd.sock", "127.0.0.1:323", …); None before
        the session opens and after close."""
        session = self._session
        if session is None:
            return None
        return self.requested_address or session.address

    @property
    def transport(self) -> Transport | None:
        """:class:`pychrony.Transport` of :attr:`address`; None when not connected."""
        session = self._session
        return None if session is None else Transport.of(session.address)

    def read_with(self, session: Any, report: Report) -> Any:
        """Read ``report`` from ``session`` with this connection's reader."""
        return self._read(session, report)

    def report(self, name: str) -> Any:
        """Any report by libchrony name ("tracking", "sources", …)."""
        return getattr(self, find_report(name).getter)()

    def backend_of(self, name: str) -> str:
        """The code that reads report ``name``: :attr:`backend`, except for reports
        libchrony lacks (``clients``), which pychrony's own protocol client ("python")
        reads on a session of its own beside the native one."""
        report = find_report(name)
        return self.backend if report.libchrony else "python"

    def protocol_session(self) -> Any:
        """The session pychrony's protocol client reads ``libchrony=False`` reports
        with: this connection's own (python backend, a mock), or with the native
        backend one opened beside libchrony's to the same address."""
        session = self._session
        if session is None:
            session = self.open()._session
        if self._native is None:
            return session
        if self._side is None:
            from .protocol.session import open_session

            self._side = open_session(self.address, timeout=self.timeout, attempts=self.attempts)
        return self._side


def _in_use() -> ChronyError:
    return ChronyError(
        "This ChronyConnection is in use by another thread: use one connection per "
        "thread, or share a ChronyConnectionPool"
    )


def _guarded_getter(report: Report) -> Callable[[ChronyConnection], Any]:
    """ChronyConnection's getter of ``report``: one call at a time, the session
    opened by the first. The hot path of every poll, so one function, no lookups."""

    def getter(self: ChronyConnection) -> Any:
        try:
            self._idle.pop()
        except IndexError:
            raise _in_use() from None
        try:
            session = self._session
            if session is None:
                session = self.open()._session
            return self._read(session, report)
        finally:
            self._idle.append(True)

    getter.__name__ = report.getter
    getter.__qualname__ = f"ChronyConnection.{report.getter}"
    return getter


for _report in REPORTS:
    setattr(ChronyConnection, _report.getter, _guarded_getter(_report))
del _report
describe_getters(ChronyConnection)


def _get_clients(self: ChronyConnection) -> list[Client]:
    """chronyd's client access log (Unix socket only; see ``backend_of``)."""
    from ._clients import read_clients

    try:
        self._idle.pop()
    except IndexError:
        raise _in_use() from None
    try:
        return read_clients(self.protocol_session())
    finally:
        self._idle.append(True)


_get_clients.__qualname__ = "ChronyConnection.get_clients"
setattr(ChronyConnection, "get_clients", _get_clients)  # noqa: B010 (as the loop above)
