"""The pure-Python session against a scripted chronyd stand-in (no chronyd needed).

Covers what a real chronyd will not do on demand: silence, late and wrong
replies, failure statuses, sources vanishing, restarts.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import stat
import threading
import time

import pytest
from cmdmon_fake import FakeChronyd, Request, Sources, default_responder, fake_chronyd
from unprivileged import run_as_nobody

from pychrony import ChronyConnection, _address
from pychrony import registry as reg
from pychrony.exceptions import (
    ChronyConnectionError,
    ChronyDataError,
    ChronyError,
    ChronyPermissionError,
    ChronyTimeoutError,
)
from pychrony.models import SourceMode
from pychrony.protocol import session as client
from pychrony.protocol import transport
from pychrony.registry import REPORTS_BY_NAME

SOURCES = REPORTS_BY_NAME["sources"]
TRACKING = REPORTS_BY_NAME["tracking"]
SLACK = 0.5  # seconds a loaded CI machine may add to a bounded wait


def client_files(fake: FakeChronyd) -> list[str]:
    """Everything beside the fake's socket except the socket itself."""
    directory = os.path.dirname(fake.path)
    return sorted(n for n in os.listdir(directory) if n != "chronyd.sock")


def connect(fake: FakeChronyd, timeout: float = 1.0, attempts: int = 3) -> ChronyConnection:
    return ChronyConnection(fake.address, timeout=timeout, attempts=attempts, backend="python")


# -- the client socket's files ----------------------------------------------------


def test_client_socket_is_bound_safely_and_removed(tmp_path):
    with fake_chronyd(tmp_path) as fake:
        session = client.open_session(fake.path, timeout=1, attempts=1)
        try:
            (outer,) = client_files(fake)
            assert outer.startswith("pychrony.")
            outer_path = os.path.join(os.path.dirname(fake.path), outer)
            st = os.lstat(outer_path)
            assert stat.S_ISDIR(st.st_mode)
            assert stat.S_IMODE(st.st_mode) == 0o711  # enter, not list
            assert st.st_uid == os.geteuid()
            (inner,) = os.listdir(outer_path)
            assert len(inner) >= 12
            inner_path = os.path.join(outer_path, inner)
            assert stat.S_IMODE(os.lstat(inner_path).st_mode) == 0o711
            sock = os.lstat(os.path.join(inner_path, "sock"))
            assert stat.S_ISSOCK(sock.st_mode)
            assert stat.S_IMODE(sock.st_mode) == 0o666  # chronyd may run as another user
            assert session.record_count(SOURCES) == 3
        finally:
            session.close()
        assert client_files(fake) == []
        session.close()  # idempotent


def test_forgotten_session_is_cleaned_up_by_finalizer(tmp_path):
    with fake_chronyd(tmp_path) as fake:
        session = client.open_session(fake.path, timeout=1, attempts=1)
        assert len(client_files(fake)) == 1
        del session
        gc.collect()
        assert client_files(fake) == []


def test_thousand_open_close_cycles_leave_nothing(tmp_path):
    with fake_chronyd(tmp_path) as fake:
        before = set(os.listdir("/proc/self/fd"))
        for _ in range(1000):
            client.open_session(fake.path, timeout=1, attempts=1).close()
        assert client_files(fake) == []
        assert set(os.listdir("/proc/self/fd")) == before  # no leaked descriptors


def test_open_failing_halfway_leaves_nothing(tmp_path, monkeypatch):
    with fake_chronyd(tmp_path) as fake:

        def broken_open_up(self: object) -> None:
            raise PermissionError(13, "injected")

        monkeypatch.setattr(transport.ClientDir, "open_up", broken_open_up)
        with pytest.raises(ChronyConnectionError, match="injected"):
            client.open_session(fake.path, timeout=1, attempts=1)
        assert client_files(fake) == []


