"""pychrony 2.x programs against a real chronyd at its standard endpoints.

The lab's client chronyd answers at /run/chrony/chronyd.sock and UDP 127.0.0.1:323
(``labs.StandardLab``: it refuses to start when anything else uses them), so
``ChronyConnection()`` auto-detects it as it would a system chronyd. Both backends
(native: marker real_libchrony); the permission cases run as ``nobody``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import textwrap
from collections.abc import Iterator

import pytest
from labs import STANDARD_SOCKET, StandardLab, start_standard_lab
from unprivileged import run_as_nobody

from pychrony import (
    ChronyConnection,
    ChronyConnectionError,
    LeapStatus,
    RTCData,
    Source,
    SourceStats,
    TrackingStatus,
    Transport,
)
from pychrony.lab import LabError

pytestmark = pytest.mark.integration

CANDIDATES = [STANDARD_SOCKET, "/var/run/chrony/chronyd.sock", "127.0.0.1:323", "[::1]:323"]


@pytest.fixture(scope="module")
def standard_lab() -> Iterator[StandardLab]:
    lab = start_standard_lab()
    try:
        yield lab
    finally:
        lab.stop()


def test_the_standard_lab_refuses_endpoints_in_use():
    # First in this module: the shared standard lab is not running yet.
    start_standard_lab().stop()  # it can start here, and leaves nothing behind
    assert not os.path.lexists(os.path.dirname(STANDARD_SOCKET))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", 323))
        with pytest.raises(LabError, match="127.0.0.1 port 323 is taken"):
            StandardLab(sources=1, refclock=False).start()
    assert not os.path.lexists(os.path.dirname(STANDARD_SOCKET))
    lab = start_standard_lab()
    try:
        with pytest.raises(LabError, match="exists: another chronyd"):
            StandardLab(sources=1, refclock=False).start()
        assert lab.chronyc("tracking")  # the first one is untouched
    finally:
        lab.stop()
    assert not os.path.lexists(os.path.dirname(STANDARD_SOCKET))


def as_2x_user_reads(conn: ChronyConnection) -> None:
    """What 2.x's documentation does with a connection, checked against the lab."""
    status = conn.get_tracking()
    assert isinstance(status, TrackingStatus)
    assert status.is_synchronized()
    assert status.stratum == 9
    assert status.reference_ip == "127.0.0.1"
    assert status.reference_id_name == "127.0.0.1"
    assert status.leap_status is LeapStatus.NORMAL
    assert not status.is_leap_pending()
    sources = conn.get_sources()
    assert all(isinstance(s, Source) for s in sources)
    assert len(sources) == 2
    assert [s.address for s in sources if s.is_selected()] == ["127.0.0.1"]
    assert {s.state.name for s in sources} <= {m.name for m in type(sources[0].state)}
    stats = conn.get_source_stats()
    assert all(isinstance(s, SourceStats) for s in stats)
    assert len(stats) == 2
    rtc = conn.get_rtc_data()
    assert rtc is None or isinstance(rtc, RTCData)  # the lab does not track its RTC
    assert rtc is None


def test_auto_detect_finds_the_standard_socket(standard_lab, backend):
    conn = ChronyConnection(backend=backend)
    assert (conn.address, conn.transport) == (None, None)
    with conn:
        assert conn.transport is Transport.UNIX_SOCKET
        assert conn.address == STANDARD_SOCKET
        as_2x_user_reads(conn)
    assert (conn.address, conn.transport) == (None, None)
    with conn:  # 2.x re-enters one connection
        assert conn.get_tracking().stratum == 9


def test_async_connection_and_pool_tell_where_they_connected(standard_lab, backend):
    import asyncio

    from pychrony import AsyncChronyConnection, ChronyConnectionPool

    async def read() -> tuple[object, ...]:
        async with AsyncChronyConnection(backend=backend) as conn:
            stratum = (await conn.get_tracking()).stratum
            return conn.address, conn.transport, stratum

    assert asyncio.run(read()) == (STANDARD_SOCKET, Transport.UNIX_SOCKET, 9)
    with ChronyConnectionPool("127.0.0.1", size=2, backend=backend) as pool:
        assert pool.transport is None
        assert pool.get_tracking().stratum == 9
        assert (pool.address, pool.transport) == ("127.0.0.1", Transport.COMMAND_PORT)
    assert pool.address is None


def test_command_port_323_by_address(standard_lab, backend):
    with ChronyConnection("127.0.0.1", backend=backend) as conn:
        assert (conn.address, conn.transport) == ("127.0.0.1", Transport.COMMAND_PORT)
        as_2x_user_reads(conn)


