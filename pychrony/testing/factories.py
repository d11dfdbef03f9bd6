"""Factories for the dataclasses, with realistic defaults (any test framework)."""

from __future__ import annotations

from typing import Any

from ..models import (
    Activity,
    AuthData,
    NTPData,
    RTCData,
    SelectData,
    ServerStats,
    Smoothing,
    Source,
    SourceStats,
    TrackingStatus,
)
from .config import ChronyStateConfig, RTCConfig, SourceConfig
from .state import expected_reports

__all__ = [
    "RTCDATA_DEFAULTS",
    "SOURCESTATS_DEFAULTS",
    "SOURCE_DEFAULTS",
    "TRACKING_DEFAULTS",
    "make_activity",
    "make_auth_data",
    "make_ntp_data",
    "make_rtc_data",
    "make_select_data",
    "make_server_stats",
    "make_smoothing",
    "make_source",
    "make_source_stats",
    "make_tracking",
]

# One synchronised chronyd with one NTP source and an RTC: the defaults of all
# (pychrony 2.x's values, which tests written for it assert on).
_DEFAULTS = expected_reports(
    ChronyStateConfig(sources=[SourceConfig(address="192.168.1.100")], rtc=RTCConfig())
)


def _as_dict(model: Any) -> dict[str, Any]:
    return {name: getattr(model, name) for name in model.__dataclass_fields__}


TRACKING_DEFAULTS: dict[str, Any] = _as_dict(_DEFAULTS["tracking"])
SOURCE_DEFAULTS: dict[str, Any] = _as_dict(_DEFAULTS["sources"][0])
SOURCESTATS_DEFAULTS: dict[str, Any] = _as_dict(_DEFAULTS["sourcestats"][0])
RTCDATA_DEFAULTS: dict[str, Any] = _as_dict(_DEFAULTS["rtcdata"])


def _make(model: Any, overrides: dict[str, Any]) -> Any:
    return type(model)(**{**_as_dict(model), **overrides})


def make_tracking(**overrides: Any) -> TrackingStatus:
    """A synchronised TrackingStatus; keywords override fields."""
    return _make(_DEFAULTS["tracking"], overrides)  # type: ignore[no-any-return]


def make_source(**overrides: Any) -> Source:
    """A selected, reachable NTP source."""
    return _make(_DEFAULTS["sources"][0], overrides)  # type: ignore[no-any-return]


def make_source_stats(**overrides: Any) -> SourceStats:
    """Statistics of a source with 8 samples."""
    return _make(_DEFAULTS["sourcestats"][0], overrides)  # type: ignore[no-any-return]


def make_rtc_data(**overrides: Any) -> RTCData:
    """A calibrated RTC."""
    return _make(_DEFAULTS["rtcdata"], overrides)  # type: ignore[no-any-return]


def make_select_data(**overrides: Any) -> SelectData:
    """Selection data of the best source."""
    return _make(_DEFAULTS["selectdata"][0], overrides)  # type: ignore[no-any-return]


def make_ntp_data(**overrides: Any) -> NTPData:
    """NTP data of a healthy server exchange."""
    return _make(_DEFAULTS["ntpdata"][0], overrides)  # type: ignore[no-any-return]


def make_server_stats(**overrides: Any) -> ServerStats:
    """Server counters (chronyd 4.4 layout)."""
    return _make(_DEFAULTS["serverstats"], overrides)  # type: ignore[no-any-return]


def make_activity(**overrides: Any) -> Activity:
    """Activity with one online source."""
    return _make(_DEFAULTS["activity"], overrides)  # type: ignore[no-any-return]


def make_auth_data(**overrides: Any) -> AuthData:
    """An unauthenticated NTP source."""
    return _make(_DEFAULTS["authdata"][0], overrides)  # type: ignore[no-any-return]


def make_smoothing(**overrides: Any) -> Smoothing:
    """Inactive smoothing."""
    return _make(_DEFAULTS["smoothing"], overrides)  # type: ignore[no-any-return]
