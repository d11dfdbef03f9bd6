"""Preset scenarios: chronyd states test authors need without hardware."""

from __future__ import annotations

import dataclasses

from ..models import NEVER_SAMPLED, NO_INTERVAL, Client, LeapStatus, SourceMode, SourceState
from .config import ChronyStateConfig, RTCConfig, SourceConfig
from .faults import Fault
from .report_config import NTPConfig

__all__ = [
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
]

_SERVER = "192.0.2.100"

#: Synchronised to one NTP server at stratum 2 (the default scenario).
SCENARIO_NTP_SYNCED = ChronyStateConfig(
    stratum=2,
    reference_id=0xC0000264,  # 192.0.2.100
    reference_ip=_SERVER,
    sources=[SourceConfig(address=_SERVER, stratum=1)],
)

#: The tracking report of a chronyd that is not synchronised, as chronyd 4.3 sends it
#: (reference.c, REF_GetReferenceParams and REF_GetTrackingReport): reference ID 0
#: and no address, stratum 0 (its unsynchronised stratum 16, NTP_MAX_STRATUM, is
#: reported as 0), no reference time, root delay and dispersion 1 s, leap status 3
#: ("Not synchronised"), no residual frequency or skew. Checked against a real
#: chronyd in tests/integration/test_scenarios_lab.py.
_UNSYNCHRONISED = ChronyStateConfig(
    stratum=0,
    reference_id=0,
    reference_ip="",
    leap_status=LeapStatus.UNSYNC,
    ref_time=0.0,
    residual_freq=0.0,
    skew=0.0,
    root_delay=1.0,
    root_dispersion=1.0,
)

#: A fresh chronyd's tracking before its first synchronisation: nothing measured
#: yet (no offsets, frequency 0 without a driftfile, no update interval).
_NEVER_SYNCHRONISED = dataclasses.replace(
    _UNSYNCHRONISED,
    offset=0.0,
    last_offset=0.0,
    rms_offset=0.0,
    frequency=0.0,
    update_interval=0.0,
)

#: Not synchronised: its only server never answered (as chronyd reports it: see
#: ``_UNSYNCHRONISED``; the source is "?" with chronyd's never-sampled statistics).
SCENARIO_UNSYNC = dataclasses.replace(
    _NEVER_SYNCHRONISED,
    sources=[
        SourceConfig(
            address=_SERVER,
            state=SourceState.NONSELECTABLE,
            reachability=0,
            stratum=0,
            last_sample_ago=0xFFFFFFFF,
            orig_latest_meas=0.0,
            latest_meas=0.0,
            latest_meas_err=0.0,
            samples=0,
            runs=0,
            span=0,
            # sourcestats.c without samples: the worst-case bounds, zero offsets.
            std_dev=4.0,
            resid_freq=0.0,
            stats_skew=2000.0,
            stats_offset=0.0,
            offset_err=0.0,
        )
    ],
)

#: A leap second will be inserted at the end of the day.
SCENARIO_LEAP_INSERT = ChronyStateConfig(
    reference_id=0xC0000264,
    reference_ip=_SERVER,
    leap_status=LeapStatus.INSERT,
    sources=[SourceConfig(address=_SERVER, stratum=1)],
)

#: A leap second will be deleted at the end of the day.
SCENARIO_LEAP_DELETE = ChronyStateConfig(
    reference_id=0xC0000264,
    reference_ip=_SERVER,
    leap_status=LeapStatus.DELETE,
    sources=[SourceConfig(address=_SERVER, stratum=1)],
)

#: Synchronised to a GPS reference clock (stratum 1, reference ID "GPS").
SCENARIO_GPS_REFCLOCK = ChronyStateConfig(
    stratum=1,
    reference_id=0x47505300,  # "GPS"
    reference_ip="",
    root_delay=0.0,
    root_dispersion=0.00001,
    sources=[
        SourceConfig(
            address="GPS",
            mode=SourceMode.REFCLOCK,
            stratum=0,
            poll=4,
            latest_meas_err=0.0000005,
        )
    ],
)

#: Synchronised to a PPS reference clock (reference ID "PPS").
SCENARIO_PPS_REFCLOCK = ChronyStateConfig(
    stratum=1,
    reference_id=0x50505300,  # "PPS"
    reference_ip="",
    root_delay=0.0,
    root_dispersion=0.000001,
    sources=[
        SourceConfig(
            address="PPS",
            mode=SourceMode.REFCLOCK,
            stratum=0,
            poll=4,
            latest_meas_err=0.00000005,
        )
    ],
)

