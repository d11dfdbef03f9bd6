"""pychrony only ever asks chronyd monitoring questions, and leaves no files behind.

* The commands pychrony may send are derived in one place,
  ``registry.REQUEST_COMMANDS``; they are checked against chrony's own list of
  read-only commands (written out here by hand from chrony's ``candm.h`` and
  ``cmdmon.c``), so a report added with a control command fails here.
* Every public API (all reports, ``ChronyConnection``, the CLI, the dashboard with
  its poller thread, the exporter, the testing kit) is run against a fake chronyd that records
  every datagram; each one is decoded and its command must be in the allowlist.
* The requests are byte for byte what chronyc sends for the same query.
* The reply socket's directory is never found through a planted symlink, and a
  session writes nothing outside the socket's directory.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cmdmon_fake import FakeChronyd, Sources, fake_chronyd

import pychrony
from pychrony import ChronyConnection, _clients, cli
from pychrony import registry as reg
from pychrony.exceptions import ChronyConnectionError
from pychrony.protocol import session as client
from pychrony.protocol import wire
from pychrony.registry import REPORTS, REPORTS_BY_NAME
from pychrony.testing import SCENARIO_MULTI_SOURCE, patched_chrony_connection

# chrony's monitoring commands: those cmdmon.c's handle_readonly_commands() serves
# (candm.h REQ_* codes). Everything else changes chronyd's state.
CANDM_READ_ONLY = {
    14: "N_SOURCES",
    15: "SOURCE_DATA",
    25: "ACCHECK",
    26: "CMDACCHECK",
    33: "TRACKING",
    34: "SOURCESTATS",
    35: "RTCREPORT",
    41: "MANUAL_LIST",
    44: "ACTIVITY",
    51: "SMOOTHING",
    54: "SERVER_STATS",
    57: "NTP_DATA",
    65: "NTP_SOURCE_NAME",
    67: "AUTH_DATA",
    68: "CLIENT_ACCESSES_BY_INDEX3",
    69: "SELECT_DATA",
}
# A few of candm.h's control commands, to show the check can fail.
CANDM_CONTROL = {
    1: "ONLINE",
    11: "SETTIME",
    29: "DEL_SOURCE",
    31: "DFREQ",
    43: "MAKESTEP",
    62: "SHUTDOWN",
    64: "ADD_SOURCE",
}

REQUEST = struct.Struct(">BBBBHHIII")  # candm.h CMD_Request header


def test_allowlist_is_chronys_monitoring_commands():
    assert reg.REQUEST_COMMANDS.issubset(CANDM_READ_ONLY)
    assert {CANDM_READ_ONLY[c] for c in reg.REQUEST_COMMANDS} == {
        "N_SOURCES",
        "SOURCE_DATA",
        "TRACKING",
        "SOURCESTATS",
        "RTCREPORT",
        "ACTIVITY",
        "SMOOTHING",
        "SERVER_STATS",
        "NTP_DATA",
        "NTP_SOURCE_NAME",
        "AUTH_DATA",
        "SELECT_DATA",
        "CLIENT_ACCESSES_BY_INDEX3",
    }
    assert not reg.REQUEST_COMMANDS & CANDM_CONTROL.keys()


def test_allowlist_covers_every_request_of_the_registry():
    for report in reg.ALL_REPORTS:
        assert report.record_request in reg.REQUEST_COMMANDS
        assert report.count_request is None or report.count_request in reg.REQUEST_COMMANDS
    assert {reg.COUNT_REQUEST, reg.SOURCE_NAME_REQUEST} <= reg.REQUEST_COMMANDS


def check_request(packet: bytes) -> int:
    """The command of a well-formed request (asserted), as chronyd would read it."""
    version, pkt_type, res1, res2, command, attempt, _seq, pad1, pad2 = REQUEST.unpack_from(packet)
    assert (version, pkt_type, res1, res2, pad1, pad2) == (reg.PROTOCOL_VERSION, 1, 0, 0, 0, 0)
    assert command in reg.REQUEST_COMMANDS, f"command {command} is not a monitoring command"
    assert command in CANDM_READ_ONLY
    assert attempt < 16
    assert len(packet) == expected_length(command, packet), (command, len(packet))
    if command == reg.CLIENTS.record_request:
        # first index, clients, minimum hits, reset: reading never clears the counters
        _first, wanted, min_hits, reset = struct.unpack_from(">IIII", packet, 20)
        assert (wanted, min_hits, reset) == (8, 0, 0), "a clients request must not reset"
    return command


def expected_length(command: int, packet: bytes) -> int:
    """Request length of ``command``: padded to its longest reply (candm.h, version 6)."""
    if command == reg.COUNT_REQUEST:
        return wire.COUNT_LAYOUT.length
    if command == reg.SOURCE_NAME_REQUEST:
        return wire.NAME_REQUEST_LENGTH
    if command == reg.CLIENTS.record_request:
        return _clients.REQUEST_LENGTH
    (report,) = {r for r in REPORTS if r.record_request == command}
    return wire.request_length(report)


class Recorder:
    """Fakes (Unix and UDP) that record every datagram, and what decoding them found."""

    def __init__(self, directory: Path) -> None:
        self.stack = contextlib.ExitStack()
        sources = Sources(count=3, refclocks=frozenset({2}))
        self.unix: FakeChronyd = self.stack.enter_context(fake_chronyd(directory, sources=sources))
        self.udp: FakeChronyd = self.stack.enter_context(
            fake_chronyd(directory, udp=True, sources=sources)
        )

    def datagrams(self) -> list[bytes]:
        return [*self.unix.datagrams, *self.udp.datagrams]

    def commands(self) -> set[int]:
        return {check_request(packet) for packet in self.datagrams()}


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    rec = Recorder(tmp_path)
    with rec.stack:
        yield rec


def test_every_public_api_sends_only_monitoring_requests(recorder):
    addresses = [recorder.unix.address, recorder.udp.address]
    for address in addresses:
        for report in REPORTS:
            getattr(pychrony, report.getter)(address, backend="python")
        with ChronyConnection(address, backend="python") as conn:
            for report in REPORTS:
                conn.report(report.name)
                getattr(conn, report.getter)()
        if address == recorder.unix.address:  # the clients report: Unix socket only
            assert len(pychrony.get_clients(address, backend="python")) == 3
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                assert cli.main(["-h", address, "--backend", "python", "-c", "clients"]) == 0
            assert len(out.getvalue().splitlines()) == 3
        else:
            sent = len(recorder.udp.datagrams)
            with pytest.raises(pychrony.ChronyPermissionError):
                pychrony.get_clients(address, backend="python")
            assert len(recorder.udp.datagrams) == sent  # refused before sending
        for args in (["-n", "all"], ["--json", "all"], ["-c", "-N", "sources", "-a"]):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                assert cli.main(["-h", address, "--backend", "python", *args]) == 0
            assert out.getvalue()
    assert recorder.datagrams()
    assert recorder.commands() == reg.REQUEST_COMMANDS  # each allowed command exercised


def test_dashboard_and_its_poller_send_only_monitoring_requests(recorder):
    starlette = pytest.importorskip("starlette.testclient")
    from pychrony.dashboard import create_app

    app = create_app(recorder.unix.address, backend="python", refresh=0.05)
    with starlette.TestClient(app) as client:  # the lifespan starts the poller thread
        for path in ["/", "/api", "/api/snapshot", "/metrics", "/healthz"]:
            assert client.get(path).status_code == 200
        for report in REPORTS:
            assert client.get(f"/api/{report.name}").status_code in (200, 404)
        polled = len(recorder.unix.datagrams)
        deadline = time.monotonic() + 5
        while len(recorder.unix.datagrams) == polled and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(recorder.unix.datagrams) > polled, "the poller thread read nothing"
    assert recorder.commands() <= reg.REQUEST_COMMANDS
    assert reg.COUNT_REQUEST in recorder.commands()


def test_testing_kit_sends_nothing(recorder):
    with patched_chrony_connection(SCENARIO_MULTI_SOURCE):
        for report in REPORTS:
            getattr(pychrony, report.getter)(recorder.unix.address)
        with ChronyConnection(recorder.unix.address, backend="python") as conn:
            conn.get_sources()
    assert recorder.datagrams() == []


def test_a_clients_reset_would_be_caught():
    reset = struct.pack(">IIII", 0, 8, 0, 1)
    packet = wire.encode_request(68, 1, 0, reset, _clients.REQUEST_LENGTH)
    with pytest.raises(AssertionError, match="must not reset"):
        check_request(packet)
    check_request(wire.encode_request(68, 1, 0, _clients.encode_page(0), 520))


def test_a_control_command_would_be_caught():
    # The check above is not vacuous: a request for a state-changing command fails it.
    for command in CANDM_CONTROL:
        packet = wire.encode_request(command, 1, 0, b"", 48)
        with pytest.raises(AssertionError, match="not a monitoring command"):
            check_request(packet)


# -- the same packets as chronyc -------------------------------------------------------


def _chronyc_version() -> tuple[int, ...]:
    out = subprocess.run(["chronyc", "--version"], capture_output=True, text=True, check=True)
    return _version(out.stdout.split("version", 1)[1].split()[0])


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("-")[0].split(".")[:2])


def _without_sequence(packet: bytes) -> bytes:
    return packet[:8] + bytes(4) + packet[12:]  # the sequence number is random


@pytest.mark.skipif(shutil.which("chronyc") is None, reason="chronyc is not installed")
@pytest.mark.parametrize("report", reg.ALL_REPORTS, ids=lambda r: r.name)
def test_requests_are_what_chronyc_sends(tmp_path, report):
    """For the same query, pychrony's request equals chronyc's, but for padding to
    reply layouts newer than chronyc (pychrony pads to its longest known reply)."""
    chronyc_version = _chronyc_version()
    with fake_chronyd(tmp_path, sources=Sources(count=2)) as fake:
        subprocess.run(
            ["chronyc", "-h", fake.path, "-N", "-c", report.name], capture_output=True, timeout=30
        )
        theirs = {_without_sequence(p) for p in fake.datagrams}
        fake.datagrams.clear()
        getattr(pychrony, report.getter)(fake.path, backend="python")
        ours = {_without_sequence(p) for p in fake.datagrams}
    compared = 0
    matched: set[int] = set()
    for packet in ours:
        command = check_request(packet)
        if not any(p[4:6] == packet[4:6] for p in theirs):
            # chronyc finds addresses with SOURCE_DATA, pychrony with SOURCESTATS:
            # that request is compared in the sourcestats case.
            assert (report.record_arg, command) == (reg.RecordArg.ADDRESS, 34)
            continue
        same = [p for p in theirs if p[4:6] == packet[4:6] and p[20:40] == packet[20:40]]
        if not same:  # a record chronyc did not ask for (it stops at a reply it can't read)
            assert any(p[:20] == packet[:20] for p in theirs), command
            continue
        (chronyc_packet,) = same
        n = len(chronyc_packet)
        assert packet[:n] == chronyc_packet
        assert packet[n:] == bytes(len(packet) - n)  # only more zero padding
        matched.add(command)
        newest = max(_version(r.since) for r in report.responses)
        if command == report.record_request and newest > chronyc_version:
            assert len(packet) >= n
        else:
            assert len(packet) == n, f"command {command}: {len(packet)} bytes, chronyc {n}"
        compared += 1
    assert compared > 0
    assert report.record_request in matched


# -- files: the reply socket's directory, symlinks, nothing written elsewhere ------------


def _session(fake: FakeChronyd) -> None:
    with ChronyConnection(fake.path, backend="python", timeout=1, attempts=1) as conn:
        conn.get_tracking()
        conn.get_sources()


def _tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` (not following links) with its kind and link target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            mode = path.lstat().st_mode
            out[str(path.relative_to(root))] = (
                f"-> {os.readlink(path)}" if stat.S_ISLNK(mode) else stat.filemode(mode)
            )
    return out


def test_planted_symlinks_in_the_socket_directory_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    with fake_chronyd(tmp_path) as fake:
        run = Path(fake.path).parent
        for i in range(64):  # names like ours, pointing out of the directory
            (run / f"pychrony.{i:08x}").symlink_to(outside)
        (run / "pychrony.").symlink_to(outside)
        before = _tree(tmp_path)
        for _ in range(20):
            _session(fake)
        assert _tree(tmp_path) == before
    assert list(outside.iterdir()) == []


def _guessing_names(planted: str) -> Callable[[], Iterator[str]]:
    """tempfile's name sequence, but an attacker who guessed it planted the first name."""
    real = tempfile._get_candidate_names  # type: ignore[attr-defined]

    def names() -> Iterator[str]:
        yield planted
        yield from real()

    return names


