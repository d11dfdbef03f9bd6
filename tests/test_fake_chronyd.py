"""The fake chronyd as other tools see it: chronyc, both backends, agents over time.

chronyc is the reference: for every preset scenario and every monitoring command
it must print the scenario's values (each float as chrony's 32-bit format carries
it), refuse control commands as chronyd refuses them, and see over UDP only what
chronyd shows there.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chronyc_csv import (
    AUTH_MODE,
    LEAP,
    MODE_CHAR,
    NTP_MODE,
    STATE_CHAR,
    TIMESTAMPING,
    authdata_numbers,
    f3,
    f9,
    options,
)

from pychrony import ChronyConnection
from pychrony.exceptions import ChronyConnectionError, ChronyPermissionError, ChronyTimeoutError
from pychrony.models import NTPFlags, SourceMode
from pychrony.protocol import codec
from pychrony.protocol.wire import decode_float, encode_float
from pychrony.registry import REPORTS, REPORTS_BY_NAME
from pychrony.testing import (
    SCENARIO_CHRONYD_HUNG,
    SCENARIO_NTP_SYNCED,
    SCENARIO_SYNC_LOST,
    SCENARIOS,
    ChronyStateConfig,
    FakeChronyd,
    FakeClock,
    Fault,
    Step,
    Timeline,
    expected_reports,
)

CHRONYC = shutil.which("chronyc")
needs_chronyc = pytest.mark.skipif(
    CHRONYC is None and not os.environ.get("CI"), reason="chronyc is not installed"
)
#: chronyc's commands for the reports, and which of them chronyd answers over UDP.
COMMANDS = {
    "tracking": ["tracking"],
    "sources": ["sources", "-a"],
    "sourcestats": ["sourcestats", "-a"],
    "selectdata": ["selectdata", "-a"],
    "ntpdata": ["ntpdata"],
    "serverstats": ["serverstats"],
    "activity": ["activity"],
    "authdata": ["authdata", "-a"],
    "rtcdata": ["rtcdata"],
    "smoothing": ["smoothing"],
    "clients": ["clients"],
}
OPEN = [r.name for r in REPORTS if r.open_over_udp]
#: Commands that would change chronyd (chronyc's syntax).
CONTROL = [
    ["makestep"],
    ["burst", "4/8"],
    ["online"],
    ["offline"],
    ["dump"],
    ["reselect"],
    ["writertc"],
    ["shutdown"],
    ["local", "stratum", "10"],
    ["settime", "12:00"],
    ["allow", "10.0.0.0/8"],
    ["add", "server", "192.0.2.9"],
    ["delete", "192.0.2.100"],
    ["maxpoll", "192.0.2.100", "10"],
]


@pytest.fixture(scope="module")
def fakes() -> Iterator[Callable[[str], FakeChronyd]]:
    """One fake per preset scenario (Unix socket and a UDP port), started on demand."""
    started: dict[str, FakeChronyd] = {}

    def get(name: str) -> FakeChronyd:
        if name not in started:
            started[name] = FakeChronyd(SCENARIOS[name], udp="127.0.0.1:0").start()
        return started[name]

    yield get
    for fake in started.values():
        fake.stop()


def chronyc(fake: FakeChronyd, *args: str, udp: bool = False) -> subprocess.CompletedProcess[str]:
    assert CHRONYC is not None, "chronyc is not installed (apt-get install chrony)"
    host = ["-h", fake.socket_path or ""]
    if udp:
        address, port = fake.udp_addresses[0]
        host = ["-h", address, "-p", str(port)]
    return subprocess.run(
        [CHRONYC, "-c", "-n", *host, *args], capture_output=True, text=True, timeout=20
    )


def rows_of(result: subprocess.CompletedProcess[str]) -> list[list[str]]:
    assert result.returncode == 0, result.stdout + result.stderr
    return [row for row in csv.reader(io.StringIO(result.stdout)) if row]


def q(value: float) -> float:
    """``value`` as chrony's 32-bit float carries it."""
    return decode_float(encode_float(value))


def printable_refid(refid: int) -> str:
    """A reference ID as chronyc prints it for stratum 0/1 (its printable bytes)."""
    return "".join(chr(b) for b in refid.to_bytes(4, "big") if 32 <= b < 127)


# -- what chronyc must print, per report ----------------------------------------------