#: chronyd tracks the RTC.
SCENARIO_RTC_AVAILABLE = ChronyStateConfig(
    reference_id=0xC0000264,
    reference_ip=_SERVER,
    sources=[SourceConfig(address=_SERVER, stratum=1)],
    rtc=RTCConfig(available=True),
)

#: chronyd does not track the RTC: get_rtc_data() is None.
SCENARIO_RTC_UNAVAILABLE = ChronyStateConfig(
    reference_id=0xC0000264,
    reference_ip=_SERVER,
    sources=[SourceConfig(address=_SERVER, stratum=1)],
    rtc=RTCConfig(available=False),
)

#: A selected, a selectable, an unreachable and a falseticker source.
SCENARIO_MULTI_SOURCE = ChronyStateConfig(
    reference_id=0xC0000264,
    reference_ip=_SERVER,
    sources=[
        SourceConfig(address=_SERVER, stratum=1, state=SourceState.SELECTED),
        SourceConfig(
            address="192.0.2.101",
            state=SourceState.SELECTABLE,
            last_sample_ago=64,
            orig_latest_meas=0.000234567,
            latest_meas=0.000234567,
            latest_meas_err=0.00002,
        ),
        SourceConfig(
            address="2001:db8::102",
            state=SourceState.UNSELECTED,
            reachability=0,
            last_sample_ago=3600,
            orig_latest_meas=0.0,
            latest_meas=0.0,
            latest_meas_err=0.0,
        ),
        SourceConfig(
            address="192.0.2.103",
            state=SourceState.FALSETICKER,
            reachability=128,
            orig_latest_meas=1.23456789,
            latest_meas=1.23456789,
            latest_meas_err=0.1,
        ),
    ],
)

#: chronyd with no sources configured: never synchronised (``_UNSYNCHRONISED``).
SCENARIO_NO_SOURCES = dataclasses.replace(_NEVER_SYNCHRONISED, sources=[])

#: Sync lost: the only server went unreachable and chronyd gave up on it. As
#: chronyd 4.3 reports it (``_UNSYNCHRONISED``); the last offset, RMS offset,
#: frequency and update interval keep their last values.
SCENARIO_SYNC_LOST = dataclasses.replace(
    _UNSYNCHRONISED,
    sources=[
        SourceConfig(
            address=_SERVER,
            stratum=1,
            state=SourceState.NONSELECTABLE,
            reachability=0,
            last_sample_ago=1200,
        )
    ],
)

#: chronyd hung (stopped, deadlocked): it answers nothing, every read times out.
SCENARIO_CHRONYD_HUNG = dataclasses.replace(SCENARIO_NTP_SYNCED, faults=(Fault.hung(),))

#: chronyd answering half a second late (a loaded machine).
SCENARIO_CHRONYD_SLOW = dataclasses.replace(SCENARIO_NTP_SYNCED, faults=(Fault.late(0.5),))

#: Sources configured by name (``server ntp1.example.org``), as ``sourcename`` tells.
SCENARIO_NAMED_SOURCES = ChronyStateConfig(
    reference_id=0xC0000264,
    reference_ip=_SERVER,
    sources=[
        SourceConfig(address=_SERVER, stratum=1, name="ntp1.example.org"),
        SourceConfig(
            address="2001:db8::1",
            state=SourceState.SELECTABLE,
            name="ntp2.example.org",
            ntp=NTPConfig(local_address="2001:db8::99"),
        ),
    ],
)


#: A server with an NTP client, a client it rate-limits, an NTS-KE client and a
#: monitoring host polling its UDP command port (``chronyc clients``).
SCENARIO_SERVING_CLIENTS = dataclasses.replace(
    SCENARIO_NTP_SYNCED,
    clients=[
        Client("192.0.2.10", 1520, 0, 0, 0, 0, 0, 6, NO_INTERVAL, NO_INTERVAL, NO_INTERVAL,
               12, NEVER_SAMPLED, NEVER_SAMPLED),
        Client("192.0.2.11", 90210, 0, 0, 340, 0, 0, -3, NO_INTERVAL, NO_INTERVAL, 1,
               0, NEVER_SAMPLED, NEVER_SAMPLED),
        Client("2001:db8::7", 64, 3, 0, 0, 0, 0, 10, 12, NO_INTERVAL, NO_INTERVAL,
               700, 5000, NEVER_SAMPLED),
        Client("198.51.100.5", 0, 0, 42, 0, 0, 1, NO_INTERVAL, NO_INTERVAL, 4, NO_INTERVAL,
               NEVER_SAMPLED, NEVER_SAMPLED, 3),
    ],
)  # fmt: skip
