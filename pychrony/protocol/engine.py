"""The client engine: chrony requests in flight, as a state machine without I/O.

:class:`Requests` is what a driver runs, the way aioquic's ``QuicConnection`` is:
time and datagrams go in, datagrams and a deadline come out, and nothing here
opens a socket, waits or reads a clock::

    outbox = engine.datagrams_to_send(now)   # (job, packet) pairs, oldest first
    ...                                      # the driver sends from the left and pops
    ...                                      # each packet that left; a full queue
    ...                                      # keeps the rest for when it drains
    engine.get_timer()                       # the earliest expiry of a request
    engine.receive_datagram(datagram, now)   # a datagram that came
    engine.handle_timer(now)                 # the timer passed: resend or give up
    engine.done, engine.reply                # finished; the reply of an exchange

Policy (chronyc's, and libchrony's twin in ``_reader_c.pyx``):

* one exchange is a run of one job: its request is sent with a new random
  sequence number at each attempt, ``timeout`` seconds apart, at most
  ``attempts`` times; a reply matches by sequence *and* command, and a late reply
  to an earlier attempt still counts, so one exchange is bounded by
  ``timeout * attempts``;
* a pipelined run keeps up to ``window`` jobs in flight (below the socket's
  queue limit: chronyd drops what it cannot queue). The handler may add jobs
  (a record's address, a source's name). Jobs sent together expire together and
  every resend goes to the end, so the first job in flight always expires first
  and each request keeps the exchange's bound;
* a request that never left (a full queue) counts as lost when it expires: it
  is replaced by the next attempt, not sent late.

Drivers: :mod:`.sync` (poll) and :mod:`.aio` (an asyncio loop); tests link an
engine to the fake chronyd's :class:`~pychrony.protocol.server.ServerCore` in
memory with a fake clock (``tests/test_engine.py``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from random import getrandbits
from typing import Final, TypeAlias

from .. import registry as reg
from .._errors import timeout_error
from .wire import PKT_TYPE_REPLY, REPLY_KEY, REQUEST_START, ReplyKey

__all__ = ["READS_PER_WAKE", "RECV_SIZE", "WINDOW", "Job", "Policy", "Requests"]

#: Most requests in flight at once when prefetching. Linux queues at most
#: ``net.unix.max_dgram_qlen`` (10 by default) datagrams per Unix socket and
#: chronyd drops a reply it cannot queue, so the window stays below that.
WINDOW: Final = 8
#: Datagrams an exchange's driver reads per wake-up before the deadline is checked
#: again (a flood of stray datagrams cannot hold an exchange past its bound).
READS_PER_WAKE: Final = 2 * WINDOW
#: Receive buffer: larger than any reply; a datagram filling it is oversized.
RECV_SIZE: Final = 2048
_HEADER_LEN: Final = reg.RESPONSE_HEADER_LEN
_unpack_key: Final = REPLY_KEY.unpack_from
#: A request's ``Struct.pack`` (:func:`pychrony.protocol.wire.request_struct`).
Pack: TypeAlias = Callable[..., bytes]
#: Random bits for sequence numbers (``random.getrandbits``'s signature).
Random: TypeAlias = Callable[[int], int]


class Policy:
    """How long to wait, how often to ask, how many requests to keep in flight."""

    __slots__ = ("address", "attempts", "random", "timeout", "window")

    def __init__(
        self,
        timeout: float,
        attempts: int,
        window: int = WINDOW,
        *,
        address: str = "chronyd",
        random: Random = getrandbits,
    ) -> None:
        self.timeout = timeout
        self.attempts = attempts
        self.window = window
        self.address = address  # for error messages
        self.random = random


class Job:
    """One request of a run and its resends (``kind``, ``index``: the handler's)."""

    __slots__ = ("address", "attempt", "command", "data", "index", "kind", "pack")

    def __init__(
        self,
        kind: int,
        index: int,
        command: int,
        data: bytes,
        pack: Pack,
        address: str = "",
    ) -> None:
        self.kind = kind
        self.index = index
        self.command = command
        self.data = data
        self.pack = pack
        self.address = address
        self.attempt = 0


#: Called with each job's reply (its REPLY_KEY fields and datagram).
Handler: TypeAlias = Callable[[Job, ReplyKey, bytes], None]


class Requests:
    """A run of jobs (one: an exchange) under a :class:`Policy`.

    ``handle`` gets each reply; None keeps it as :attr:`reply` (an exchange).
    ``drain``: the driver drops datagrams already queued before the first request
    leaves (late replies to abandoned requests: a pipelined run needs the room).
    """

    __slots__ = (
        "drain",
        "handle",
        "jobs",
        "outbox",
        "pending",
        "policy",
        "reads_per_wake",
        "reply",
        "resent",
        "waiting",
        "what",
        "window",
    )

    def __init__(self, jobs: deque[Job], handle: Handler | None, policy: Policy, what: str) -> None:
        self.jobs = jobs
        self.handle = handle
        self.policy = policy
        self.what = what
        self.window = policy.window
        self.reads_per_wake = 2 * policy.window  # a flood cannot hold a run past an expiry
        self.drain = handle is not None
        self.pending: dict[int, Job] = {}  # every sequence sent, and its job
        # Jobs in flight and their expiry, in the order they expire (see the module).
        self.waiting: dict[Job, float] = {}
        self.outbox: deque[tuple[Job, bytes]] = deque()  # not sent yet, in order
        self.reply: tuple[ReplyKey, bytes] | None = None
        self.resent = False  # some request was sent again: replies came out of order

    @classmethod
    def exchange(cls, command: int, data: bytes, pack: Pack, policy: Policy, what: str) -> Requests:
        """One request and its resends; its reply ends up in :attr:`reply`."""
        run = cls(deque((Job(0, 0, command, data, pack),)), None, policy, what)
        run.window = 1
        run.reads_per_wake = READS_PER_WAKE
        return run

    def resume(self, sequence: int, expires: float, packet: bytes, sent: bool) -> None:
        """Take over an exchange whose first attempt a driver made (its fast path):
        ``packet`` with ``sequence``, expiring at ``expires``; ``sent``: it left."""
        job = self.jobs.popleft()
        self.pending[sequence] = job
        self.waiting[job] = expires
        if not sent:
            self.outbox.append((job, packet))

    @property
    def done(self) -> bool:
        """Every job was answered."""
        return not self.jobs and not self.waiting

    def datagrams_to_send(self, now: float) -> deque[tuple[Job, bytes]]:
        """Fill the window at ``now``; the outbox: the driver pops what it sent."""
        jobs, waiting, outbox = self.jobs, self.waiting, self.outbox
        window = self.window
        if jobs and len(waiting) < window:
            expires = now + self.policy.timeout
            random, pending = self.policy.random, self.pending
            while jobs and len(waiting) < window:
                job = jobs.popleft()
                # _send(), inlined: this loop sends every request of a pipelined read
                sequence = random(32)
                while sequence in pending:
                    sequence = random(32)
                pending[sequence] = job
                outbox.append((job, job.pack(REQUEST_START, job.command, 0, sequence, job.data)))
                waiting[job] = expires
        return outbox

    def _send(self, job: Job) -> None:
        """Queue ``job``'s next attempt, with a sequence number not used in this run."""
        random = self.policy.random
        pending = self.pending
        sequence = random(32)
        while sequence in pending:
            sequence = random(32)
        pending[sequence] = job
        self.outbox.append(
            (job, job.pack(REQUEST_START, job.command, job.attempt, sequence, job.data))
        )

    def receive_datagram(self, datagram: bytes, now: float) -> None:
        """A datagram that came: a reply to a job in flight is handled, anything
        else (not a reply, another sequence or command, an answered job) ignored."""
        if not _HEADER_LEN <= len(datagram) < RECV_SIZE:
            return  # not a reply (oversized ones fill the buffer)
        key = _unpack_key(datagram)
        if key[1] != PKT_TYPE_REPLY or key[2]:
            return
        job = self.pending.get(key[6])
        # A job no longer waiting was answered already (a late reply to one of its
        # earlier attempts): its sequences stay pending.
        if job is None or key[3] != job.command or self.waiting.pop(job, None) is None:
            return
        handle = self.handle
        if handle is None:
            self.reply = key, datagram
        else:
            handle(job, key, datagram)

    def get_timer(self) -> float:
        """When the first request in flight expires."""
        return next(iter(self.waiting.values()))

    def handle_timer(self, now: float) -> None:
        """Resend every request expired at ``now``; the last attempt's expiry raises
        :class:`~pychrony.exceptions.ChronyTimeoutError`."""
        waiting = self.waiting
        expired = [job for job, expires in waiting.items() if expires <= now]
        if not expired:
            return
        policy = self.policy
        expires = now + policy.timeout
        self.resent = True
        for job in expired:
            job.attempt += 1
            if job.attempt >= policy.attempts:
                raise timeout_error(policy.address, self.what, policy.timeout, policy.attempts)
            outbox = self.outbox
            if outbox:  # its earlier attempt never left: replace it
                kept = [item for item in outbox if item[0] is not job]
                outbox.clear()
                outbox.extend(kept)
            self._send(job)
            del waiting[job]
            waiting[job] = expires  # to the end: the order of expiry holds