def check_tracking(t: Any, rows: list[list[str]]) -> None:
    (row,) = rows
    assert row[0] == f"{t.reference_id:08X}"
    assert row[1] == (t.reference_ip or t.reference_id_name)
    assert int(row[2]) == t.stratum
    assert float(row[3]) == pytest.approx(t.ref_time, abs=1e-6)
    assert row[4:8] == [f9(q(t.offset)), f9(q(t.last_offset)), f9(q(t.rms_offset)), f3(t.frequency)]
    assert row[8:10] == [f3(q(t.residual_freq)), f3(q(t.skew))]
    assert row[10:13] == [f9(q(t.root_delay)), f9(q(t.root_dispersion)), f"{t.update_interval:.1f}"]
    assert row[13] == LEAP[t.leap_status]


def check_sources(sources: Any, rows: list[list[str]]) -> None:
    assert len(rows) == len(sources)
    for s, row in zip(sources, rows, strict=True):
        assert row[:3] == [MODE_CHAR[s.mode], STATE_CHAR[s.state], s.address]
        assert [int(row[3]), int(row[4]), int(row[5], 8), int(row[6])] == [
            s.stratum,
            s.poll,
            s.reachability,
            s.last_sample_ago,
        ]
        assert row[7:] == [
            f9(q(s.latest_meas)),
            f9(q(s.orig_latest_meas)),
            f9(q(s.latest_meas_err)),
        ]


def check_sourcestats(stats: Any, rows: list[list[str]]) -> None:
    assert len(rows) == len(stats)
    for s, row in zip(stats, rows, strict=True):
        assert row[0] == s.address
        assert [int(x) for x in row[1:4]] == [s.samples, s.runs, s.span]
        assert row[4:] == [f3(q(s.resid_freq)), f3(q(s.skew)), f9(q(s.offset)), f9(q(s.std_dev))]


def check_selectdata(select: Any, rows: list[list[str]]) -> None:
    assert len(rows) == len(select)
    for s, row in zip(select, rows, strict=True):
        assert row[:3] == [s.state.char, s.address, "Y" if s.authenticated else "N"]
        assert row[3:8] == options(s.configured_options)
        assert row[8:13] == options(s.effective_options)
        assert int(row[13]) == s.last_sample_ago
        assert row[14:17] == [f"{q(s.score):.1f}", f9(q(s.low_limit)), f9(q(s.high_limit))]
        assert row[17] == LEAP[s.leap_status]


def check_ntpdata(ntp: Any, rows: list[list[str]], config: ChronyStateConfig) -> None:
    refids = {s.address: s.compute_reference_id() for s in config.sources}
    assert [n.remote_address for n in ntp] == [row[0] for row in rows]
    for n, row in zip(ntp, rows, strict=True):
        assert row[1] == f"{refids[n.remote_address]:08X}"
        assert [int(row[2]), row[3]] == [n.remote_port, n.local_address]
        assert row[5:8] == [LEAP[n.leap_status], str(n.version), NTP_MODE[n.mode]]
        assert [int(row[8]), int(row[9]), int(row[11])] == [n.stratum, n.poll, n.precision]
        assert row[13:15] == [f"{q(n.root_delay):.6f}", f"{q(n.root_dispersion):.6f}"]
        assert row[15] == f"{n.reference_id:08X}"
        assert row[16] == (printable_refid(n.reference_id) if n.stratum <= 1 else "")
        assert float(row[17]) == pytest.approx(n.ref_time, abs=1e-6)
        measured = [n.offset, n.peer_delay, n.peer_dispersion, n.response_time]
        assert row[18:22] == [f9(q(x)) for x in measured]
        assert row[22] == f"{q(n.jitter_asymmetry):.2f}"
        flags = int(n.flags)
        assert row[23:26] == [
            format(flags >> 7 & 0b111, "03b"),
            format(flags >> 4 & 0b111, "03b"),
            format(flags & 0b1111, "04b"),
        ]
        assert row[26:28] == [
            "Yes" if n.flags & NTPFlags.INTERLEAVED else "No",
            "Yes" if n.is_authenticated() else "No",
        ]
        assert row[28:30] == [TIMESTAMPING[n.tx_timestamping], TIMESTAMPING[n.rx_timestamping]]
        counts = [n.tx_messages, n.rx_messages, n.rx_valid_messages, n.rx_good_messages]
        assert [int(x) for x in row[30:34]] == counts


