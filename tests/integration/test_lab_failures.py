"""Fault matrix against real chronyd processes, for both backends: absence, silence,
crashes and restarts, stops, cmdallow, permissions.

``backend`` is "python" and "native"; the native rows need the extension linked to
a real libchrony (marker real_libchrony: ci/test.sh runs them from
ci/build_native_real.sh's build). README, "What pychrony survives", sums them up.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import socket
import threading
import time

import pytest
from labs import start_lab
from unprivileged import run_as_nobody

from pychrony import (
    ChronyConnection,
    ChronyConnectionError,
    ChronyPermissionError,
    ChronyTimeoutError,
)
from pychrony.lab import Lab

pytestmark = pytest.mark.integration

SLACK = 0.5  # seconds a loaded CI machine may add to a bounded wait


def connect(
    address: str, backend: str, timeout: float = 0.5, attempts: int = 2
) -> ChronyConnection:
    return ChronyConnection(address, timeout=timeout, attempts=attempts, backend=backend)


def lab_address(lab: Lab, transport: str) -> str:
    return lab.socket_path if transport == "unix" else lab.udp_address


# -- chronyd not running, socket missing, nobody listening ------------------------------


@pytest.mark.parametrize("transport", ["unix", "udp"])
def test_chronyd_not_running(own_lab, backend, transport):
    address = lab_address(own_lab, transport)
    own_lab.kill_client(signal.SIGTERM)  # a clean exit: chronyd removes its socket
    conn = connect(address, backend)
    start = time.monotonic()
    message = "No such file.*Is chronyd running" if transport == "unix" else "refused"
    with pytest.raises(ChronyConnectionError, match=message):
        conn.get_tracking()
    assert time.monotonic() - start < SLACK  # refused at once, no waiting
    own_lab.restart_client()
    assert conn.get_tracking().stratum == 9  # the same connection, once chronyd is back
    conn.close()


@pytest.mark.parametrize("where", ["no-such.sock", "no-such-dir/chronyd.sock"])
def test_missing_socket(lab, backend, where):
    path = os.path.join(os.path.dirname(lab.socket_path), where)
    with pytest.raises(ChronyConnectionError, match="No such file.*Is chronyd running"):
        connect(path, backend).get_tracking()
    assert sorted(os.listdir(os.path.dirname(lab.socket_path))) == ["chronyd.sock"]


def test_socket_present_but_nobody_listening(own_lab, backend):
    directory = os.path.dirname(own_lab.socket_path)
    own_lab.kill_client(signal.SIGKILL)  # a crash: the socket file stays
    assert os.path.exists(own_lab.socket_path)
    start = time.monotonic()
    with pytest.raises(ChronyConnectionError, match="refused.*Is chronyd running"):
        connect(own_lab.socket_path, backend).get_tracking()
    assert time.monotonic() - start < SLACK
    assert sorted(os.listdir(directory)) == ["chronyd.sock"]  # no client socket left behind


def test_udp_endpoint_swallowing_requests_times_out_within_bound(backend):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))  # receives everything, answers nothing
        port = sink.getsockname()[1]
        conn = connect(f"127.0.0.1:{port}", backend, timeout=0.25, attempts=3)
        start = time.monotonic()
        with pytest.raises(ChronyTimeoutError, match="did not answer"):
            conn.get_tracking()
        elapsed = time.monotonic() - start
        conn.close()
        received = 0
        sink.setblocking(False)
        while True:
            try:
                sink.recv(4096)
            except BlockingIOError:
                break
            received += 1
    assert 0.75 <= elapsed < 0.75 + SLACK
    assert received == 3  # one request per attempt


# -- killed, restarted ------------------------------------------------------------------


def test_crashed_chronyd_is_refused_then_restart_is_survived(own_lab, backend):
    conn = connect(own_lab.socket_path, backend)
    assert conn.get_tracking().is_synchronized()
    own_lab.kill_client(signal.SIGKILL)  # the socket file stays, nobody listens
    start = time.monotonic()
    with pytest.raises(ChronyConnectionError, match="refused"):
        conn.get_tracking()
    assert time.monotonic() - start < SLACK
    own_lab.restart_client()
    assert conn.get_tracking().is_synchronized()  # the same connection reconnects
    assert len(conn.get_sources()) == 2
    conn.close()
    assert sorted(os.listdir(os.path.dirname(own_lab.socket_path))) == ["chronyd.sock"]


@pytest.mark.parametrize("transport", ["unix", "udp"])
def test_chronyd_killed_and_restarted_between_two_calls(own_lab, backend, transport):
    conn = connect(lab_address(own_lab, transport), backend)
    assert conn.get_tracking().is_synchronized()
    own_lab.kill_client(signal.SIGKILL)
    own_lab.restart_client()  # a new chronyd: a new socket at the same path, same port
    # The issue allows one ChronyConnectionError here; both backends reconnect by
    # themselves (the Unix socket's send() is refused, so it is connected again).
    assert conn.get_tracking().is_synchronized()
    assert len(conn.get_sources()) == 2
    conn.close()


# -- stopped (SIGSTOP) ------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["unix", "udp"])
def test_stopped_chronyd_times_out_and_recovers(own_lab, backend, transport):
    with connect(lab_address(own_lab, transport), backend, timeout=0.2) as conn:
        assert conn.get_tracking().is_synchronized()
        with own_lab.paused():
            start = time.monotonic()
            with pytest.raises(ChronyTimeoutError):
                conn.get_sources()
            assert time.monotonic() - start < 0.4 + SLACK
        assert len(conn.get_sources()) == 2  # late replies are not mistaken for new ones
        assert conn.get_tracking().is_synchronized()


def _read_sources_until_it_fails(conn: ChronyConnection, calls: list[int]) -> None:
    for call in range(10_000):
        assert len(conn.get_sources()) == 40  # whole, or the timeout
        calls.append(call)


def test_chronyd_stopped_mid_request_times_out_within_bound_then_recovers(backend):
    """SIGSTOP lands while get_sources() of 40 sources is under way (pipelined:
    8 requests in flight over one socket for python, over 8 libchrony sessions for
    native)."""
    lab = start_lab(sources=40, refclock=False)
    stopped_at: list[float] = []

    def stop() -> None:
        lab.pause()
        stopped_at.append(time.monotonic())

    try:
        with connect(lab.socket_path, backend, timeout=0.2) as conn:
            assert len(conn.get_sources()) == 40
            timer = threading.Timer(0.05, stop)
            timer.start()
            calls: list[int] = []
            try:
                with pytest.raises(ChronyTimeoutError):
                    _read_sources_until_it_fails(conn, calls)
                raised_at = time.monotonic()
            finally:
                timer.join()
                lab.resume()
            assert calls  # the stop came while calls were being made
            assert raised_at - stopped_at[0] < 0.4 + SLACK
            assert len(conn.get_sources()) == 40
            assert len(conn.get_sources()) == 40
    finally:
        lab.stop()


# -- cmdallow ---------------------------------------------------------------------------


def _non_loopback_address() -> str:
    """This host's IPv4 address on its default route (never sends a packet)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("203.0.113.1", 9))  # TEST-NET-3: only picks the route
            address = str(probe.getsockname()[0])
    except OSError:
        address = ""
    if not address or ipaddress.ip_address(address).is_loopback:
        message = "needs a non-loopback IPv4 address (chronyd always allows 127.0.0.1)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return address


