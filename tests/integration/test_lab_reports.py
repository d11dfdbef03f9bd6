"""All ten reports end to end on a real chronyd, over its Unix socket and over UDP."""

from __future__ import annotations

import gc
import os
import subprocess

import pytest
from labs import LAB_SOURCES, start_lab

from pychrony import (
    ChronyConnection,
    ChronyPermissionError,
    Source,
    SourceMode,
    SourceState,
    SourceStats,
)
from pychrony.lab import find_chronyd
from pychrony.models import AuthMode, LeapStatus, NTPMode, SmoothingFlags
from pychrony.protocol.session import open_session
from pychrony.registry import REPORTS, REPORTS_BY_NAME

pytestmark = pytest.mark.integration


def chronyd_version() -> tuple[int, ...]:
    out = subprocess.run([find_chronyd() or "chronyd", "--version"], capture_output=True, text=True)
    return tuple(int(x) for x in out.stdout.split("version ")[1].split()[0].split(".")[:2])


REACHABLE = "127.0.0.1"
ALL_REPORTS = [r.name for r in REPORTS]


@pytest.mark.parametrize("name", ALL_REPORTS)
def test_every_report(conn, transport, name):
    report = REPORTS_BY_NAME[name]
    if transport == "udp" and not report.open_over_udp:
        # chronyd answers only its open commands over UDP; it is asked, not pre-empted.
        with pytest.raises(ChronyPermissionError, match=f"{name}.*Unix socket.*opencommands"):
            conn.report(name)
        return
    value = conn.report(name)
    if name == "rtcdata":
        assert value is None  # the lab's chronyd does not track an RTC
    elif report.multi:
        assert all(isinstance(record, report.model) for record in value)
        assert len(value) == LAB_SOURCES + (name in ("sources", "sourcestats", "selectdata"))
    else:
        assert isinstance(value, report.model)


def test_tracking_is_synchronised_to_the_lab_server(conn):
    tracking = conn.get_tracking()
    assert tracking.is_synchronized()
    assert tracking.reference_ip == REACHABLE
    assert tracking.reference_id_name == REACHABLE
    assert tracking.stratum == 9  # the server is "local stratum 8"
    assert tracking.leap_status is LeapStatus.NORMAL


def test_sources(conn):
    sources = conn.get_sources()
    by_address = {s.address: s for s in sources}
    assert len(by_address) == len(sources)
    gps = by_address.pop("GPS")  # the refclock, named by its reference ID
    assert gps.mode is SourceMode.REFCLOCK
    assert gps.name is None
    selected = by_address.pop(REACHABLE)
    assert selected.is_selected()
    assert selected.is_reachable()
    assert selected.is_sampled()
    assert selected.stratum == 8
    assert len(by_address) == LAB_SOURCES - 1
    for address, source in by_address.items():  # never answered, never sampled
        assert address.startswith("127.0.1.")
        assert source.state is SourceState.NONSELECTABLE
        assert not source.is_reachable()
        assert not source.is_sampled()
    # The configured names (the lab configures addresses, so they are the same).
    assert {s.name for s in sources if s.mode is not SourceMode.REFCLOCK} == {
        s.address for s in sources if s.mode is not SourceMode.REFCLOCK
    }


def test_refclock_named_alike_in_sources_sourcestats_and_selectdata(lab):
    with ChronyConnection(lab.socket_path, backend="python") as conn:
        sources = conn.get_sources()
        stats = conn.get_source_stats()
        select = conn.get_select_data()
    assert [s.address for s in sources] == [s.address for s in stats]
    assert [s.address for s in sources] == [s.address for s in select]
    gps = [s for s in stats if s.address == "GPS"]
    assert len(gps) == 1
    assert isinstance(gps[0], SourceStats)
    assert gps[0].reference_id == int.from_bytes(b"GPS\0", "big")


def test_ntpdata_and_authdata_skip_the_refclock(lab):
    with ChronyConnection(lab.socket_path, backend="python") as conn:
        addresses = [s.address for s in conn.get_sources() if s.mode is not SourceMode.REFCLOCK]
        ntp = conn.get_ntp_data()
        auth = conn.get_auth_data()
    assert [n.remote_address for n in ntp] == addresses
    assert [a.address for a in auth] == addresses
    assert all(a.mode is AuthMode.NONE for a in auth)
    live = ntp[addresses.index(REACHABLE)]
    assert live.mode is NTPMode.SERVER
    assert live.stratum == 8
    assert live.rx_good_messages > 0
    # The timestamp counters came with chronyd 4.6's layout.
    assert (live.kernel_rx_timestamps is None) == (chronyd_version() < (4, 6))
    silent = [n for n in ntp if n.remote_address != REACHABLE]
    assert all(n.mode is NTPMode.INVALID and n.rx_messages == 0 for n in silent)


def test_smoothing_and_activity(conn):
    smoothing = conn.get_smoothing()
    assert smoothing.flags == SmoothingFlags.ACTIVE | SmoothingFlags.LEAP_ONLY  # lab config
    activity = conn.get_activity()
    assert activity.online == LAB_SOURCES
    assert (activity.offline, activity.unresolved) == (0, 0)


def test_python_backend_is_reported(conn):
    assert conn.backend == "python"


def test_thousand_open_close_cycles_leave_no_stale_files(lab):
    directory = os.path.dirname(lab.socket_path)
    before = sorted(os.listdir(directory))
    for _ in range(1000):
        session = open_session(lab.socket_path, timeout=1, attempts=1)
        session.close()
    assert sorted(os.listdir(directory)) == before
    assert not [name for name in before if name.startswith("pychrony.")]


def test_forgotten_connections_leave_no_stale_files(lab):
    directory = os.path.dirname(lab.socket_path)
    before = sorted(os.listdir(directory))
    for _ in range(50):
        ChronyConnection(lab.socket_path, backend="python").get_tracking()  # never closed
    gc.collect()
    assert sorted(os.listdir(directory)) == before


def test_sources_with_names_of_a_big_lab():
    lab = start_lab(sources=64, refclock=True)
    try:
        with ChronyConnection(lab.socket_path, backend="python") as conn:
            sources = conn.get_sources()
            assert len(sources) == 65
            assert all(isinstance(s, Source) for s in sources)
            assert sum(s.name is not None for s in sources) == 64
            assert [s.address for s in conn.get_source_stats()] == [s.address for s in sources]
            assert len(conn.get_ntp_data()) == 64
    finally:
        lab.stop()