def test_forked_child_leaves_parents_socket_alone(tmp_path):
    with fake_chronyd(tmp_path) as fake:
        session = client.open_session(fake.path, timeout=1, attempts=1)
        pid = os.fork()
        if pid == 0:  # child: closing its copy must not remove the parent's files
            session.close()
            os._exit(0)
        os.waitpid(pid, 0)
        assert len(client_files(fake)) == 1
        assert session.record_count(SOURCES) == 3
        session.close()


def test_missing_socket(tmp_path):
    with pytest.raises(ChronyConnectionError, match="No such file.*Is chronyd running"):
        client.open_session(str(tmp_path / "nothing.sock"), timeout=1, attempts=1)
    assert os.listdir(tmp_path) == []


def test_dead_socket(tmp_path):
    path = str(tmp_path / "chronyd.sock")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(path)
    dead.close()  # the file stays, nobody listens: a crashed chronyd
    with pytest.raises(ChronyConnectionError, match="Connection refused"):
        client.open_session(path, timeout=1, attempts=1)
    assert os.listdir(tmp_path) == ["chronyd.sock"]


def test_socket_path_too_long(tmp_path):
    with pytest.raises(ChronyConnectionError, match="too long"):
        client.open_session("/" + "x" * 120, timeout=1, attempts=1)


# -- exchanges --------------------------------------------------------------------


def test_reports_end_to_end(tmp_path):
    sources = Sources(count=4, refclocks=frozenset({0}))
    with fake_chronyd(tmp_path, sources=sources) as fake, connect(fake) as conn:
        got = conn.get_sources()
        assert [s.address for s in got] == ["GPS", "192.0.2.2", "192.0.2.3", "192.0.2.4"]
        assert [s.name for s in got] == [
            None,
            "ntp-192.0.2.2.example.org",
            "ntp-192.0.2.3.example.org",
            "ntp-192.0.2.4.example.org",
        ]
        assert [s.address for s in conn.get_source_stats()] == [s.address for s in got]
        ntp = conn.get_ntp_data()  # the refclock has none
        assert [n.remote_address for n in ntp] == ["192.0.2.2", "192.0.2.3", "192.0.2.4"]
        assert [a.address for a in conn.get_auth_data()] == ["192.0.2.2", "192.0.2.3", "192.0.2.4"]
        assert conn.get_tracking().stratum == 2
        assert conn.get_server_stats().hw_tx_timestamps is not None
        # ntpdata was asked by the addresses sourcestats gave, never for the refclock,
        # the last first (pychrony._source_list).
        asked = [r.address for r in fake.requests if r.command == 57]
        assert asked == ["192.0.2.4", "192.0.2.3", "192.0.2.2"]


def test_unresolved_source_has_its_name(tmp_path):
    sources = Sources(count=2, unresolved=frozenset({1}))
    with fake_chronyd(tmp_path, sources=sources) as fake, connect(fake) as conn:
        got = conn.get_sources()
        assert [s.address for s in got] == ["192.0.2.1", "ID#0000000001"]
        assert got[1].name == "ntp-ID#0000000001.example.org"  # asked by its ID
        assert [n.remote_address for n in conn.get_ntp_data()] == ["192.0.2.1", "ID#0000000001"]


def test_single_source_is_fetched_without_prefetch(tmp_path):
    with fake_chronyd(tmp_path, sources=Sources(count=1)) as fake, connect(fake) as conn:
        (source,) = conn.get_sources()
        assert source.name == "ntp-192.0.2.1.example.org"
        (ntp,) = conn.get_ntp_data()
        assert ntp.remote_address == "192.0.2.1"


def test_names_not_asked_again_of_a_chronyd_without_them(tmp_path):
    sources = Sources(count=5, names=False)
    with fake_chronyd(tmp_path, sources=sources) as fake, connect(fake) as conn:
        assert [s.name for s in conn.get_sources()] == [None] * 5
        first = sum(r.command == reg.SOURCE_NAME_REQUEST for r in fake.requests)
        assert first <= conn._session.window
        conn.get_sources()
        assert sum(r.command == reg.SOURCE_NAME_REQUEST for r in fake.requests) == first


