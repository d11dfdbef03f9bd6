"""Failures against real chronyd processes: silence, absence, permissions, restarts."""

from __future__ import annotations

import os
import signal
import socket
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

pytestmark = pytest.mark.integration

SLACK = 0.5  # seconds a loaded CI machine may add to a bounded wait


def test_udp_endpoint_swallowing_requests_times_out_within_bound():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))  # receives everything, answers nothing
        port = sink.getsockname()[1]
        conn = ChronyConnection(f"127.0.0.1:{port}", timeout=0.25, attempts=3, backend="python")
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


def test_stopped_chronyd_times_out_and_recovers(own_lab):
    with ChronyConnection(own_lab.socket_path, timeout=0.2, attempts=2, backend="python") as conn:
        assert conn.get_tracking().is_synchronized()
        with own_lab.paused():
            start = time.monotonic()
            with pytest.raises(ChronyTimeoutError):
                conn.get_sources()
            assert time.monotonic() - start < 0.4 + SLACK
        assert len(conn.get_sources()) == 2  # late replies are not mistaken for new ones
        assert conn.get_tracking().is_synchronized()


def test_stopped_chronyd_with_many_sources_times_out_within_bound():
    lab = start_lab(sources=40, refclock=False)
    try:
        with ChronyConnection(lab.socket_path, timeout=0.2, attempts=2, backend="python") as conn:
            assert len(conn.get_sources()) == 40
            with lab.paused():  # its queue fills up: pipelined sends find it full
                start = time.monotonic()
                with pytest.raises(ChronyTimeoutError):
                    conn.get_sources()
                assert time.monotonic() - start < 0.4 + SLACK
            assert len(conn.get_sources()) == 40
    finally:
        lab.stop()


def test_missing_socket(lab):
    path = os.path.join(os.path.dirname(lab.socket_path), "no-such.sock")
    with pytest.raises(ChronyConnectionError, match="No such file.*Is chronyd running"):
        ChronyConnection(path, backend="python").get_tracking()


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


def test_crashed_chronyd_is_refused_then_restart_is_survived(own_lab):
    conn = ChronyConnection(own_lab.socket_path, timeout=0.5, attempts=2, backend="python")
    assert conn.get_tracking().is_synchronized()
    own_lab.kill_client(signal.SIGKILL)  # the socket file stays, nobody listens
    start = time.monotonic()
    with pytest.raises(ChronyConnectionError, match="Connection refused|refused"):
        conn.get_tracking()
    assert time.monotonic() - start < SLACK
    own_lab.restart_client()
    assert conn.get_tracking().is_synchronized()  # the same connection reconnects
    assert len(conn.get_sources()) == 2
    conn.close()
    assert not [n for n in os.listdir(os.path.dirname(own_lab.socket_path)) if "pychrony" in n]


def test_udp_to_a_stopped_chronyd_is_refused(own_lab):
    own_lab.kill_client(signal.SIGTERM)
    with pytest.raises(ChronyConnectionError, match="refused"):
        ChronyConnection(own_lab.udp_address, backend="python").get_tracking()


def test_permission_error_is_not_a_connection_error():
    # Callers distinguish "fix your permissions" from "chronyd is down".
    assert not issubclass(ChronyPermissionError, ChronyConnectionError)
