"""pychrony agrees with ``chronyc -c -n`` on a real chronyd, report by report.

chronyd changes under our feet: the lab's client samples its server 16 times a
second, so each comparison takes a *snapshot*: read with pychrony, run chronyc,
read again, and retry until both pychrony reads agree on every value a sample
changes. chronyc then saw the same state, so measured values must print
exactly as chronyc prints them (``%.9f`` seconds, ``%.3f`` ppm …: both sides
compute the same double from chrony's 32-bit float). Only values chronyd
computes at request time differ, within the bounds each test explains:
counters and ages lie between the two pychrony reads, and times kept as a float
(``ref_time``) are within a microsecond (a double's resolution today is ~0.2 µs).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

import pytest
from chronyc_csv import (
    AUTH_MODE,
    LEAP,
    MODE_CHAR,
    NTP_MODE,
    STATE_CHAR,
    TIMESTAMPING,
    Rows,
    authdata_numbers,
    f3,
    f9,
    options,
    snapshot,
)

from pychrony import ChronyConnection, ChronyPermissionError
from pychrony.lab import Lab, LabError
from pychrony.models import (
    NTPFlags,
)

pytestmark = pytest.mark.integration


def between(low: float, value: float, high: float, slack: float = 0.0) -> bool:
    return min(low, high) - slack <= value <= max(low, high) + slack


def assert_same_sources(records: Sequence[Any], rows: Rows, column: int = 0) -> None:
    """Same sources in the same order (chronyc names refclocks by reference ID too)."""
    assert [r.address for r in records] == [row[column] for row in rows]


# -- the reports ---------------------------------------------------------------------


def test_tracking(conn, chronyc):
    def key(t: Any) -> tuple[Any, ...]:
        return (t.ref_time, t.last_offset, t.rms_offset, t.frequency, t.skew, t.root_delay)

    before, (row,), after = snapshot(conn.get_tracking, lambda: chronyc("tracking"), key)
    assert row[0] == f"{after.reference_id:08X}"
    assert row[1] == (after.reference_ip or after.reference_id_name)
    assert int(row[2]) == after.stratum
    assert abs(float(row[3]) - after.ref_time) < 1e-6
    # The correction being slewed is recomputed at every request.
    assert between(before.offset, float(row[4]), after.offset, slack=1e-6)
    assert row[5:8] == [f9(after.last_offset), f9(after.rms_offset), f3(after.frequency)]
    assert row[8:10] == [f3(after.residual_freq), f3(after.skew)]
    assert row[10] == f9(after.root_delay)
    # Root dispersion grows with the time since the last update.
    assert between(before.root_dispersion, float(row[11]), after.root_dispersion, slack=1e-9)
    assert row[12] == f"{after.update_interval:.1f}"
    assert row[13] == LEAP[after.leap_status]


def test_sources(conn, chronyc):
    def key(sources: Any) -> Any:
        measured = ("latest_meas", "orig_latest_meas", "latest_meas_err")
        return [
            (s.state, s.reachability, s.poll, s.stratum, *(getattr(s, a) for a in measured))
            for s in sources
        ]

    before, rows, after = snapshot(conn.get_sources, lambda: chronyc("sources", "-a"), key)
    assert_same_sources(after, rows, column=2)
    for early, late, row in zip(before, after, rows, strict=True):
        assert row[0] == MODE_CHAR[late.mode]
        assert row[1] == STATE_CHAR[late.state]
        assert [int(row[3]), int(row[4]), int(row[5], 8)] == [
            late.stratum,
            late.poll,
            late.reachability,
        ]
        # Seconds since the last sample tick on; never sampled is 4294967295 for both.
        assert between(early.last_sample_ago, int(row[6]), late.last_sample_ago)
        assert late.is_sampled() == (row[6] != "4294967295")
        assert row[7:] == [
            f9(late.latest_meas),
            f9(late.orig_latest_meas),
            f9(late.latest_meas_err),
        ]


def test_source_names(lab, conn, transport):
    rows = lab.chronyc("-N", "sources", "-a", udp=transport == "udp").splitlines()
    names = [row.split(",")[2] for row in rows if row]
    sources = conn.get_sources()
    assert [s.name or s.address for s in sources] == names  # chronyc -N: refclocks by refid


def test_sourcestats(conn, chronyc):
    def key(stats: Any) -> Any:
        return [(s.samples, s.runs, s.span, s.std_dev, s.resid_freq, s.skew) for s in stats]

    before, rows, after = snapshot(conn.get_source_stats, lambda: chronyc("sourcestats", "-a"), key)
    assert_same_sources(after, rows)
    for early, late, row in zip(before, after, rows, strict=True):
        assert [int(x) for x in row[1:4]] == [late.samples, late.runs, late.span]
        assert row[4:6] == [f3(late.resid_freq), f3(late.skew)]
        # The offset is extrapolated to the time of the request at the residual
        # frequency: between the two reads it moves by far less than a microsecond.
        assert between(early.offset, float(row[6]), late.offset, slack=1e-6)
        assert row[7] == f9(late.std_dev)


def test_selectdata(lab, chronyc):
    with ChronyConnection(lab.socket_path, backend="python") as conn:

        def key(select: Any) -> Any:
            return [
                (s.state, s.leap_status, s.score, s.low_limit, s.high_limit, s.effective_options)
                for s in select
            ]

        before, rows, after = snapshot(
            conn.get_select_data, lambda: lab_rows(lab, "selectdata", "-a"), key
        )
    assert_same_sources(after, rows, column=1)
    for early, late, row in zip(before, after, rows, strict=True):
        assert row[0] == late.state.char
        assert row[2] == ("Y" if late.authenticated else "N")
        assert row[3:8] == options(late.configured_options)
        assert row[8:13] == options(late.effective_options)
        assert between(early.last_sample_ago, int(row[13]), late.last_sample_ago)
        assert row[14:17] == [f"{late.score:.1f}", f9(late.low_limit), f9(late.high_limit)]
        assert row[17] == LEAP[late.leap_status]


def test_ntpdata(lab):
    with ChronyConnection(lab.socket_path, backend="python") as conn:

        def key(ntp: Any) -> Any:
            return [
                (n.rx_messages, n.tx_messages, n.offset, n.peer_delay, n.ref_time, n.mode)
                for n in ntp
            ]

        _, rows, after = snapshot(conn.get_ntp_data, lambda: lab_rows(lab, "ntpdata"), key)
    assert [n.remote_address for n in after] == [row[0] for row in rows]
    for n, row in zip(after, rows, strict=True):
        assert row[1] == f"{int(ipaddress.IPv4Address(n.remote_address)):08X}"  # IPv4 refid
        assert int(row[2]) == n.remote_port
        assert row[3] == (n.local_address or "[UNSPEC]")
        assert [row[5], int(row[6]), row[7]] == [
            LEAP[n.leap_status],
            n.version,
            NTP_MODE.get(n.mode, "Invalid"),
        ]
        assert [int(row[8]), int(row[9]), int(row[11])] == [n.stratum, n.poll, n.precision]
        assert row[13:15] == [f"{n.root_delay:.6f}", f"{n.root_dispersion:.6f}"]
        assert row[15] == f"{n.reference_id:08X}"
        assert row[16] == (n.reference_id_name if n.stratum <= 1 else "")
        assert abs(float(row[17]) - n.ref_time) < 1e-6
        measured = [n.offset, n.peer_delay, n.peer_dispersion, n.response_time]
        assert row[18:22] == [f9(x) for x in measured]
        assert row[22] == f"{n.jitter_asymmetry:.2f}"
        flags = int(n.flags)
        assert row[23:26] == [
            format(flags >> 7 & 0b111, "03b"),
            format(flags >> 4 & 0b111, "03b"),
            format(flags & 0b1111, "04b"),
        ]
        assert row[26] == ("Yes" if n.flags & NTPFlags.INTERLEAVED else "No")
        assert row[27] == ("Yes" if n.is_authenticated() else "No")
        assert row[28:30] == [
            TIMESTAMPING.get(n.tx_timestamping, "Invalid"),
            TIMESTAMPING.get(n.rx_timestamping, "Invalid"),
        ]
        counts = [n.tx_messages, n.rx_messages, n.rx_valid_messages, n.rx_good_messages]
        assert [int(x) for x in row[30:34]] == counts


def test_serverstats(lab):
    with ChronyConnection(lab.socket_path, backend="python") as conn:
        before = conn.get_server_stats()
        (row,) = lab_rows(lab, "serverstats")
        after = conn.get_server_stats()
    fixed = [
        after.ntp_requests,
        after.dropped_ntp_requests,
        None,  # command requests: counted between our two reads, below
        after.dropped_command_requests,
        after.dropped_client_log_records,
        after.nts_ke_connections,
        after.dropped_nts_ke_connections,
        after.authenticated_ntp_requests,
        after.interleaved_ntp_requests,
        after.held_ntp_timestamps,
        after.ntp_timestamp_span,
        # chronyc 4.4+ adds the timestamp counters (chronyd 4.3's reply has none)
        after.daemon_rx_timestamps,
        after.daemon_tx_timestamps,
        after.kernel_rx_timestamps,
        after.kernel_tx_timestamps,
        after.hw_rx_timestamps,
        after.hw_tx_timestamps,
    ][: len(row)]
    assert len(row) in (11, 17), row
    assert [int(x) for i, x in enumerate(row) if i != 2] == [v for v in fixed if v is not None]
    assert before.command_requests < int(row[2]) < after.command_requests


def test_activity(conn, chronyc):
    activity = conn.get_activity()
    (row,) = chronyc("activity")
    assert [int(x) for x in row] == [
        activity.online,
        activity.offline,
        activity.burst_online,
        activity.burst_offline,
        activity.unresolved,
    ]


def test_authdata(lab):
    with ChronyConnection(lab.socket_path, backend="python") as conn:
        auth = conn.get_auth_data()
    rows = lab_rows(lab, "authdata", "-a")
    assert [a.address for a in auth] == [row[0] for row in rows]
    for a, row in zip(auth, rows, strict=True):
        assert row[1] == AUTH_MODE[a.mode.value]
        assert [int(x) for x in row[2:10]] == authdata_numbers(a)


def test_rtcdata(conn, lab, transport):
    assert conn.get_rtc_data() is None
    with pytest.raises(LabError, match="RTC driver not running"):
        lab.chronyc("rtcdata", udp=transport == "udp")


def test_smoothing(conn, chronyc):
    before = conn.get_smoothing()
    (row,) = chronyc("smoothing")
    after = conn.get_smoothing()
    assert row[0] == ("Yes" if after.is_active() else "No")
    assert row[1] == ("(leap second only)" if after.is_leap_only() else "")
    assert row[2:5] == [f9(after.offset), f"{after.freq_offset:.6f}", f"{after.wander:.6f}"]
    assert between(before.last_update_ago, float(row[5]), after.last_update_ago, slack=0.05)
    assert row[6] == f"{after.remaining_time:.1f}"


def test_udp_refuses_what_chronyc_cannot_get_either(lab):
    with ChronyConnection(lab.udp_address, backend="python") as conn:
        for name in ("selectdata", "ntpdata", "serverstats", "authdata"):
            with pytest.raises(ChronyPermissionError):
                conn.report(name)
            with pytest.raises(LabError, match="Not authorised"):
                lab.chronyc(name, udp=True)


def lab_rows(lab: Lab, *args: str) -> Rows:
    return [row.split(",") for row in lab.chronyc(*args).splitlines() if row]