def test_names_are_asked_once_per_address(tmp_path):
    with fake_chronyd(tmp_path, sources=Sources(count=6)) as fake, connect(fake) as conn:
        first = conn.get_sources()
        assert sum(r.command == reg.SOURCE_NAME_REQUEST for r in fake.requests) == 6
        assert conn.get_sources() == first
        assert sum(r.command == reg.SOURCE_NAME_REQUEST for r in fake.requests) == 6


def test_refclock_never_gets_the_name_of_an_address_equal_to_its_reference_id(tmp_path):
    """A refclock's slot holds its reference ID as an IPv4 address: 192.0.2.1 here,
    the address of source 0, whose name is known (by raw slot) from the first read."""
    inner = default_responder(Sources(count=2, refclocks=frozenset({1})))

    def respond(request: Request) -> list[bytes]:
        replies = inner(request)
        if request.command == reg.SOURCES.record_request and request.index == 1:
            start = reg.RESPONSE_HEADER_LEN  # the slot's first 4 bytes: "GPS\0"
            replies = [r[:start] + bytes([192, 0, 2, 1]) + r[start + 4 :] for r in replies]
        return replies

    with fake_chronyd(tmp_path, respond=respond) as fake, connect(fake) as conn:
        for _ in range(2):
            ntp, refclock = conn.get_sources()
            assert ntp.name == "ntp-192.0.2.1.example.org"
            assert (refclock.address, refclock.name) == ("192.0.2.1", None)
            assert refclock.mode is SourceMode.REFCLOCK


def test_single_record_reports_cost_one_request(tmp_path):
    with fake_chronyd(tmp_path) as fake, connect(fake) as conn:
        conn.get_tracking()
        conn.get_tracking()
        assert [r.command for r in fake.requests] == [33, 33]
        assert all(r.length == 104 for r in fake.requests)  # padded to the reply's length


def test_truncated_reply_with_our_sequence_is_a_data_error(tmp_path):
    inner = default_responder(Sources())

    def respond(request: Request) -> list[bytes]:
        return [reply[:-4] for reply in inner(request)]

    match = "tracking: reply 5 of 100 bytes, expected 104"
    with (
        fake_chronyd(tmp_path, respond=respond) as fake,
        connect(fake) as conn,
        pytest.raises(ChronyDataError, match=match),
    ):
        conn.get_tracking()


@pytest.mark.parametrize("report", ["tracking", "sources"])
def test_flood_of_wrong_replies_does_not_extend_the_bound(tmp_path, report):
    inner = default_responder(Sources(count=20))

    def respond(request: Request) -> list[bytes]:
        if request.command == 14:
            return inner(request)
        garbage = bytearray(inner(request)[0])
        garbage[16] ^= 0xFF  # another sequence number
        return [bytes(garbage)] * 100_000  # sent as fast as the client reads

    with fake_chronyd(tmp_path, respond=respond) as fake, connect(fake, 0.2, 2) as conn:
        start = time.monotonic()
        with pytest.raises(ChronyTimeoutError):
            conn.report(report)
        assert time.monotonic() - start < 0.4 + SLACK


def test_stuck_chronyd_with_a_full_queue_times_out_within_bound(tmp_path):
    inner = default_responder(Sources(count=40))
    stuck = threading.Event()

    def respond(request: Request) -> list[bytes]:
        if request.command != 14:
            stuck.wait(5)  # stops reading: its queue fills, sends find it full
        return inner(request)

    with fake_chronyd(tmp_path, respond=respond) as fake:
        try:
            with connect(fake, 0.2, 2) as conn:
                start = time.monotonic()
                with pytest.raises(ChronyTimeoutError):
                    conn.get_sources()
                assert time.monotonic() - start < 0.4 + SLACK
        finally:
            stuck.set()