def check_serverstats(s: Any, rows: list[list[str]]) -> None:
    (row,) = rows
    assert [int(x) for x in row] == [
        s.ntp_requests,
        s.dropped_ntp_requests,
        s.command_requests,
        s.dropped_command_requests,
        s.dropped_client_log_records,
        s.nts_ke_connections,
        s.dropped_nts_ke_connections,
        s.authenticated_ntp_requests,
        s.interleaved_ntp_requests,
        s.held_ntp_timestamps,
        s.ntp_timestamp_span,
    ]


def check_activity(a: Any, rows: list[list[str]]) -> None:
    assert [[int(x) for x in row] for row in rows] == [
        [a.online, a.offline, a.burst_online, a.burst_offline, a.unresolved]
    ]


def check_authdata(auth: Any, rows: list[list[str]]) -> None:
    assert [a.address for a in auth] == [row[0] for row in rows]
    for a, row in zip(auth, rows, strict=True):
        assert row[1] == AUTH_MODE[a.mode.value]
        assert [int(x) for x in row[2:10]] == authdata_numbers(a)


def check_rtcdata(rtc: Any, rows: list[list[str]]) -> None:
    (row,) = rows
    assert float(row[0]) == pytest.approx(rtc.ref_time, abs=1e-6)
    assert [int(x) for x in row[1:4]] == [rtc.samples, rtc.runs, rtc.span]
    assert row[4:] == [f"{q(rtc.offset):.6f}", f3(q(rtc.freq_offset))]


def check_smoothing(s: Any, rows: list[list[str]]) -> None:
    (row,) = rows
    assert row[0] == ("Yes" if s.is_active() else "No")
    assert row[1] == ("(leap second only)" if s.is_leap_only() else "")
    assert row[2:5] == [f9(q(s.offset)), f"{q(s.freq_offset):.6f}", f"{q(s.wander):.6f}"]
    assert row[5:] == [f"{q(s.last_update_ago):.1f}", f"{q(s.remaining_time):.1f}"]


def check_clients(expected: list[Any], rows: list[list[str]]) -> None:
    """chronyc's columns: address; NTP hits, drops, interval, timeout interval, last
    ago; command hits, drops, interval, last ago (numbers as chronyd sent them)."""
    assert [
        [
            c.address,
            *(str(v) for v in (c.ntp_hits, c.ntp_drops, c.ntp_interval)),
            *(str(v) for v in (c.ntp_timeout_interval, c.last_ntp_hit_ago, c.cmd_hits)),
            *(str(v) for v in (c.cmd_drops, c.cmd_interval, c.last_cmd_hit_ago)),
        ]
        for c in expected
    ] == rows


CHECKS: dict[str, Callable[..., None]] = {
    "clients": check_clients,
    "tracking": check_tracking,
    "sources": check_sources,
    "sourcestats": check_sourcestats,
    "selectdata": check_selectdata,
    "ntpdata": check_ntpdata,
    "serverstats": check_serverstats,
    "activity": check_activity,
    "authdata": check_authdata,
    "rtcdata": check_rtcdata,
    "smoothing": check_smoothing,
}


def check(report: str, config: ChronyStateConfig, result: subprocess.CompletedProcess[str]) -> None:
    expected = expected_reports(config)[report]
    if report == "rtcdata" and expected is None:
        assert result.returncode != 0
        assert "RTC driver not running" in result.stdout + result.stderr
        return
    rows = rows_of(result)
    if report == "ntpdata":
        check_ntpdata(expected, rows, config)
    else:
        CHECKS[report](expected, rows)


