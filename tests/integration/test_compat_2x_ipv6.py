"""Auto-detection's last candidate, ``[::1]:323``, against a real chronyd.

The lab's chronyd is IPv4-only (``-4``), so a relay on ``[::1]:323`` passes its
command port on: with no standard socket and nothing on ``127.0.0.1:323``,
``ChronyConnection()`` must end on ``[::1]:323`` (pychrony 2.x settled on
127.0.0.1 whether chronyd listened there or not). Needs root (port 323) and those
endpoints free; both backends (native: marker real_libchrony).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
from collections.abc import Iterator

import pytest
from labs import STANDARD_PORT, STANDARD_SOCKET

from pychrony import ChronyConnection, Transport
from pychrony.lab import Lab

pytestmark = pytest.mark.integration


class _Relay:
    """Datagrams from ``[::1]:323`` to ``upstream`` and the replies back, one upstream
    socket per client socket (the native backend reads over several)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.front = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.front.bind(("::1", STANDARD_PORT))
        self.backs: dict[object, socket.socket] = {}  # client address -> upstream socket
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            peers = {back: peer for peer, back in self.backs.items()}
            ready, _, _ = select.select([self.front, self._stop_r, *peers], [], [])
            if self._stop_r in ready:
                return
            with contextlib.suppress(OSError):
                if self.front in ready:
                    data, peer = self.front.recvfrom(4096)
                    back = self.backs.get(peer)
                    if back is None:
                        back = self.backs[peer] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        back.connect(self.upstream)
                    back.send(data)
                for back in (s for s in ready if s in peers):
                    self.front.sendto(back.recv(4096), peers[back])

    def close(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(5)
        for fd in (self._stop_r, self._stop_w):
            os.close(fd)
        self.front.close()
        for back in self.backs.values():
            back.close()


def _require_free_standard_endpoints() -> None:
    if os.geteuid() != 0:
        message = "binding port 323 needs root (ci/test.sh runs as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if os.path.lexists(STANDARD_SOCKET):
        pytest.fail(f"{STANDARD_SOCKET} exists: another chronyd uses the standard socket")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", STANDARD_PORT))
        except OSError as exc:
            pytest.fail(f"127.0.0.1:{STANDARD_PORT} is taken ({exc}): this test needs it free")


@pytest.fixture
def relay(lab: Lab) -> Iterator[_Relay]:
    _require_free_standard_endpoints()
    try:
        relay = _Relay((lab.udp_host, lab.cmd_port))
    except OSError as exc:
        pytest.fail(f"cannot bind [::1]:{STANDARD_PORT}: {exc}")
    try:
        yield relay
    finally:
        relay.close()


def test_auto_detect_ends_on_ipv6_loopback(relay, backend):
    with ChronyConnection(timeout=0.3, attempts=2, backend=backend) as conn:
        assert conn.transport is Transport.COMMAND_PORT
        assert conn.address == "[::1]:323"
        assert conn.get_tracking().stratum == 9
        assert conn.get_sources()
    assert (conn.address, conn.transport) == (None, None)
