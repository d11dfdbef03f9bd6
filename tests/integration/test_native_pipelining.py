"""Native pipelined reads (records over several libchrony sessions) on a real chronyd.

Needs the extension linked to a real libchrony (marker ``real_libchrony``; ci/test.sh
runs these from ci/build_native_real.sh's build): libchrony's own client sockets,
one per session, each in a directory of its own next to chronyd's socket.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from labs import start_lab
from test_native_vs_python import _check

from pychrony import _backend
from pychrony.exceptions import ChronyError
from pychrony.lab import Lab
from pychrony.registry import REPORTS_BY_NAME

pytestmark = [pytest.mark.integration, pytest.mark.c_extension, pytest.mark.real_libchrony]

#: Tries before a moving chronyd (a new sample in between) is given up on.
TRIES = 20
SOURCES = 64


@pytest.fixture(scope="module")
def many_lab() -> Iterator[Lab]:
    started = start_lab(sources=SOURCES, refclock=False)
    try:
        yield started
    finally:
        started.stop()


def _session(address: str, window: int) -> Any:
    assert _backend.native is not None
    return _backend.native.open_session(address, 2.0, 3, window)


def _read(session: Any, report: str) -> Any:
    assert _backend.native is not None
    return _backend.native.read_report(session, REPORTS_BY_NAME[report])


def _outcome(session: Any, report: str) -> tuple[str, Any]:
    try:
        return "ok", _read(session, report)
    except ChronyError as exc:  # over UDP chronyd 4.3 refuses all but the open commands
        return "error", type(exc)


def _client_dirs(lab: Lab) -> list[str]:
    directory = os.path.dirname(lab.socket_path)
    return sorted(name for name in os.listdir(directory) if name.startswith("libchrony."))


@pytest.mark.parametrize("transport", ["unix", "udp"])
@pytest.mark.parametrize("report", ["sources", "sourcestats", "selectdata", "ntpdata", "authdata"])
def test_window_8_reads_what_window_1_reads(many_lab, transport, report):
    address = many_lab.socket_path if transport == "unix" else many_lab.udp_address
    one, eight = _session(address, 1), _session(address, 8)
    try:
        for _ in range(TRIES):
            before, piped, after = (_outcome(s, report) for s in (one, eight, one))
            if before[0] == "error" or piped[0] == "error":
                assert before == piped == after
                assert transport == "udp"
                return
            assert len(piped[1]) == SOURCES
            # Equal where both window-1 reads are; numbers computed at reply time
            # (offsets, errors, ages) in between them.
            if _check(before[1], piped[1], after[1], report):
                return
        pytest.fail(f"chronyd's {report} kept changing over {TRIES} tries")
    finally:
        one.close()
        eight.close()


def test_every_lane_removes_its_client_socket(many_lab):
    before = sorted(os.listdir(os.path.dirname(many_lab.socket_path)))
    session = _session(many_lab.socket_path, 8)
    assert len(_read(session, "sources")) == SOURCES
    assert len(_client_dirs(many_lab)) == 8  # the main session and 7 lanes
    session.close()
    assert sorted(os.listdir(os.path.dirname(many_lab.socket_path))) == before
    session = _session(many_lab.socket_path, 8)
    assert len(_read(session, "sourcestats")) == SOURCES
    del session  # dropped without close()
    assert sorted(os.listdir(os.path.dirname(many_lab.socket_path))) == before


@pytest.mark.parametrize("transport", ["unix", "udp"])
def test_chronyd_restarted_under_open_lanes(transport):
    lab = start_lab(sources=8, refclock=False)
    try:
        address = lab.socket_path if transport == "unix" else lab.udp_address
        session = _session(address, 8)
        assert len(_read(session, "sources")) == 8  # every lane open
        lab.kill_client(signal.SIGKILL)
        lab.restart_client()
        # Broken lanes are dropped and their records fetched over the others; the
        # main session reconnects; the next read opens the lanes again.
        assert len(_read(session, "sources")) == 8
        assert len(_read(session, "sourcestats")) == 8
        if transport == "unix":  # over UDP chronyd 4.3 refuses ntpdata
            assert len(_read(session, "ntpdata")) == 8  # sourcestats, then ntpdata per lane
        if transport == "unix":
            assert len(_client_dirs(lab)) == 8
        session.close()
        assert sorted(os.listdir(os.path.dirname(lab.socket_path))) == ["chronyd.sock"]
    finally:
        lab.stop()
