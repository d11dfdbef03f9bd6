"""Values chronyd copies from a peer's packets, however odd: a small NTP server of our
own (UDP, loopback) answers a lab chronyd with stratum 200, extreme poll and
precision, the largest root delay and dispersion; both backends report what
chronyc reports. README, "What pychrony survives", sums them up.
"""

from __future__ import annotations

import csv
import io
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from labs import start_lab

from pychrony import ChronyConnection
from pychrony.lab import Lab

pytestmark = pytest.mark.integration

NTP_EPOCH = 2208988800  # 1900 to 1970
#: The odd fields the server sends: (leap, version, stratum, poll, precision,
#: root delay and dispersion as NTP short formats, reference ID).
ODD = {"leap": 3, "version": 4, "stratum": 200, "poll": 17, "precision": -128}
ROOT = 0xFFFFFFFF  # 65535.99998 s
REFID = 0xC0000201  # 192.0.2.1
ADDRESS = "127.0.0.2"  # not the lab server's: chronyd takes one source per address


class OddServer(threading.Thread):
    """Answers every NTP client request (mode 3) with a server reply (mode 4)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ADDRESS, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.answered = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                request, peer = self.sock.recvfrom(1024)
            except TimeoutError:
                continue
            if len(request) < 48 or request[0] & 7 != 3:
                continue
            now = time.time() + NTP_EPOCH
            stamp = struct.pack(">II", int(now), int((now % 1) * 2**32))
            first = ODD["leap"] << 6 | ODD["version"] << 3 | 4
            head = struct.pack(
                ">BBbbIII", first, ODD["stratum"], ODD["poll"], ODD["precision"], ROOT, ROOT, REFID
            )
            reply = head + stamp + request[40:48] + stamp + stamp  # ref, origin, rx, tx
            self.sock.sendto(reply, peer)
            self.answered += 1


@pytest.fixture(scope="module")
def odd_lab() -> Iterator[tuple[Lab, OddServer]]:
    server = OddServer()
    server.start()
    lab = start_lab(sources=1, refclock=False)
    try:
        lab.chronyc(
            "add", "server", ADDRESS, "port", str(server.port), "minpoll", "-4",
            "maxpoll", "-4", "iburst", csv=False,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while server.answered < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.answered >= 3, "chronyd never asked our server"
        time.sleep(0.5)
        yield lab, server
    finally:
        lab.stop()
        server.stop.set()
        server.join(5)
        server.sock.close()


def test_ntpdata_reports_a_peers_odd_fields_like_chronyc(odd_lab, backend):
    lab, _ = odd_lab
    with ChronyConnection(lab.socket_path, timeout=1.0, backend=backend) as conn:
        ntp = {n.remote_address: n for n in conn.get_ntp_data()}[ADDRESS]
        sources = {s.address: s for s in conn.get_sources()}
    assert ntp.stratum == ODD["stratum"]
    assert ntp.poll == ODD["poll"]
    assert ntp.precision == ODD["precision"]
    assert ntp.version == ODD["version"]
    assert ntp.leap_status.value == ODD["leap"]
    assert ntp.root_delay == pytest.approx(ROOT / 65536, rel=1e-6)
    assert ntp.root_dispersion == pytest.approx(ROOT / 65536, rel=1e-6)
    assert ntp.reference_id == REFID
    # chronyc -c ntpdata: remote address and its hex, port, local address and its hex,
    # leap, version, mode, stratum, poll, poll interval, precision (log2, seconds),
    # root delay, root dispersion, reference ID (hex), ...
    row = next(csv.reader(io.StringIO(lab.chronyc("ntpdata", ADDRESS))))
    assert row[5] == "Not synchronised"
    assert int(row[6]) == ntp.version
    assert int(row[8]) == ntp.stratum
    assert int(row[9]) == ntp.poll
    assert int(row[11]) == ntp.precision
    assert float(row[13]) == pytest.approx(ntp.root_delay, rel=1e-5)
    assert float(row[14]) == pytest.approx(ntp.root_dispersion, rel=1e-5)
    assert int(row[15], 16) == ntp.reference_id
    # sources: chronyd caps a peer's stratum at 16 for selection (ntp_core.c)
    assert sources[ADDRESS].stratum <= 16
