"""User stories: every scenario round-trips through a session and a reader."""

from __future__ import annotations

import pytest

from pychrony import LeapStatus, SourceMode, SourceState
from pychrony._clients import read_clients
from pychrony.exceptions import ChronyDisabledError
from pychrony.registry import REPORTS, REPORTS_BY_NAME
from pychrony.testing import (
    SCENARIO_GPS_REFCLOCK,
    SCENARIO_LEAP_DELETE,
    SCENARIO_LEAP_INSERT,
    SCENARIO_MULTI_SOURCE,
    SCENARIO_NO_SOURCES,
    SCENARIO_NTP_SYNCED,
    SCENARIO_PPS_REFCLOCK,
    SCENARIO_RTC_AVAILABLE,
    SCENARIO_RTC_UNAVAILABLE,
    SCENARIO_UNSYNC,
    SCENARIOS,
    ChronyStateConfig,
    MockSession,
    RTCConfig,
    SourceConfig,
    expected_reports,
)


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("report", [r.name for r in REPORTS])
def test_every_scenario_round_trips(open_reader, name, report):
    config = SCENARIOS[name]
    names = open_reader.__name__ != "_native_reader"  # libchrony cannot ask a source's name
    assert open_reader(config)(report) == expected_reports(config, names=names)[report]


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_serves_its_clients(name):
    """The client log (read by pychrony's own client on both backends: no native
    reader over the double) through the mock session's interface."""
    config = SCENARIOS[name]
    assert read_clients(MockSession(config)) == config.clients
    assert REPORTS_BY_NAME["clients"].libchrony is False


def test_client_configs_are_checked_against_the_registry():
    from pychrony import Client
    from pychrony.models import NEVER_SAMPLED, NO_INTERVAL

    def client(**kw: object) -> Client:
        fields = dict(
            address="192.0.2.1", ntp_hits=1, nke_hits=0, cmd_hits=0, ntp_drops=0,
            nke_drops=0, cmd_drops=0, ntp_interval=3, nke_interval=NO_INTERVAL,
            cmd_interval=NO_INTERVAL, ntp_timeout_interval=NO_INTERVAL,
            last_ntp_hit_ago=1, last_nke_hit_ago=NEVER_SAMPLED, last_cmd_hit_ago=NEVER_SAMPLED,
        )  # fmt: skip
        return Client(**{**fields, **kw})  # type: ignore[arg-type]

    ChronyStateConfig(clients=[client()])
    for bad, match in (
        (client(address="not-an-ip"), "IP address"),
        (client(ntp_hits=-1), "within"),
        (client(ntp_interval=128), "within"),
        (client(last_ntp_hit_ago=2**32), "within"),
        ("192.0.2.1", "pychrony.Client"),
    ):
        with pytest.raises(ValueError, match=match):
            ChronyStateConfig(clients=[bad])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("config", "pending"),
    [
        (SCENARIO_LEAP_INSERT, True),
        (SCENARIO_LEAP_DELETE, True),
        (SCENARIO_NTP_SYNCED, False),
        (SCENARIO_UNSYNC, False),
    ],
)
def test_leap_seconds(open_reader, config, pending):
    assert open_reader(config)("tracking").is_leap_pending() is pending


def test_leap_status_values(open_reader):
    assert open_reader(SCENARIO_LEAP_INSERT)("tracking").leap_status is LeapStatus.INSERT
    assert open_reader(SCENARIO_LEAP_DELETE)("tracking").leap_status is LeapStatus.DELETE
    assert open_reader(SCENARIO_UNSYNC)("tracking").leap_status is LeapStatus.UNSYNC


def test_rtc_available(open_reader):
    rtc = open_reader(SCENARIO_RTC_AVAILABLE)("rtcdata")
    assert rtc.samples == 10
    assert rtc.is_calibrated()


def test_rtc_unavailable_is_none(open_reader):
    assert open_reader(SCENARIO_RTC_UNAVAILABLE)("rtcdata") is None
    assert open_reader(SCENARIO_NTP_SYNCED)("rtcdata") is None


def test_rtc_zero_samples_not_calibrated(open_reader):
    config = ChronyStateConfig(rtc=RTCConfig(samples=0))
    assert open_reader(config)("rtcdata").is_calibrated() is False