def test_source_counted_but_gone_is_read_again_never_skipped(tmp_path):
    """A count of 4 over 3 sources (one removed after the count): the read starts
    again from the count; a list that stays so is a ChronyDataError, never 3 of 4."""
    sources = Sources(count=3)
    inner = default_responder(sources)
    counts: list[int] = []

    def respond(request: Request) -> list[bytes]:
        if request.command == 14:
            counts.append(4 if (wrong or not counts) else 3)
            return [request.reply(reg.COUNT_RESPONSE, [counts[-1]])]
        return inner(request)

    wrong = False  # the first count only: the second read is consistent
    with fake_chronyd(tmp_path, respond=respond) as fake, connect(fake) as conn:
        for getter in (conn.get_sources, conn.get_select_data, conn.get_ntp_data):
            counts.clear()
            assert len(getter()) == 3
            assert counts == [4, 3]  # read again from the count
        wrong = True  # every count: the list never holds still
        for getter in (conn.get_sources, conn.get_select_data, conn.get_ntp_data):
            with pytest.raises(ChronyDataError, match="source list changed while it was read"):
                getter()


def test_unauthorised_and_disabled_statuses(tmp_path):
    def respond(request: Request) -> list[bytes]:
        if request.command == 14:
            return [request.reply(reg.COUNT_RESPONSE, [2])]
        if request.command == 35:
            return [request.error(13)]
        return [request.error(2)]

    with fake_chronyd(tmp_path, respond=respond) as fake, connect(fake) as conn:
        with pytest.raises(ChronyPermissionError, match="selectdata.*Unix socket.*opencommands"):
            conn.get_select_data()
        assert conn.get_rtc_data() is None


def test_newer_layout_fails_that_report_only(tmp_path):
    inner = default_responder(Sources())

    def respond(request: Request) -> list[bytes]:
        replies = inner(request)
        if request.command == 34:  # sourcestats in a layout from the future
            return [request.raw_reply(99, replies[0][28:])]
        return replies

    with fake_chronyd(tmp_path, respond=respond) as fake, connect(fake) as conn:
        with pytest.raises(ChronyDataError, match="sourcestats: chronyd is newer"):
            conn.get_source_stats()
        assert len(conn.get_sources()) == 3  # the connection still works
        assert conn.get_tracking().stratum == 2


def test_chronyd_restart_is_survived(tmp_path):
    with fake_chronyd(tmp_path) as fake:
        conn = connect(fake)
        assert conn.get_tracking().stratum == 2
    with fake_chronyd(tmp_path) as again:  # the same path, a new socket
        assert conn.get_tracking().stratum == 2
        assert len(again.requests) == 1
        conn.close()


def test_closed_session_raises(tmp_path):
    with fake_chronyd(tmp_path) as fake:
        session = client.open_session(fake.path, timeout=1, attempts=1)
        session.close()
        with pytest.raises(ChronyConnectionError, match="closed"):
            session.record_count(SOURCES)
        with pytest.raises(ChronyConnectionError, match="closed"):
            session.request_record(TRACKING, 0)


def test_single_record_report_has_one_record_without_io(tmp_path):
    with fake_chronyd(tmp_path) as fake:
        session = client.open_session(fake.path, timeout=1, attempts=1)
        assert session.record_count(TRACKING) == 1
        assert fake.requests == []
        with pytest.raises(ChronyError, match="single record"):
            session.request_record(TRACKING, 1)
        session.close()


def test_keyboard_interrupt_propagates(tmp_path):
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    with fake_chronyd(tmp_path, respond=lambda request: []) as fake, connect(fake, 5, 1) as conn:
        previous = signal.signal(signal.SIGALRM, interrupt)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            start = time.monotonic()
            with pytest.raises(KeyboardInterrupt):
                conn.get_tracking()
            assert time.monotonic() - start < 2
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


# -- UDP and auto-detection ---------------------------------------------------------


def test_udp(tmp_path):
    with fake_chronyd(tmp_path, udp=True) as fake, connect(fake) as conn:
        assert len(conn.get_sources()) == 3


