"""pychrony: read the chrony NTP daemon's state from Python.

>>> import pychrony
>>> status = pychrony.get_tracking()          # doctest: +SKIP
>>> with pychrony.ChronyConnection() as conn:  # doctest: +SKIP
...     sources = conn.get_sources()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._backend import native as _native
from ._version import __version__
from .connection import ChronyConnection
from .exceptions import (
    ChronyConnectionError,
    ChronyDataError,
    ChronyDisabledError,
    ChronyError,
    ChronyLibraryError,
    ChronyPermissionError,
    ChronyTimeoutError,
)
from .models import (
    NEVER_SAMPLED,
    NO_INTERVAL,
    Activity,
    AuthData,
    AuthMode,
    Client,
    KeyType,
    LeapStatus,
    NTPData,
    NTPFlags,
    NTPMode,
    RTCData,
    SelectData,
    SelectOptions,
    SelectState,
    ServerStats,
    Smoothing,
    SmoothingFlags,
    Source,
    SourceMode,
    SourceState,
    SourceStats,
    Timestamping,
    TrackingStatus,
    Transport,
)
from .pool import ChronyConnectionPool

if TYPE_CHECKING:
    from .aio import AsyncChronyConnection

#: True when the libchrony extension is importable in this interpreter.
HAS_NATIVE = _native is not None

__all__ = [
    "HAS_NATIVE",
    "NEVER_SAMPLED",
    "NO_INTERVAL",
    "Activity",
    "AsyncChronyConnection",
    "AuthData",
    "AuthMode",
    "ChronyConnection",
    "ChronyConnectionError",
    "ChronyConnectionPool",
    "ChronyDataError",
    "ChronyDisabledError",
    "ChronyError",
    "ChronyLibraryError",
    "ChronyPermissionError",
    "ChronyTimeoutError",
    "Client",
    "KeyType",
    "LeapStatus",
    "NTPData",
    "NTPFlags",
    "NTPMode",
    "RTCData",
    "SelectData",
    "SelectOptions",
    "SelectState",
    "ServerStats",
    "Smoothing",
    "SmoothingFlags",
    "Source",
    "SourceMode",
    "SourceState",
    "SourceStats",
    "Timestamping",
    "TrackingStatus",
    "Transport",
    "__version__",
    "get_activity",
    "get_auth_data",
    "get_clients",
    "get_ntp_data",
    "get_rtc_data",
    "get_select_data",
    "get_server_stats",
    "get_smoothing",
    "get_source_stats",
    "get_sources",
    "get_tracking",
]


def __getattr__(name: str) -> Any:
    if name == "AsyncChronyConnection":  # imported on first use: asyncio is large
        from .aio import AsyncChronyConnection

        return AsyncChronyConnection
    raise AttributeError(f"module 'pychrony' has no attribute {name!r}")


def _once(report: str, address: str | None, kw: dict[str, Any]) -> Any:
    with ChronyConnection(address, **kw) as conn:
        return conn.report(report)


def get_tracking(address: str | None = None, **kw: Any) -> TrackingStatus:
    """Tracking status over a one-off connection (keywords as ChronyConnection)."""
    return _once("tracking", address, kw)  # type: ignore[no-any-return]


def get_sources(address: str | None = None, **kw: Any) -> list[Source]:
    """All sources over a one-off connection."""
    return _once("sources", address, kw)  # type: ignore[no-any-return]


def get_source_stats(address: str | None = None, **kw: Any) -> list[SourceStats]:
    """Source statistics over a one-off connection."""
    return _once("sourcestats", address, kw)  # type: ignore[no-any-return]


def get_select_data(address: str | None = None, **kw: Any) -> list[SelectData]:
    """Selection data over a one-off connection."""
    return _once("selectdata", address, kw)  # type: ignore[no-any-return]


def get_ntp_data(address: str | None = None, **kw: Any) -> list[NTPData]:
    """NTP data of each NTP source over a one-off connection."""
    return _once("ntpdata", address, kw)  # type: ignore[no-any-return]


def get_server_stats(address: str | None = None, **kw: Any) -> ServerStats:
    """Server counters over a one-off connection."""
    return _once("serverstats", address, kw)  # type: ignore[no-any-return]


def get_activity(address: str | None = None, **kw: Any) -> Activity:
    """Source activity over a one-off connection."""
    return _once("activity", address, kw)  # type: ignore[no-any-return]


def get_auth_data(address: str | None = None, **kw: Any) -> list[AuthData]:
    """Authentication data over a one-off connection."""
    return _once("authdata", address, kw)  # type: ignore[no-any-return]


def get_rtc_data(address: str | None = None, **kw: Any) -> RTCData | None:
    """RTC data (None when not tracked) over a one-off connection."""
    return _once("rtcdata", address, kw)  # type: ignore[no-any-return]


def get_smoothing(address: str | None = None, **kw: Any) -> Smoothing:
    """Smoothing state over a one-off connection."""
    return _once("smoothing", address, kw)  # type: ignore[no-any-return]


def get_clients(address: str | None = None, **kw: Any) -> list[Client]:
    """chronyd's client access log over a one-off connection (Unix socket only)."""
    return _once("clients", address, kw)  # type: ignore[no-any-return]
