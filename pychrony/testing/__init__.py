"""pychrony's testing kit: factories, scenarios, a scripted mock session.

>>> from pychrony.testing import patched_chrony_connection, SCENARIO_LEAP_INSERT
>>> with patched_chrony_connection(SCENARIO_LEAP_INSERT):
...     import pychrony
...     pychrony.get_tracking().is_leap_pending()
True

Pytest fixtures come from the ``pychrony`` plugin (:mod:`pychrony.testing.plugin`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import ERROR_OPERATIONS, ChronyStateConfig, RTCConfig, SourceConfig
from .factories import (
    RTCDATA_DEFAULTS,
    SOURCE_DEFAULTS,
    SOURCESTATS_DEFAULTS,
    TRACKING_DEFAULTS,
    make_activity,
    make_auth_data,
    make_ntp_data,
    make_rtc_data,
    make_select_data,
    make_server_stats,
    make_smoothing,
    make_source,
    make_source_stats,
    make_tracking,
)
from .faults import Fault, FaultKind
from .mock import MockSession
from .patch import patched_chrony_connection
from .records import RawRecord, encode_record
from .report_config import AuthConfig, NTPConfig, SelectConfig
from .scenarios import (
    SCENARIO_CHRONYD_HUNG,
    SCENARIO_CHRONYD_SLOW,
    SCENARIO_GPS_REFCLOCK,
    SCENARIO_LEAP_DELETE,
    SCENARIO_LEAP_INSERT,
    SCENARIO_MULTI_SOURCE,
    SCENARIO_NAMED_SOURCES,
    SCENARIO_NO_SOURCES,
    SCENARIO_NTP_SYNCED,
    SCENARIO_PPS_REFCLOCK,
    SCENARIO_RTC_AVAILABLE,
    SCENARIO_RTC_UNAVAILABLE,
    SCENARIO_SERVING_CLIENTS,
    SCENARIO_SYNC_LOST,
    SCENARIO_UNSYNC,
)
from .state import ScriptedState, expected_reports, replace_field, scripted_state
from .timeline import FakeClock, Phase, Step, Timeline, TimelineCursor, drifting

#: Every preset, by name.
SCENARIOS: dict[str, ChronyStateConfig] = {
    "ntp_synced": SCENARIO_NTP_SYNCED,
    "unsync": SCENARIO_UNSYNC,
    "leap_insert": SCENARIO_LEAP_INSERT,
    "leap_delete": SCENARIO_LEAP_DELETE,
    "gps_refclock": SCENARIO_GPS_REFCLOCK,
    "pps_refclock": SCENARIO_PPS_REFCLOCK,
    "rtc_available": SCENARIO_RTC_AVAILABLE,
    "rtc_unavailable": SCENARIO_RTC_UNAVAILABLE,
    "multi_source": SCENARIO_MULTI_SOURCE,
    "no_sources": SCENARIO_NO_SOURCES,
    "sync_lost": SCENARIO_SYNC_LOST,
    "named_sources": SCENARIO_NAMED_SOURCES,
    "serving_clients": SCENARIO_SERVING_CLIENTS,
}
#: Presets of a chronyd misbehaving (their values are SCENARIO_NTP_SYNCED's).
FAULT_SCENARIOS: dict[str, ChronyStateConfig] = {
    "chronyd_hung": SCENARIO_CHRONYD_HUNG,
    "chronyd_slow": SCENARIO_CHRONYD_SLOW,
}

__all__ = [
    "ERROR_OPERATIONS",
    "FAULT_SCENARIOS",
    "RTCDATA_DEFAULTS",
    "SCENARIOS",
    "SCENARIO_CHRONYD_HUNG",
    "SCENARIO_CHRONYD_SLOW",
    "SCENARIO_GPS_REFCLOCK",
    "SCENARIO_LEAP_DELETE",
    "SCENARIO_LEAP_INSERT",
    "SCENARIO_MULTI_SOURCE",
    "SCENARIO_NAMED_SOURCES",
    "SCENARIO_NO_SOURCES",
    "SCENARIO_NTP_SYNCED",
    "SCENARIO_PPS_REFCLOCK",
    "SCENARIO_RTC_AVAILABLE",
    "SCENARIO_RTC_UNAVAILABLE",
    "SCENARIO_SERVING_CLIENTS",
    "SCENARIO_SYNC_LOST",
    "SCENARIO_UNSYNC",
    "SOURCESTATS_DEFAULTS",
    "SOURCE_DEFAULTS",
    "TRACKING_DEFAULTS",
    "AuthConfig",
    "ChronyStateConfig",
    "FakeChronyd",
    "FakeClock",
    "Fault",
    "FaultKind",
    "MockSession",
    "NTPConfig",
    "Phase",
    "RTCConfig",
    "RawRecord",
    "ScriptedState",
    "SelectConfig",
    "SourceConfig",
    "Step",
    "Timeline",
    "TimelineCursor",
    "drifting",
    "encode_record",
    "expected_reports",
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
    "patched_chrony_connection",
    "replace_field",
    "scripted_state",
]

if TYPE_CHECKING:
    from ..protocol.driver import FakeChronyd


def __getattr__(name: str) -> Any:
    """``FakeChronyd`` on first use: the fake chronyd's server (pychrony.protocol)
    builds on this kit's configs, so importing it here eagerly would be circular."""
    if name == "FakeChronyd":
        from ..protocol.driver import FakeChronyd

        return FakeChronyd
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