def test_udp_refused(tmp_path):
    with fake_chronyd(tmp_path, udp=True) as fake:
        address = fake.address
    conn = ChronyConnection(address, timeout=1, attempts=3, backend="python")
    start = time.monotonic()
    with pytest.raises(ChronyConnectionError, match="refused.*cmdport"):
        conn.get_tracking()
    assert time.monotonic() - start < SLACK
    conn.close()


def test_auto_detection_skips_missing_sockets(tmp_path, monkeypatch):
    with fake_chronyd(tmp_path) as fake:
        missing = str(tmp_path / "missing" / "chronyd.sock")
        monkeypatch.setattr(_address, "DEFAULT_SOCKETS", (missing, fake.path))
        with ChronyConnection(backend="python") as conn:
            assert conn._session.address == fake.path
            assert conn.get_tracking().stratum == 2


def test_auto_detection_takes_the_udp_endpoint_that_answers(tmp_path, monkeypatch):
    with fake_chronyd(tmp_path, udp=True) as fake:
        port = int(fake.address.split(":")[1])
        endpoints = (
            _address.Endpoint(path=str(tmp_path / "none.sock")),
            _address.Endpoint(host="::1", port=port),  # nothing there (or no IPv6)
            _address.Endpoint(host="127.0.0.1", port=port),
        )
        monkeypatch.setattr(client, "candidates", lambda address: endpoints)
        with ChronyConnection(backend="python") as conn:
            assert conn._session.address == fake.address
            assert conn.get_tracking().stratum == 2


def test_auto_detection_falls_back_to_udp_where_the_socket_is_forbidden(tmp_path, monkeypatch):
    # Like chronyc: an unprivileged user still gets the open reports over UDP.
    def forbidden(path: str) -> None:
        raise ChronyPermissionError(f"Permission denied for chronyd socket {path}: ...")

    with fake_chronyd(tmp_path, udp=True) as fake:
        port = int(fake.address.split(":")[1])
        endpoints = (
            _address.Endpoint(path="/run/chrony/chronyd.sock"),
            _address.Endpoint(host="127.0.0.1", port=port),
        )
        monkeypatch.setattr(client, "candidates", lambda address: endpoints)
        monkeypatch.setattr(client, "open_unix", forbidden)
        with ChronyConnection(backend="python") as conn:
            assert conn.get_tracking().stratum == 2
        # Nothing answers at all: the permission problem is what to fix.
        fake.respond = lambda request: []
        with pytest.raises(ChronyPermissionError, match=r"(?s)Tried:\n.*sock: Permission denied"):
            ChronyConnection(timeout=0.1, attempts=1, backend="python").open()


def test_auto_detection_failing_names_what_was_tried(tmp_path, monkeypatch):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing will answer there
    endpoints = (
        _address.Endpoint(path=str(tmp_path / "a.sock")),
        _address.Endpoint(host="127.0.0.1", port=port),
    )
    monkeypatch.setattr(client, "candidates", lambda address: endpoints)
    with pytest.raises(ChronyConnectionError) as info:
        ChronyConnection(timeout=0.2, attempts=1, backend="python").open()
    message = str(info.value)
    assert "a.sock" in message
    assert f"127.0.0.1:{port}" in message
    assert "Is chronyd running" in message


# -- permissions (as an unprivileged user) -------------------------------------------


def test_socket_without_permission_as_unprivileged_user(tmp_path):
    with fake_chronyd(tmp_path) as fake:  # in a 0700 directory of root's
        result = run_as_nobody(
            "import sys; from pychrony import ChronyConnection, ChronyPermissionError\n"
            "try:\n"
            f"    ChronyConnection({fake.path!r}, backend='python').get_tracking()\n"
            "except ChronyPermissionError as exc:\n"
            "    print(exc); sys.exit(0)\n"
            "sys.exit(1)\n"
        )
        assert fake.requests == []
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Permission denied" in result.stdout
    assert "chrony" in result.stdout.split(":", 1)[1]  # names the group or user to use
