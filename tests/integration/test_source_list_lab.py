"""chronyd's source list changing under a read, against real chronyds, both backends:
``chronyc delete``/``add`` in a loop, and chronyd restarted with another config.

Every list read must be one chronyd really had (never a mix of two, never a
source missing that was not being removed), or a ChronyDataError saying the
list changed. README, "What pychrony survives", sums them up.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from labs import start_lab

from pychrony import ChronyConnection, ChronyConnectionError, ChronyDataError
from pychrony.lab import Lab

pytestmark = pytest.mark.integration

SOURCES = 64
#: Reads of each report under churn, and restarts under reads.
TRIALS = 30
#: The list-reading reports and the attribute naming each record's source.
REPORTS = {
    "get_sources": "address",
    "get_source_stats": "address",
    "get_select_data": "address",
    "get_ntp_data": "remote_address",
    "get_auth_data": "address",
}


@pytest.fixture(scope="module")
def big_lab() -> Iterator[Lab]:
    started = start_lab(sources=SOURCES, refclock=False)
    try:
        yield started
    finally:
        started.stop()


def server_lines(lab: Lab) -> list[str]:
    conf = Path(lab.base_dir) / "client.conf"
    return [line for line in conf.read_text().splitlines() if line.startswith("server ")]


def addresses(records: list[object], attr: str) -> list[str]:
    return [getattr(r, attr) for r in records]


class Churn(threading.Thread):
    """``chronyc delete`` then ``add`` of one source after another (each deleted one
    comes back at the end of chronyd's list, so the next one is always early in it,
    where a removal shifts the most records). ``touched``: the sources it took out,
    in order, each appended before its removal."""

    def __init__(self, lab: Lab, lines: list[str]) -> None:
        super().__init__(daemon=True)
        self.lab = lab
        self.lines = lines
        self.stop = threading.Event()
        self.touched: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                for line in self.lines:
                    if self.stop.is_set():
                        break
                    address = line.split()[1]
                    self.touched.append(address)
                    self.lab.chronyc("delete", address, csv=False)
                    self.lab.chronyc("add", *line.split(), csv=False)
        except BaseException as exc:
            self.error = exc


@pytest.mark.parametrize("getter", list(REPORTS))
def test_chronyc_delete_and_add_in_a_loop_never_give_a_mixed_list(big_lab, backend, getter):
    lines = server_lines(big_lab)
    everyone = {line.split()[1] for line in lines}
    conn = ChronyConnection(big_lab.socket_path, timeout=2.0, backend=backend)
    attr = REPORTS[getter]
    churn = Churn(big_lab, lines[1:])  # the reachable server stays
    churn.start()
    short = reads = 0
    deadline = time.monotonic() + 120
    try:
        while (short < TRIALS or len(churn.touched) < TRIALS) and time.monotonic() < deadline:
            start = len(churn.touched)
            try:
                got = addresses(getattr(conn, getter)(), attr)
            except ChronyDataError as exc:
                if "source list changed while it was read" not in str(exc):
                    raise
                continue
            # Out during the read: the source out when it began, and every one since.
            moving = set(churn.touched[max(start - 1, 0) :])
            reads += 1
            assert len(set(got)) == len(got), f"a source listed twice: {got}"
            assert set(got) <= everyone
            missing = everyone - set(got)
            assert missing <= moving, f"{getter} lost {missing - moving}, which never went away"
            short += bool(missing)
    finally:
        churn.stop.set()
        churn.join(30)
        conn.close()
    assert churn.error is None, churn.error
    assert short >= TRIALS  # reads did meet the list while a source was out
    assert len(churn.touched) >= TRIALS


def restart_with(lab: Lab, lines: list[str]) -> None:
    """Kill chronyd and start it again with ``lines`` as its server lines."""
    conf = Path(lab.base_dir) / "client.conf"
    text = conf.read_text()
    kept = [line for line in text.splitlines() if not line.startswith("server ")]
    conf.write_text("\n".join(lines + kept) + "\n")
    lab.kill_client(signal.SIGKILL)
    lab.restart_client(wait=False)


@pytest.mark.parametrize("transport", ["unix", "udp"])
def test_chronyd_restarted_with_another_config_under_reads(backend, transport):
    lab = start_lab(sources=SOURCES, refclock=False)
    try:
        lines = server_lines(lab)
        # Another config: the reachable server and the last 40 others, so the
        # indexes of those shift by 23 (and the count differs).
        configs = [lines, lines[:1] + lines[-40:]]
        lists = [{line.split()[1] for line in c} for c in configs]
        address = lab.socket_path if transport == "unix" else lab.udp_address
        conn = ChronyConnection(address, timeout=0.3, attempts=3, backend=backend)
        stop = threading.Event()
        seen: list[set[str]] = []
        bad: list[object] = []

        def read() -> None:
            while not stop.is_set():
                try:
                    got = [s.address for s in conn.get_sources()]
                except ChronyDataError as exc:
                    if "source list changed" not in str(exc):
                        bad.append(exc)
                    continue
                except ChronyConnectionError:  # chronyd down (refused, timed out)
                    time.sleep(0.005)
                    continue
                except BaseException as exc:
                    bad.append(exc)
                    return
                if len(set(got)) != len(got) or set(got) not in lists:
                    bad.append(sorted(got))
                seen.append(set(got))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            for trial in range(TRIALS):
                restart_with(lab, configs[(trial + 1) % 2])
                time.sleep(0.15)
                # A loaded machine may restart chronyd again before any read of this
                # config completed: give the reader up to 3 s for one, so both are read.
                before, waited = len(seen), time.monotonic() + 3
                while len(seen) == before and time.monotonic() < waited:
                    time.sleep(0.01)
        finally:
            stop.set()
            reader.join(30)
            conn.close()
        assert not bad, f"{len(bad)} wrong outcomes, e.g. {bad[:2]}"
        assert all(lists_ in seen for lists_ in lists)  # both configs were read
    finally:
        lab.stop()


def test_config_lines_are_what_the_churn_expects(big_lab):
    lines = server_lines(big_lab)
    assert len(lines) == SOURCES
    assert all(re.match(r"server \S+ port \d+", line) for line in lines)