def test_udp_from_a_host_cmdallow_does_not_cover(backend):
    """chronyd 4.3 drops such requests without a word: a timeout naming cmdallow."""
    local = _non_loopback_address()
    lab = start_lab(sources=1, refclock=False, cmd_address="0.0.0.0", cmdallow=())
    try:
        conn = connect(f"{local}:{lab.cmd_port}", backend, timeout=0.2)
        start = time.monotonic()
        with pytest.raises(ChronyTimeoutError, match=f"cmdallow {re.escape(local)}"):
            conn.get_tracking()
        assert time.monotonic() - start < 0.4 + SLACK
        with connect(lab.udp_address, backend) as loopback:  # always allowed
            assert loopback.get_tracking().stratum == 9
        lab.chronyc("cmdallow", local, csv=False)
        assert conn.get_tracking().stratum == 9  # the same connection, once allowed
        # Allowed hosts get the monitoring commands only, like loopback over UDP.
        with pytest.raises(ChronyPermissionError, match="not authorised"):
            conn.get_server_stats()
        conn.close()
    finally:
        lab.stop()


# -- permissions (python backend: run as nobody) ----------------------------------------


def test_socket_without_permission(lab):
    result = run_as_nobody(
        "import sys; from pychrony import ChronyConnection, ChronyPermissionError\n"
        "try:\n"
        f"    ChronyConnection({lab.socket_path!r}, backend='python').get_tracking()\n"
        "except ChronyPermissionError as exc:\n"
        "    print(exc); sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Permission denied" in result.stdout
    assert lab.socket_path in result.stdout


def test_udp_works_where_the_socket_is_forbidden(lab):
    result = run_as_nobody(
        "from pychrony import ChronyConnection\n"
        f"print(ChronyConnection({lab.udp_address!r}, backend='python').get_tracking().stratum)\n"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "9"


def test_permission_error_is_not_a_connection_error():
    # Callers distinguish "fix your permissions" from "chronyd is down".
    assert not issubclass(ChronyPermissionError, ChronyConnectionError)