@needs_chronyc
@pytest.mark.parametrize("report", COMMANDS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_chronyc_shows_the_scenario(fakes, name, report):
    check(report, SCENARIOS[name], chronyc(fakes(name), *COMMANDS[report]))


@needs_chronyc
@pytest.mark.parametrize("report", OPEN)
@pytest.mark.parametrize("name", SCENARIOS)
def test_chronyc_over_udp_shows_the_open_reports(fakes, name, report):
    check(report, SCENARIOS[name], chronyc(fakes(name), *COMMANDS[report], udp=True))


@needs_chronyc
@pytest.mark.parametrize("report", sorted(set(COMMANDS) - set(OPEN)))
def test_chronyc_over_udp_is_refused_the_rest(fakes, report):
    result = chronyc(fakes("multi_source"), *COMMANDS[report], udp=True)
    assert result.returncode != 0
    assert "501 Not authorised" in result.stdout + result.stderr


@needs_chronyc
@pytest.mark.parametrize("udp", [False, True], ids=["unix", "udp"])
@pytest.mark.parametrize("command", CONTROL, ids=" ".join)
def test_chronyc_control_commands_get_chronyds_refusal(fakes, command, udp):
    result = chronyc(fakes("ntp_synced"), *command, udp=udp)
    assert result.returncode != 0
    assert result.stdout + result.stderr == "501 Not authorised\n"


@needs_chronyc
@pytest.mark.parametrize("name", SCENARIOS)
def test_chronyc_names_sources_by_sourcename(fakes, name):
    config = SCENARIOS[name]
    rows = rows_of(chronyc(fakes(name), "-N", "sources", "-a"))
    assert [row[2] for row in rows] == [s.name or s.address for s in config.sources]


# -- pychrony's backends read the fake ------------------------------------------------


def _close(got: Any, want: Any) -> bool:
    """Equal, floats as chrony's 32-bit format carries them (2**-24 relative)."""
    if isinstance(want, list):
        return len(got) == len(want) and all(map(_close, got, want))
    if dataclasses.is_dataclass(want) and not isinstance(want, type):
        return type(got) is type(want) and all(
            _close(getattr(got, f.name), getattr(want, f.name)) for f in dataclasses.fields(want)
        )
    if isinstance(want, float) and not isinstance(want, bool):
        return math.isclose(got, want, rel_tol=2**-23, abs_tol=1e-300)
    return bool(got == want)


def served(config: ChronyStateConfig, *, names: bool, version: str = "4.3") -> dict[str, Any]:
    """expected_reports as a fake of chronyd ``version`` serves them: in its layouts,
    sources named by sourcename (their address unless the scenario names them) when
    the reader can ask."""
    layouts = {**codec.profile(version).layout_codes(), **config.layouts}
    expected = expected_reports(dataclasses.replace(config, layouts=layouts))
    expected["sources"] = [
        dataclasses.replace(
            s,
            name=(c.name or c.address) if names and c.mode is not SourceMode.REFCLOCK else None,
        )
        for s, c in zip(expected["sources"], config.sources, strict=True)
    ]
    return expected


@pytest.mark.parametrize("name", SCENARIOS)
def test_backends_read_the_scenario_from_the_fake(fakes, backend, name):
    config = SCENARIOS[name]
    expected = served(config, names=backend == "python")
    with ChronyConnection(fakes(name).socket_path, backend=backend, timeout=2.0) as conn:
        for report in REPORTS:
            got = conn.report(report.name)
            assert _close(got, expected[report.name]), (report.name, got, expected[report.name])


@pytest.mark.parametrize("name", SCENARIOS)
def test_backends_read_the_open_reports_over_udp(fakes, backend, name):
    config = SCENARIOS[name]
    expected = served(config, names=backend == "python")
    with ChronyConnection(fakes(name).udp_address, backend=backend, timeout=2.0) as conn:
        for report in OPEN:
            assert _close(conn.report(report), expected[report]), report
        with pytest.raises(ChronyPermissionError):
            conn.get_server_stats()


@pytest.mark.parametrize(
    ("version", "serverstats", "ntpdata"), [("4.3", 24, 16), ("4.4", 25, 16), ("4.6", 25, 26)]
)
def test_layouts_follow_the_chronyd_version(backend, version, serverstats, ntpdata):
    config = SCENARIOS["multi_source"]
    with FakeChronyd(config, chrony_version=version) as fake:
        assert fake.core.profile.layout_codes()["serverstats"] == serverstats
        with ChronyConnection(fake.socket_path, backend=backend) as conn:
            stats = conn.get_server_stats()
            ntp = conn.get_ntp_data()
    assert (stats.held_ntp_timestamps is not None) == (serverstats >= 24)
    assert (stats.daemon_tx_timestamps is not None) == (serverstats >= 25)
    assert all((n.kernel_rx_timestamps is not None) == (ntpdata == 26) for n in ntp)
    assert ntp[0].kernel_rx_timestamps in (
        None,
        expected_reports(config)["ntpdata"][0].kernel_rx_timestamps,
    )


# -- a scenario that changes: an agent loop over a fake chronyd -----------------------


def _agent(
    address: str, backend: str, polls: int, timeout: float, attempts: int
) -> list[tuple[str, float]]:
    """Poll tracking as a monitoring agent does; what it saw and how long each took."""
    seen: list[tuple[str, float]] = []
    conn = ChronyConnection(address, backend=backend, timeout=timeout, attempts=attempts)
    try:
        for _ in range(polls):
            start = time.monotonic()
            try:
                state = "synced" if conn.get_tracking().is_synchronized() else "unsynced"
            except ChronyTimeoutError:
                state = "hung"
            except ChronyConnectionError:
                state = "down"
                conn.close()
                conn = ChronyConnection(
                    address, backend=backend, timeout=timeout, attempts=attempts
                )
            seen.append((state, time.monotonic() - start))
            time.sleep(0.01)
    finally:
        conn.close()
    return seen


def _phases(seen: list[tuple[str, float]]) -> list[str]:
    out: list[str] = []
    for state, _ in seen:
        if not out or out[-1] != state:
            out.append(state)
    return out


def test_an_agent_sees_synced_unsynced_hung_restarted_synced(backend):
    clock = FakeClock(1000.0)
    timeline = Timeline(
        SCENARIO_NTP_SYNCED,
        Step(SCENARIO_SYNC_LOST, after_requests=4),
        Step(SCENARIO_CHRONYD_HUNG, after_requests=8),
        Step(
            dataclasses.replace(SCENARIO_NTP_SYNCED, faults=(Fault.restart(),)),
            after_seconds=60.0,
        ),
    )
    timeout, attempts = 0.2, 2
    with FakeChronyd(timeline, clock=clock) as fake:
        path = fake.socket_path
        assert path is not None
        before = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        before.connect(path)
        seen = _agent(path, backend, polls=12, timeout=timeout, attempts=attempts)
        clock.advance(60.0)  # the operator restarts chronyd
        seen += _agent(path, backend, polls=4, timeout=timeout, attempts=attempts)
        assert fake.restarts == 1
        with pytest.raises(ConnectionRefusedError):  # the socket was removed and bound anew
            before.send(b"x" * 28)
        before.close()
    phases = _phases(seen)
    assert phases[:3] == ["synced", "unsynced", "hung"], seen
    assert phases[-1] == "synced", seen
    hung = [took for state, took in seen if state == "hung"]
    assert hung
    assert all(timeout * attempts * 0.9 <= took <= timeout * attempts + 0.5 for took in hung)


def test_the_mock_follows_the_same_timeline_on_a_fake_clock():
    from pychrony.testing import patched_chrony_connection

    clock = FakeClock()
    timeline = Timeline(
        SCENARIO_NTP_SYNCED,
        Step(SCENARIO_SYNC_LOST, after_requests=2),
        Step(SCENARIO_CHRONYD_HUNG, after_requests=4),
        Step(SCENARIO_NTP_SYNCED, after_seconds=100.0),
    )
    seen = []
    with patched_chrony_connection(timeline, timeout=1.0, attempts=3, clock=(clock, clock.sleep)):
        for _ in range(6):
            with ChronyConnection() as conn:
                before = clock()
                try:
                    seen.append(conn.get_tracking().leap_status.name)
                except ChronyTimeoutError:
                    seen.append(f"timeout after {clock() - before:g} s")
        clock.advance(100.0)
        with ChronyConnection() as conn:
            seen.append(conn.get_tracking().leap_status.name)
    assert seen == [
        "NORMAL",
        "NORMAL",
        "UNSYNC",
        "UNSYNC",
        "timeout after 3 s",
        "timeout after 3 s",
        "NORMAL",
    ]


def test_one_timeline_drives_the_fake_and_the_mock_alike(backend):
    """The same request count moves both along the timeline."""
    from pychrony.testing import patched_chrony_connection

    timeline = Timeline(SCENARIO_NTP_SYNCED, Step(SCENARIO_SYNC_LOST, after_requests=3))
    with FakeChronyd(timeline) as fake, ChronyConnection(fake.socket_path, backend=backend) as conn:
        over_wire = [conn.get_tracking().leap_status for _ in range(5)]
    with patched_chrony_connection(timeline), ChronyConnection() as conn:
        in_process = [conn.get_tracking().leap_status for _ in range(5)]
    assert over_wire == in_process
    assert len(set(over_wire)) == 2


def test_every_report_has_its_chronyc_command():
    assert set(COMMANDS) == set(REPORTS_BY_NAME)


def _wait_for_mode(path: str, mode: int) -> None:
    deadline = time.monotonic() + 5.0
    while stat.S_IMODE(os.stat(path).st_mode) != mode:
        assert time.monotonic() < deadline, f"the socket's mode never became {mode:o}"
        time.sleep(0.02)


def test_a_permission_change_locks_an_unprivileged_client_out_and_back_in():
    from unprivileged import run_as_nobody

    base = tempfile.mkdtemp(prefix="fake-chronyd-perm-")
    os.chmod(base, 0o1777)  # nobody may reach the socket and bind its own beside it
    clock = FakeClock()
    locked = dataclasses.replace(SCENARIO_NTP_SYNCED, faults=(Fault.permission(0o600),))
    timeline = Timeline(
        SCENARIO_NTP_SYNCED,
        Step(locked, after_seconds=10.0),
        Step(SCENARIO_NTP_SYNCED, after_seconds=20.0),
    )
    path = f"{base}/chronyd.sock"
    code = (
        "from pychrony import ChronyConnection, ChronyPermissionError\n"
        "try:\n"
        f"    print(ChronyConnection({path!r}, backend='python').get_tracking().stratum)\n"
        "except ChronyPermissionError:\n"
        "    print('denied')\n"
    )
    try:
        with FakeChronyd(timeline, socket_path=path, clock=clock):
            seen = [run_as_nobody(code).stdout]
            clock.advance(10.0)
            _wait_for_mode(path, 0o600)
            seen.append(run_as_nobody(code).stdout)
            clock.advance(10.0)
            _wait_for_mode(path, 0o666)
            seen.append(run_as_nobody(code).stdout)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    stratum = f"{SCENARIO_NTP_SYNCED.stratum}\n"
    assert seen == [stratum, "denied\n", stratum]


@pytest.mark.parametrize("name", ["serving_clients", "ntp_synced"])
def test_backends_read_the_clients_from_the_fake(fakes, backend, name):
    """The client log, paged as chronyd pages it (8 per reply), on both backends;
    over UDP the fake refuses it as chronyd does and pychrony sends nothing."""
    config = SCENARIOS[name]
    with ChronyConnection(fakes(name).socket_path, backend=backend, timeout=2.0) as conn:
        assert conn.get_clients() == config.clients
        assert conn.report("clients") == config.clients
        assert conn.backend_of("clients") == "python"
    fake = fakes(name)
    with ChronyConnection(fake.udp_address, backend=backend, timeout=2.0) as conn:
        conn.get_tracking()
        before = fake.core.requests
        with pytest.raises(ChronyPermissionError, match="Unix command socket only"):
            conn.get_clients()
        assert fake.core.requests == before


def test_clients_page_through_a_long_log():
    """20 clients: three pages; min hits and a reset as chronyd treats them."""
    from pychrony import Client
    from pychrony._clients import encode_page
    from pychrony.models import NEVER_SAMPLED, NO_INTERVAL
    from pychrony.protocol import codec as c
    from pychrony.testing.state import scripted_state

    log = [
        Client(f"192.0.2.{i}", i, 0, 0, 0, 0, 0, 3, NO_INTERVAL, NO_INTERVAL, NO_INTERVAL,
               i, NEVER_SAMPLED, NEVER_SAMPLED)
        for i in range(1, 21)
    ]  # fmt: skip
    config = dataclasses.replace(SCENARIOS["ntp_synced"], clients=log)
    with FakeChronyd(config) as fake:
        with ChronyConnection(fake.socket_path, backend="python") as conn:
            assert conn.get_clients() == log
        assert fake.core.requests >= 3
        raw = [r.values for r in scripted_state(config).records["clients"] if r is not None]
        page = c.encode_clients(c.Request(6, 68, 0, 1, 520, encode_page(0, 15)), raw)
        assert int.from_bytes(page[36:40], "big") == 6  # clients 15..20
