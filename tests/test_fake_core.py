"""The fake chronyd's sans-I/O core, its timelines and faults, and the kit around it.

The core is a function of datagrams and the time it is told: these tests drive it
in memory, with a fake clock, sleeping nowhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import stat
import subprocess
import sys

import pytest

from pychrony import ChronyConnection
from pychrony import registry as reg
from pychrony.exceptions import (
    ChronyDataError,
    ChronyPermissionError,
    ChronyTimeoutError,
)
from pychrony.models import AuthMode, KeyType, NTPMode, SelectOptions, SelectState
from pychrony.protocol import codec, wire
from pychrony.protocol.server import ServerCore
from pychrony.testing import (
    SCENARIO_MULTI_SOURCE,
    SCENARIO_NTP_SYNCED,
    SCENARIO_SYNC_LOST,
    AuthConfig,
    ChronyStateConfig,
    FakeClock,
    Fault,
    MockSession,
    NTPConfig,
    SelectConfig,
    SourceConfig,
    Step,
    Timeline,
    drifting,
    expected_reports,
    patched_chrony_connection,
)

_SEQUENCE = 0x5EED


def request(report: reg.Report, data: bytes = b"", *, version: str = "4.3", cut: int = 0) -> bytes:
    length = codec.profile(version).lengths[report.record_request]
    packet = wire.encode_request(report.record_request, _SEQUENCE, 0, data, length)
    return packet[: len(packet) - cut] if cut else packet


def status(datagram: bytes | None) -> int:
    assert datagram is not None
    header = wire.parse_reply_header(datagram)
    assert header is not None
    assert header.sequence == _SEQUENCE
    return header.status


def answer(
    core: ServerCore, packet: bytes, now: float = 0.0, *, trusted: bool = True
) -> bytes | None:
    got = core.receive(packet, now, trusted=trusted)
    return got.datagram if got is not None else None


# -- chronyd's rules ------------------------------------------------------------------


@pytest.mark.parametrize("version", codec.CHRONY_VERSIONS)
@pytest.mark.parametrize("report", reg.REPORTS, ids=lambda r: r.name)
def test_a_request_one_byte_short_gets_bad_packet_length(version, report):
    core = ServerCore(SCENARIO_MULTI_SOURCE, version=version)
    data = b"" if report.record_arg is reg.RecordArg.NONE else bytes(20)
    assert status(answer(core, request(report, data, version=version, cut=1))) == 19


def test_pychronys_serverstats_request_fits_every_version_and_4_3_lengths_do_not_fit_4_4():
    short = request(reg.SERVERSTATS, version="4.3")  # 72 bytes: 4.3's reply length
    assert status(answer(ServerCore(SCENARIO_NTP_SYNCED, version="4.4"), short)) == 19
    full = wire.encode_request(54, _SEQUENCE, 0, b"", wire.request_length(reg.SERVERSTATS))
    for version in codec.CHRONY_VERSIONS:
        reply = answer(ServerCore(SCENARIO_NTP_SYNCED, version=version), full)
        assert status(reply) == 0
        assert reply is not None
        assert len(reply) == codec.profile(version).layouts["serverstats"].length


@pytest.mark.parametrize(("version", "command", "expected"), [
    ("4.3", 72, 3),  # MODIFY_SELECTOPTS is 4.4's: an unknown command to 4.3
    ("4.4", 72, 2),  # a control command: refused
    ("4.6", 56, 3),  # LOCAL2 withdrawn in 4.6
    ("4.6", 74, 2),  # LOCAL3: refused
    ("4.3", 12, 3),  # LOCAL: long unsupported
])  # fmt: skip
def test_command_sets_per_version(version, command, expected):
    packet = wire.encode_request(command, _SEQUENCE, 0, b"", 520)
    assert status(answer(ServerCore(SCENARIO_NTP_SYNCED, version=version), packet)) == expected


def test_a_reply_longer_than_its_request_is_never_sent():
    # A NOSUCHSOURCE reply (28 bytes) fits any request chronyd reads; a record may not.
    core = ServerCore(SCENARIO_NTP_SYNCED)
    packet = wire.encode_request(reg.TRACKING.record_request, _SEQUENCE, 0, b"", 104)
    assert answer(core, packet) is not None
    assert answer(core, packet[:40]) is not None  # too short: an error reply fits
    assert answer(core, packet[:27]) is None  # shorter than a reply header: dropped


def test_sequence_and_command_are_echoed_and_garbage_is_dropped():
    core = ServerCore(SCENARIO_NTP_SYNCED)
    reply = answer(core, request(reg.TRACKING))
    assert reply is not None
    assert wire.REPLY_KEY.unpack_from(reply)[3] == reg.TRACKING.record_request
    assert answer(core, b"\x06\x02" + bytes(100)) is None  # a reply packet, not a request
    assert answer(core, b"\x06\x01\x01" + bytes(101)) is None  # reserved byte set


def test_refclocks_have_no_ntpdata_and_unknown_addresses_no_name():
    core = ServerCore(SCENARIO_MULTI_SOURCE)
    nowhere = wire.encode_address("192.0.2.250")
    assert status(answer(core, request(reg.NTPDATA, nowhere))) == 4
    name = wire.encode_request(65, _SEQUENCE, 0, nowhere, wire.NAME_REQUEST_LENGTH)
    assert status(answer(core, name)) == 4
    known = wire.encode_request(
        65, _SEQUENCE, 0, wire.encode_address("2001:db8::102"), wire.NAME_REQUEST_LENGTH
    )
    reply = answer(core, known)
    assert reply is not None
    assert wire.decode_name(reply[28:]) == "2001:db8::102"


def test_disabled_smoothing_is_not_enabled():
    core = ServerCore(SCENARIO_NTP_SYNCED)
    phase = core.cursor.phase(0.0)
    state = dataclasses.replace(phase.state, disabled=frozenset({"smoothing"}))
    packet = codec.decode_request(request(reg.SMOOTHING))
    assert packet is not None
    assert status(core.answer(packet, dataclasses.replace(phase, state=state), trusted=True)) == 6


# -- faults -----------------------------------------------------------------------------


def core_with(*faults: Fault) -> ServerCore:
    return ServerCore(dataclasses.replace(SCENARIO_NTP_SYNCED, faults=faults))


def test_drop_every_k_loses_exactly_every_kth_reply():
    core = core_with(Fault.drop_every(3))
    got = [answer(core, request(reg.TRACKING)) is not None for _ in range(9)]
    assert got == [True, True, False] * 3


def test_hung_answers_nothing_late_holds_garbage_and_truncation_spoil():
    assert answer(core_with(Fault.hung()), request(reg.TRACKING)) is None
    late = core_with(Fault.late(2.5)).receive(request(reg.TRACKING), 0.0, trusted=True)
    assert late is not None
    assert late.delay == 2.5
    good = answer(core_with(), request(reg.TRACKING))
    garbage = answer(core_with(Fault.garbage()), request(reg.TRACKING))
    assert good is not None
    assert garbage is not None
    assert len(garbage) == len(good) != garbage
    truncated = answer(core_with(Fault.truncated(40)), request(reg.TRACKING))
    assert truncated == good[:40]


def test_socket_faults_are_handed_out_once_when_their_phase_starts():
    timeline = Timeline(
        SCENARIO_NTP_SYNCED,
        Step(dataclasses.replace(SCENARIO_NTP_SYNCED, faults=(Fault.permission(0o600),)),
             after_seconds=5),
        Step(dataclasses.replace(SCENARIO_NTP_SYNCED, faults=(Fault.restart(),)), after_seconds=9),
    )  # fmt: skip
    core = ServerCore(timeline, start=100.0)
    assert core.socket_faults(100.0) == []
    assert core.next_change(100.0) == 105.0
    assert core.socket_faults(105.0) == [Fault.permission(0o600)]
    assert core.socket_faults(106.0) == []
    assert core.socket_faults(109.0) == [Fault.restart(), Fault.permission(0o666)]
    assert core.next_change(109.0) is None


def test_faults_and_steps_reject_nonsense():
    with pytest.raises(ValueError, match="whole number"):
        Fault.drop_every(0)
    with pytest.raises(ValueError, match="non-negative"):
        Fault.late(float("nan"))
    with pytest.raises(ValueError, match="file mode"):
        Fault.permission(0o1777)
    with pytest.raises(ValueError, match="one of them"):
        Step(SCENARIO_NTP_SYNCED)
    with pytest.raises(ValueError, match="one of them"):
        Step(SCENARIO_NTP_SYNCED, after_requests=1, after_seconds=1.0)
    with pytest.raises(ValueError, match="Fault values"):
        ChronyStateConfig(faults=("hung",))  # type: ignore[arg-type]


def test_drifting_moves_the_offset_step_by_step():
    timeline = Timeline(
        SCENARIO_NTP_SYNCED, *drifting(SCENARIO_NTP_SYNCED, offset_step=1e-3, steps=3)
    )
    cursor = timeline.cursor()
    offsets = [cursor.request(0.0).config.offset for _ in range(5)]
    base = SCENARIO_NTP_SYNCED.offset
    assert offsets == pytest.approx([base, base + 1e-3, base + 2e-3, base + 3e-3, base + 3e-3])


# -- the mock session acts out the same faults --------------------------------------------


def mock(*faults: Fault, attempts: int = 3) -> tuple[MockSession, FakeClock]:
    clock = FakeClock()
    config = dataclasses.replace(SCENARIO_NTP_SYNCED, faults=faults)
    return MockSession(config, timeout=0.5, attempts=attempts, clock=(clock, clock.sleep)), clock


def test_the_mock_times_out_within_the_bound_and_injected_etimedout_is_a_timeout():
    session, clock = mock(Fault.hung())
    with pytest.raises(ChronyTimeoutError):
        session.request_record(reg.TRACKING, 0)
    assert clock() == 1.5
    with pytest.raises(ChronyTimeoutError):
        MockSession(ChronyStateConfig(error_injection={"request": -110})).request_record(
            reg.TRACKING, 0
        )


def test_the_mock_pays_a_timeout_per_lost_reply_and_waits_for_late_ones():
    session, clock = mock(Fault.drop_every(2))
    session.request_record(reg.TRACKING, 0)
    assert clock() == 0.0
    session.request_record(reg.TRACKING, 0)  # the 2nd reply is lost: one resend
    assert clock() == 0.5
    session, clock = mock(Fault.drop_every(1), attempts=2)
    with pytest.raises(ChronyTimeoutError):
        session.request_record(reg.TRACKING, 0)
    session, clock = mock(Fault.late(0.7))
    session.request_record(reg.TRACKING, 0)
    assert clock() == 0.7
    session, clock = mock(Fault.late(1.5))
    with pytest.raises(ChronyTimeoutError):
        session.request_record(reg.TRACKING, 0)


def test_the_mock_raises_what_a_client_makes_of_bad_replies():
    session, _ = mock(Fault.truncated(40))
    with pytest.raises(ChronyDataError, match="truncated"):
        session.request_record(reg.TRACKING, 0)
    session, _ = mock(Fault.garbage())
    with pytest.raises(ChronyTimeoutError):
        session.request_record(reg.TRACKING, 0)
    session, _ = mock(Fault.permission(0o600))
    with pytest.raises(ChronyPermissionError):
        session.request_record(reg.TRACKING, 0)


# -- report configs and names ------------------------------------------------------------


def test_report_configs_are_served_and_validated():
    source = SourceConfig(
        name="ntp.example.org",
        select=SelectConfig(
            state=SelectState.BEST, configured_options=SelectOptions.PREFER, score=0.5
        ),
        ntp=NTPConfig(mode=NTPMode.ACTIVE_SYMMETRIC, tx_messages=7, remote_port=1123),
        auth=AuthConfig(mode=AuthMode.NTS, key_type=KeyType.SHA256, key_length=256, cookies=8),
    )  # fmt: skip
    config = ChronyStateConfig(sources=[source])
    with patched_chrony_connection(config), ChronyConnection() as conn:
        assert conn.get_sources()[0].name == "ntp.example.org"
        select = conn.get_select_data()[0]
        ntp = conn.get_ntp_data()[0]
        auth = conn.get_auth_data()[0]
    assert (select.configured_options, select.score) == (SelectOptions.PREFER, 0.5)
    assert (ntp.mode, ntp.tx_messages, ntp.remote_port) == (NTPMode.ACTIVE_SYMMETRIC, 7, 1123)
    assert (auth.mode, auth.key_length, auth.cookies) == (AuthMode.NTS, 256, 8)
    for bad in (
        lambda: NTPConfig(remote_port=70000),
        lambda: NTPConfig(mode=4),  # an int, not an NTPMode
        lambda: NTPConfig(local_address="nowhere"),
        lambda: SelectConfig(score=float("inf")),
        lambda: AuthConfig(nak=1),
        lambda: AuthConfig(key_id=-1),
        lambda: SourceConfig(name=""),
        lambda: ChronyStateConfig(
            server_stats=dataclasses.replace(
                expected_reports(SCENARIO_NTP_SYNCED)["serverstats"], ntp_requests=-1
            )
        ),
    ):
        with pytest.raises(ValueError, match=r"must be|source name"):
            bad()


def test_sync_lost_is_what_chronyd_reports_when_it_gave_up_on_its_sources():
    tracking = expected_reports(SCENARIO_SYNC_LOST)["tracking"]
    assert not tracking.is_synchronized()
    assert (tracking.reference_id, tracking.stratum, tracking.ref_time) == (0, 0, 0.0)
    assert (tracking.root_delay, tracking.root_dispersion) == (1.0, 1.0)
    assert tracking.leap_status.name == "UNSYNC"
    assert tracking.last_offset == SCENARIO_NTP_SYNCED.last_offset  # kept from before
    assert not any(s.is_reachable() for s in SCENARIO_SYNC_LOST.sources)


# -- the command line and the pytest fixture -------------------------------------------------


def test_python_m_pychrony_testing_serve_serves_until_stopped(tmp_path):
    path = tmp_path / "run" / "chronyd.sock"
    path.parent.mkdir(mode=0o700)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pychrony.testing", "serve", "sync_lost", "--socket", str(path),
         "--udp", "127.0.0.1:0", "--chrony-version", "4.6"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().split() for _ in range(2)]
        assert lines[0] == ["unix", str(path)]
        assert lines[1][0] == "udp"
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        with ChronyConnection(lines[1][1], backend="python") as conn:
            assert conn.get_tracking().leap_status.name == "UNSYNC"
        with ChronyConnection(str(path), backend="python") as conn:
            assert conn.get_ntp_data()[0].hw_rx_timestamps == 0  # 4.6's layout
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
        if proc.stdout is not None:
            proc.stdout.close()
    assert not path.exists()


def test_the_fake_chronyd_fixture(fake_chronyd):
    fake = fake_chronyd(SCENARIO_SYNC_LOST, udp="127.0.0.1:0")
    with ChronyConnection(fake.udp_address, backend="python") as conn:
        assert conn.get_sources()[0].reachability == 0
    assert fake.requests >= 2  # the count and the record


def test_the_fake_is_an_async_context_manager_and_does_not_block_the_loop():
    from pychrony.aio import AsyncChronyConnection
    from pychrony.testing import FakeChronyd

    async def main() -> tuple[int, int]:
        fake = FakeChronyd(SCENARIO_MULTI_SOURCE)
        async with fake, AsyncChronyConnection(fake.socket_path, backend="python") as conn:
            tracking, sources = await asyncio.gather(conn.get_tracking(), conn.get_sources())
        return tracking.stratum, len(sources)

    assert asyncio.run(main()) == (
        SCENARIO_MULTI_SOURCE.stratum,
        len(SCENARIO_MULTI_SOURCE.sources),
    )