def test_negative_rtc_samples_rejected():
    with pytest.raises(ValueError, match="samples"):
        RTCConfig(samples=-1)


@pytest.mark.parametrize(
    ("config", "name"), [(SCENARIO_GPS_REFCLOCK, "GPS"), (SCENARIO_PPS_REFCLOCK, "PPS")]
)
def test_refclocks_named_by_reference_id(open_reader, config, name):
    read = open_reader(config)
    (source,) = read("sources")
    assert source.mode is SourceMode.REFCLOCK
    assert source.address == name
    assert source.stratum == 0
    (stats,) = read("sourcestats")
    assert stats.address == name
    assert read("ntpdata") == []
    assert read("authdata") == []
    assert read("tracking").reference_id_name == name


def test_multiple_sources(open_reader):
    read = open_reader(SCENARIO_MULTI_SOURCE)
    sources = read("sources")
    assert sum(s.is_selected() for s in sources) == 1
    assert [s.reachability for s in sources] == [255, 255, 0, 128]
    assert [s.is_reachable() for s in sources] == [True, True, False, True]
    assert [s.address for s in sources if s.state is SourceState.FALSETICKER] == ["192.0.2.103"]
    assert {s.state for s in sources} >= {SourceState.SELECTED, SourceState.SELECTABLE}
    assert len(read("sourcestats")) == 4
    assert read("sources")[2].address == "2001:db8::102"


def test_no_sources_is_empty(open_reader):
    read = open_reader(SCENARIO_NO_SOURCES)
    assert read("sources") == []
    assert read("sourcestats") == []
    assert read("ntpdata") == []


def test_custom_state(open_reader):
    config = ChronyStateConfig(stratum=5, offset=-0.25)
    tracking = open_reader(config)("tracking")
    assert (tracking.stratum, tracking.offset) == (5, -0.25)


@pytest.mark.parametrize(
    ("stratum", "ref_id", "synced"),
    [(16, 0, False), (2, 0xC0000201, True), (15, 0xC0000201, True), (0, 0x47505300, True)],
)
def test_sync_states(open_reader, stratum, ref_id, synced):
    config = ChronyStateConfig(stratum=stratum, reference_id=ref_id)
    assert open_reader(config)("tracking").is_synchronized() is synced


@pytest.mark.parametrize("bad", [-1, 17, 255])
def test_invalid_stratum_rejected(bad):
    with pytest.raises(ValueError, match="stratum"):
        ChronyStateConfig(stratum=bad)
    with pytest.raises(ValueError, match="stratum"):
        SourceConfig(stratum=bad)


@pytest.mark.parametrize(
    "value", [1.7976931348623157e308, -1.7976931348623157e308, 5e-324, -5e-324, 1e-300]
)
def test_extreme_floats_pass_through(open_reader, value):
    config = ChronyStateConfig(offset=value, frequency=value, last_offset=value)
    tracking = open_reader(config)("tracking")
    assert (tracking.offset, tracking.frequency, tracking.last_offset) == (value,) * 3


def test_older_layouts(open_reader):
    config = ChronyStateConfig(sources=[SourceConfig()], layouts={"serverstats": 14, "ntpdata": 16})
    read = open_reader(config)
    stats = read("serverstats")
    assert stats.ntp_requests == 1000
    assert stats.nts_ke_connections is None
    assert stats.hw_tx_timestamps is None
    (ntp,) = read("ntpdata")
    assert ntp.kernel_rx_timestamps is None
    assert ntp.tx_messages == 102
    assert read("serverstats") == expected_reports(config)["serverstats"]


@pytest.mark.parametrize("code", [22, 24, 25])
def test_serverstats_layouts(open_reader, code):
    config = ChronyStateConfig(layouts={"serverstats": code})
    assert open_reader(config)("serverstats") == expected_reports(config)["serverstats"]


def test_disabled_report_other_than_rtc_raises():
    from pychrony.testing import MockSession

    session = MockSession(SCENARIO_RTC_UNAVAILABLE)
    with pytest.raises(ChronyDisabledError):
        session.request_record(REPORTS_BY_NAME["rtcdata"], 0)
