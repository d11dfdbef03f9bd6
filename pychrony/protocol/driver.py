"""The socket driver of the fake chronyd: a :class:`ServerCore` on real sockets.

One thread waits on every socket at once (``selectors``): a Unix datagram socket
(trusted, as chronyd's) and any number of UDP ports (open commands only). It
hands each datagram to the core with the time it came, sends the answer at the
time the core says, and acts out socket faults (restart, permission change).
"""

from __future__ import annotations

import contextlib
import heapq
import os
import selectors
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ..testing.config import ChronyStateConfig
from ..testing.faults import FaultKind
from ..testing.timeline import Timeline
from .server import ServerCore

__all__ = ["FakeChronyd"]

_SOCKET_MODE = 0o666  # chronyd's socket: anyone may write; its directory guards it
_MAX_DATAGRAM = 1024


def _parse_udp(spec: str | tuple[str, int]) -> tuple[str, int]:
    if isinstance(spec, tuple):
        return spec
    host, _, port = spec.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class FakeChronyd:
    """A chrony command-protocol server serving a scenario or timeline.

    ``socket_path``: a Unix datagram socket (default: one in a new private
    directory; ``unix=False``: none); ``udp``: ``"HOST:PORT"``
    (port 0 picks one); ``udp_targets``: that many UDP sockets more, on
    ephemeral ports of ``udp``'s host (a fleet from one process). A context
    manager, sync or async; the server runs in a daemon thread.
    """

    def __init__(
        self,
        scenario: ChronyStateConfig | Timeline | None = None,
        *,
        socket_path: str | os.PathLike[str] | None = None,
        udp: str | tuple[str, int] | None = None,
        udp_targets: int = 0,
        chrony_version: str = "4.3",
        unix: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if scenario is None:
            from ..testing.scenarios import SCENARIO_NTP_SYNCED

            scenario = SCENARIO_NTP_SYNCED
        self._clock = clock
        self.core = ServerCore(scenario, version=chrony_version, start=clock())
        self.chrony_version = chrony_version
        self._own_dir: str | None = None
        if unix and socket_path is None:
            self._own_dir = tempfile.mkdtemp(prefix="fake-chronyd-")
            socket_path = os.path.join(self._own_dir, "chronyd.sock")
        self.socket_path: str | None = os.fspath(socket_path) if socket_path else None
        self._udp_spec = _parse_udp(udp) if udp is not None else None
        self._udp_targets = udp_targets
        self.udp_addresses: list[tuple[str, int]] = []
        self._selector = selectors.DefaultSelector()
        self._unix_sock: socket.socket | None = None
        self._udp_socks: list[socket.socket] = []
        self._pending: list[tuple[float, int, socket.socket, Any, bytes]] = []
        self._serial = 0
        self._waker_r, self._waker_w = socket.socketpair()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.restarts = 0

    # -- addresses --------------------------------------------------------------

    @property
    def udp_address(self) -> str:
        """``HOST:PORT`` of the first UDP socket (for ChronyConnection)."""
        if not self.udp_addresses:
            raise RuntimeError("this fake chronyd has no UDP socket")
        host, port = self.udp_addresses[0]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def requests(self) -> int:
        """Datagrams received so far (the timeline's request count)."""
        return self.core.requests

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> FakeChronyd:
        """Bind the sockets and start serving (returns at once)."""
        if self._thread is not None:
            return self
        if self.socket_path:
            self._bind_unix()
        if self._udp_spec is not None or self._udp_targets:
            host, port = self._udp_spec or ("127.0.0.1", 0)
            if self._udp_spec is not None:
                self._bind_udp(host, port)
            for _ in range(self._udp_targets):
                self._bind_udp(host, 0)
        self._selector.register(self._waker_r, selectors.EVENT_READ, None)
        self._act(self._clock())
        self._thread = threading.Thread(target=self._run, name="fake-chronyd", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the sockets, remove the socket (and its own directory)."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self._waker_w.send(b"x")
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        for sock in [*self._udp_socks, *filter(None, [self._unix_sock])]:
            sock.close()
        self._udp_socks.clear()
        self._unix_sock = None
        self._selector.close()
        self._waker_r.close()
        self._waker_w.close()
        if self.socket_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)
        if self._own_dir:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    def __enter__(self) -> FakeChronyd:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FakeChronyd:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = [
            p for p in [self.socket_path, *(f"{h}:{p}" for h, p in self.udp_addresses[:1])] if p
        ]
        return f"<FakeChronyd chronyd {self.chrony_version} at {', '.join(where) or 'nowhere'}>"

    # -- sockets --------------------------------------------------------------------

    def _bind_unix(self) -> None:
        assert self.socket_path is not None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(self.socket_path)
        os.chmod(self.socket_path, _SOCKET_MODE)
        sock.setblocking(False)
        self._unix_sock = sock
        self._selector.register(sock, selectors.EVENT_READ, True)

    def _bind_udp(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((host, port))
        sock.setblocking(False)
        self._udp_socks.append(sock)
        self.udp_addresses.append(sock.getsockname()[:2])
        self._selector.register(sock, selectors.EVENT_READ, False)

    def _restart(self) -> None:
        """chronyd restarting: the socket goes away and a new one is bound."""
        self.restarts += 1
        self._pending.clear()  # replies of the old process are never sent
        if self._unix_sock is not None:
            self._selector.unregister(self._unix_sock)
            self._unix_sock.close()
            self._bind_unix()
        for sock in list(self._udp_socks):
            self._selector.unregister(sock)
            sock.close()
        self._udp_socks.clear()
        addresses, self.udp_addresses = self.udp_addresses, []
        for host, port in addresses:
            self._bind_udp(host, port)

    def _act(self, now: float) -> None:
        for fault in self.core.socket_faults(now):
            if fault.kind is FaultKind.RESTART:
                self._restart()
            elif fault.kind is FaultKind.PERMISSION and self.socket_path:
                os.chmod(self.socket_path, int(fault.value))

    # -- the loop -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping:
            now = self._clock()
            deadlines = [t for t in (self.core.next_change(now),) if t is not None]
            if self._pending:
                deadlines.append(self._pending[0][0])
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            try:
                events = self._selector.select(min(timeout, 0.5) if timeout is not None else 0.5)
            except (OSError, ValueError):
                return
            for key, _ in events:
                if key.data is None:
                    return
                self._drain(key.fileobj, trusted=key.data)  # type: ignore[arg-type]
            now = self._clock()
            self._act(now)
            while self._pending and self._pending[0][0] <= now:
                _, _, sock, peer, datagram = heapq.heappop(self._pending)
                self._send(sock, peer, datagram)

    def _drain(self, sock: socket.socket, *, trusted: bool) -> None:
        for _ in range(64):  # a burst of requests, then let the other sockets in
            try:
                datagram, peer = sock.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            now = self._clock()
            answer = self.core.receive(datagram, now, trusted=trusted)
            self._act(now)
            if answer is None or not peer:
                continue
            if sock not in (self._unix_sock, *self._udp_socks):
                continue  # the socket was replaced by a restart meanwhile
            if answer.delay > 0:
                self._serial += 1
                heapq.heappush(
                    self._pending, (now + answer.delay, self._serial, sock, peer, answer.datagram)
                )
            else:
                self._send(sock, peer, answer.datagram)

    @staticmethod
    def _send(sock: socket.socket, peer: Any, datagram: bytes) -> None:
        with contextlib.suppress(OSError):  # the client went away: as chronyd, carry on
            sock.sendto(datagram, peer)