def test_a_read_only_consumer_requiring_the_command_port(standard_lab, backend):
    # 2.x's recipe: refuse to hold the control channel, fall back to the port.
    with ChronyConnection(backend=backend) as conn:
        if conn.transport is not Transport.COMMAND_PORT:
            with ChronyConnection("127.0.0.1", backend=backend) as port:
                assert port.transport is Transport.COMMAND_PORT
                assert port.get_tracking().stratum == 9


def _nobody(standard_lab: StandardLab, backend: str, body: str) -> str:
    code = "from pychrony import *\nimport sys\n" + textwrap.dedent(body).replace(
        "BACKEND", repr(backend)
    )
    result = run_as_nobody(code, native=backend == "native")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_unprivileged_auto_detect_moves_on_to_the_command_port(standard_lab, backend):
    out = _nobody(
        standard_lab,
        backend,
        """
        with ChronyConnection(backend=BACKEND) as conn:
            print(conn.backend, conn.transport.name, conn.address, conn.get_tracking().stratum)
        """,
    )
    assert out.split() == [backend, "COMMAND_PORT", "127.0.0.1:323", "9"]


def test_unprivileged_explicit_socket_is_a_permission_error(standard_lab, backend):
    out = _nobody(
        standard_lab,
        backend,
        f"""
        try:
            ChronyConnection({STANDARD_SOCKET!r}, backend=BACKEND).get_tracking()
        except ChronyPermissionError as exc:
            print(exc.message)
            sys.exit(0)
        sys.exit(1)
        """,
    )
    assert out.startswith(f"Permission denied connecting to {STANDARD_SOCKET}")
    assert 'ChronyConnection("127.0.0.1")' in out


def test_unprivileged_with_chronyd_stopped_lists_every_candidate(standard_lab, backend):
    with standard_lab.paused():  # the sockets stay; nothing answers
        out = _nobody(
            standard_lab,
            backend,
            """
            try:
                ChronyConnection(timeout=0.2, attempts=1, backend=BACKEND).get_tracking()
            except ChronyPermissionError as exc:
                print(exc.message)
                sys.exit(0)
            sys.exit(1)
            """,
        )
    lines = out.strip().splitlines()
    assert lines[0] == "Failed to connect to chronyd (auto-detect). Tried:"
    assert [line.split(": ")[0].strip() for line in lines[1:5]] == CANDIDATES
    assert lines[1].endswith(": Permission denied")
    assert lines[2].endswith(": Permission denied")
    assert lines[3] == "  127.0.0.1:323: no answer (timed out)"
    assert len(lines) == 6
    assert "joining chronyd's group does not help" in lines[5]
    assert out.count("ChronyConnection(") == 1  # the hint, once


def test_nothing_listening_lists_every_candidate_with_its_reason(standard_lab, backend):
    standard_lab.kill_client(signal.SIGTERM)  # a clean exit: chronyd removes its socket
    try:
        with pytest.raises(ChronyConnectionError) as info:
            ChronyConnection(timeout=0.2, attempts=1, backend=backend).get_tracking()
    finally:
        standard_lab.restart_client()
    lines = info.value.message.splitlines()
    assert lines[0] == "Failed to connect to chronyd (auto-detect). Tried:"
    assert [line.split(": ")[0].strip() for line in lines[1:5]] == CANDIDATES
    assert lines[1].endswith(": No such file or directory")
    assert lines[2].endswith(": No such file or directory")
    assert re.search(r"refused", lines[3], re.IGNORECASE)
    assert lines[5].startswith("Is chronyd running?")
    assert info.value.error_code == -2
    with ChronyConnection(backend=backend) as conn:  # back at the socket
        assert conn.transport is Transport.UNIX_SOCKET


def test_send_and_receive_failures_are_connection_errors(standard_lab, backend):
    for address in (STANDARD_SOCKET, "127.0.0.1"):
        conn = ChronyConnection(address, timeout=0.3, attempts=1, backend=backend)
        assert conn.get_tracking().stratum == 9
        standard_lab.kill_client(signal.SIGKILL)  # a crash under an open session
        try:
            with pytest.raises(ChronyConnectionError) as info:
                conn.get_sources()
        finally:
            standard_lab.restart_client()
        assert info.value.error_code is not None
        assert conn.get_sources()  # the same connection, once chronyd is back
        conn.close()


def test_missing_socket_message_begins_as_in_2x(standard_lab, backend):
    path = "/run/chrony/no-such.sock"
    with pytest.raises(ChronyConnectionError, match=f"^Failed to connect to {path} "):
        ChronyConnection(path, backend=backend).get_tracking()