def test_a_guessed_name_planted_as_a_symlink_is_skipped(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    with fake_chronyd(tmp_path) as fake:
        run = Path(fake.path).parent
        (run / "pychrony.guessed").symlink_to(outside)
        monkeypatch.setattr(tempfile, "_get_candidate_names", _guessing_names("guessed"))
        session = client.open_session(fake.path, timeout=1, attempts=1)
        try:
            (ours,) = {p.name for p in run.iterdir()} - {"chronyd.sock", "pychrony.guessed"}
            assert not (run / ours).is_symlink()
            assert REPORTS_BY_NAME["tracking"].model is type(
                pychrony._reader_py.read_report(session, REPORTS_BY_NAME["tracking"])
            )
        finally:
            session.close()
        assert sorted(p.name for p in run.iterdir()) == ["chronyd.sock", "pychrony.guessed"]
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("swap", ["symlink", "open directory"])
def test_directory_swapped_after_creation_is_refused(tmp_path, monkeypatch, swap):
    """An attacker who can write to the socket's directory replaces ours between
    mkdtemp() and open(): by a symlink to a directory of theirs, or by a directory
    others may enter. The session refuses to go on and writes nothing there."""
    outside = tmp_path / "outside"
    outside.mkdir()
    real_mkdtemp = tempfile.mkdtemp

    def racing_mkdtemp(*args: object, **kwargs: object) -> str:
        path = real_mkdtemp(*args, **kwargs)  # type: ignore[call-overload]
        os.rmdir(path)
        if swap == "symlink":
            os.symlink(outside, path)
        else:
            os.mkdir(path, 0o777)
            os.chmod(path, 0o777)
        return str(path)

    with fake_chronyd(tmp_path) as fake:
        monkeypatch.setattr(tempfile, "mkdtemp", racing_mkdtemp)
        with pytest.raises(ChronyConnectionError, match="Not a directory|not the directory just"):
            client.open_session(fake.path, timeout=1, attempts=1)
        run = Path(fake.path).parent
        planted = [p for p in run.iterdir() if p.name != "chronyd.sock"]
        if swap == "symlink":
            assert [p.is_symlink() for p in planted] == [True]  # left alone, not followed
        else:  # nothing was put in it (being empty, it was removed as ours)
            assert all(list(p.iterdir()) == [] for p in planted)
    assert list(outside.iterdir()) == []


def test_nothing_written_outside_the_socket_directory(tmp_path, monkeypatch):
    home, cwd, tmp = tmp_path / "home", tmp_path / "cwd", tmp_path / "tmp"
    for d in (home, cwd, tmp):
        d.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    monkeypatch.chdir(cwd)
    with fake_chronyd(tmp_path) as fake, fake_chronyd(tmp_path, udp=True) as udp:
        run = Path(fake.path).parent
        before = _tree(tmp_path)
        for address in (fake.address, udp.address):
            for report in REPORTS:
                getattr(pychrony, report.getter)(address, backend="python")
            with contextlib.redirect_stdout(io.StringIO()):
                assert cli.main(["-h", address, "--backend", "python", "--json", "all"]) == 0
        session = client.open_session(fake.path, timeout=1, attempts=1)
        try:
            # While open: one private directory beside the socket, nothing elsewhere.
            during = _tree(tmp_path)
            new = sorted(set(during) - set(before))
            assert all(p.startswith(f"{run.relative_to(tmp_path)}/pychrony.") for p in new), new
            assert len(new) == 3  # the directory, its secret inner one, the socket
        finally:
            session.close()
        assert _tree(tmp_path) == before
    for d in (home, cwd, tmp):
        assert list(d.iterdir()) == [], d


def test_exporter_sends_only_monitoring_requests(recorder):
    """The exporter's app, every collector on, over the recorded fake chronyd."""
    from prometheus_client.registry import CollectorRegistry
    from starlette.testclient import TestClient

    from pychrony.exporter import ALL_COLLECTORS, ChronyCollector, ScrapeReader
    from pychrony.exporter.web import create_app

    for address in (recorder.unix.address, recorder.udp.address):
        reader = ScrapeReader(address, deadline=2.0, backend="python")
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ChronyCollector(reader, (*ALL_COLLECTORS, "ntpdata")))
        with TestClient(create_app(registry, on_shutdown=reader.close)) as client:
            for path in ("/", "/metrics"):
                assert client.get(path).status_code == 200
            assert "chrony_up 1.0" in client.get("/metrics").text
    assert recorder.commands() <= reg.REQUEST_COMMANDS
    assert reg.COUNT_REQUEST in recorder.commands()
