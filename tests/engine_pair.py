"""The client engine and the fake chronyd's core, linked in memory with a fake clock.

h11's ``ConnectionPair`` for datagrams with timers: :class:`Pair` plays the
network and the socket driver between a :class:`~pychrony.protocol.engine.Requests`
and a :class:`~pychrony.protocol.server.ServerCore`. Time moves only when
nothing can happen before the next event (a reply due, the engine's timer),
so a run of several timeouts takes no real time, and every datagram the client
sent is kept with its fake send time. Faults beyond the scenario's: replies
lost on the way (``lose``), stray datagrams before each reply (``strays``), and
a server queue that refuses datagrams until a time (``full_until``).
"""

from __future__ import annotations

import heapq
import itertools
import math
import socket
from collections.abc import Callable, Generator
from random import getrandbits
from typing import Any

from pychrony._address import Endpoint
from pychrony.protocol import codec
from pychrony.protocol.codec import Request
from pychrony.protocol.engine import Policy, Random, Requests
from pychrony.protocol.server import ServerCore
from pychrony.protocol.session import CmdmonSession
from pychrony.testing import ChronyStateConfig, FakeClock, Timeline

START = 1000.0


class Pair:
    """One client and one fake chronyd in memory (see the module)."""

    def __init__(
        self,
        scenario: ChronyStateConfig | Timeline,
        *,
        timeout: float = 1.0,
        attempts: int = 3,
        window: int = 8,
        random: Random = getrandbits,
        version: str = "4.3",
    ) -> None:
        self.clock = FakeClock(START)
        self.server = ServerCore(scenario, version=version, start=START)
        self.policy = Policy(
            timeout, attempts, window, address="/in-memory/chronyd.sock", random=random
        )
        self.sent: list[tuple[float, Request]] = []  # every request, when it left
        self.lose: Callable[[Request], bool] = lambda request: False
        self.strays: Callable[[bytes], list[bytes]] = lambda reply: []
        self.full_until = -math.inf
        self.peak = 0  # most requests in flight at once
        self._flight: list[tuple[float, int, bytes]] = []  # (arrival, order, datagram)
        self._order = itertools.count()

    @property
    def now(self) -> float:
        """Fake seconds since the pair began."""
        return self.clock.now - START

    def run(self, engine: Requests) -> Any:
        """Run ``engine`` to its end in fake time; its reply (an exchange's)."""
        if engine.drain:  # as the drivers: what already came is dropped
            self._flight = [f for f in self._flight if f[0] > self.clock.now]
            heapq.heapify(self._flight)
        while not engine.done:
            now = self.clock.now
            outbox = engine.datagrams_to_send(now)
            if now >= self.full_until:
                while outbox:
                    self._to_server(outbox.popleft()[1], now)
            self.peak = max(self.peak, len(engine.waiting))
            timer = engine.get_timer()
            if self._flight and self._flight[0][0] < timer:
                arrival, _, datagram = heapq.heappop(self._flight)
                self.clock.now = max(now, arrival)
                engine.receive_datagram(datagram, self.clock.now)
            elif outbox and now < self.full_until < timer:
                self.clock.now = self.full_until  # the queue drains before the timer
            else:
                self.clock.now = max(now, timer)
                engine.handle_timer(self.clock.now)
        return engine.reply

    def drive(self, steps: Generator[Requests, Any, Any]) -> Any:
        """Run a plan (:mod:`pychrony.protocol.planning`) to its end, in memory."""
        try:
            engine = next(steps)
            while True:
                engine = steps.send(self.run(engine))
        except StopIteration as done:
            return done.value

    def session(self) -> CmdmonSession:
        """A session whose plans this pair runs (its socket is never used)."""
        sock, _peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        _peer.close()
        session = CmdmonSession(sock, Endpoint(path="/in-memory"), 1.0, 1)
        session.policy = self.policy
        return session

    def _to_server(self, packet: bytes, now: float) -> None:
        request = codec.decode_request(packet)
        assert request is not None
        self.sent.append((now - START, request))
        answer = self.server.receive(packet, now, trusted=True)
        if answer is None or self.lose(request):
            return
        for stray in self.strays(answer.datagram):
            heapq.heappush(self._flight, (now, next(self._order), stray))
        heapq.heappush(self._flight, (now + answer.delay, next(self._order), answer.datagram))
