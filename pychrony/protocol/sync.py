"""The blocking driver: runs the client engine on a :class:`~.transport.Transport` with poll().

:func:`exchange` is the hot path of every single-record read: send, one poll,
one recv, and the reply matched, without building an engine; anything else (a
stray datagram, a loss, a full queue) continues in a :class:`~.engine.Requests`
with that attempt counted as made. :func:`run` drives an engine to its end and
:func:`drive` runs a plan's steps (generators yielding engines,
:mod:`.planning`), each engine as it comes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from time import monotonic
from typing import Any, TypeAlias, TypeVar

from .. import registry as reg
from .engine import RECV_SIZE, Pack, Policy, Requests
from .transport import POLLIN, POLLOUT, Transport
from .wire import PKT_TYPE_REPLY, REPLY_KEY, REQUEST_START, ReplyKey

__all__ = ["Steps", "drive", "exchange", "run"]

_T = TypeVar("_T")
#: A plan's run: yields engines, is sent each one's reply (None for a pipelined
#: run) once it is done, returns its result.
Steps: TypeAlias = Generator[Requests, Any, _T]
_BOTH = POLLIN | POLLOUT
_unpack_key = REPLY_KEY.unpack_from
_HEADER_LEN = reg.RESPONSE_HEADER_LEN


def exchange(
    transport: Transport, policy: Policy, command: int, data: bytes, pack: Pack, what: str
) -> tuple[ReplyKey, bytes]:
    """Send one request (resending on timeout) and return the matching reply."""
    sequence = policy.random(32)
    timeout = policy.timeout
    expires = monotonic() + timeout
    packet = pack(REQUEST_START, command, 0, sequence, data)
    sock = transport.sock  # the socket calls inline: this is every read's hot path
    try:
        sock.send(packet)
        sent = True
    except OSError as exc:
        sent = transport.send_failed(packet, exc)
    if sent and transport.poll_in(timeout * 1000.0):
        try:
            datagram = sock.recv(RECV_SIZE)
        except BlockingIOError:
            datagram = b""
        except OSError as exc:
            raise transport.io_error(exc) from exc
        if _HEADER_LEN <= len(datagram) < RECV_SIZE:
            key = _unpack_key(datagram)
            if key[6] == sequence and key[3] == command and key[1] == PKT_TYPE_REPLY and not key[2]:
                return key, datagram
    engine = Requests.exchange(command, data, pack, policy, what)
    engine.resume(sequence, expires, packet, sent)
    run(transport, engine)
    assert engine.reply is not None
    return engine.reply


def run(transport: Transport, engine: Requests) -> tuple[ReplyKey, bytes] | None:
    """Run ``engine`` to its end, waiting with poll(); its reply (an exchange's)."""
    if engine.drain:
        transport.drain()
    pollers, send, sock_recv = transport.pollers, transport.send, transport.sock.recv
    receive, fill = engine.receive_datagram, engine.datagrams_to_send
    reads, window = engine.reads_per_wake, engine.window
    jobs, waiting, outbox = engine.jobs, engine.waiting, engine.outbox
    if not jobs and not waiting:
        return engine.reply
    now = 0.0
    while True:
        if jobs and len(waiting) < window:  # room in the window (fill() checks again)
            now = monotonic()
            fill(now)
        while outbox and send(outbox[0][1]):
            outbox.popleft()
        remaining = next(iter(waiting.values())) - monotonic()
        ready = 0
        if remaining > 0:
            # poll() rounds the timeout up to whole milliseconds: it never ends early.
            polled = pollers[_BOTH if outbox else POLLIN].poll(remaining * 1000.0)
            if polled:
                ready = polled[0][1]
        if ready & POLLIN or not ready:  # not ready: the wait expired, read what came
            for _ in range(reads):
                try:
                    datagram = sock_recv(RECV_SIZE)
                except BlockingIOError:
                    break
                except OSError as exc:
                    raise transport.io_error(exc) from exc
                receive(datagram, now)
            if not jobs and not waiting:
                return engine.reply
            if ready == POLLIN:
                continue  # expiries are checked when a wait ends without a reply
        now = monotonic()
        if engine.get_timer() <= now:
            engine.handle_timer(now)


def drive(open_transport: Callable[[], Transport], steps: Steps[_T]) -> _T:
    """Run a plan's ``steps`` to completion; ``open_transport`` gives the socket for
    each engine (and raises once the session is closed)."""
    try:
        engine = next(steps)
        while True:
            engine = steps.send(run(open_transport(), engine))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
