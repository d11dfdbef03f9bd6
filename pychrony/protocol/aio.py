"""The asyncio driver: runs the client engine, and libchrony's steps, on an event loop.

Two kinds of steps come here. pychrony's own client's plans (:mod:`.planning`)
yield engines (:class:`~.engine.Requests`), run as :func:`.sync.run` runs them
but waiting with the loop's reader and writer and a timer. The native backend's
steps yield waits, ``(poll events, deadline)``, and are sent the events that
happened (0: the deadline passed). Nothing here blocks the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from time import monotonic
from typing import Any, TypeVar

from .engine import Requests
from .transport import POLLIN, POLLOUT, Transport
from .wire import ReplyKey

__all__ = ["drive", "run", "wait"]

_T = TypeVar("_T")


async def drive(session: Any, steps: Generator[Any, Any, _T]) -> _T:
    """Run a session's steps (engines or waits) on the running loop."""
    loop = asyncio.get_running_loop()
    try:
        step = next(steps)
        while True:
            if step.__class__ is tuple:  # the native backend's wait
                events, deadline = step
                step = steps.send(await wait(loop, session.fileno(), events, deadline))
            else:
                step = steps.send(await run(loop, session.transport, step))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        steps.close()  # cancelled: release the session's state at once


async def run(
    loop: asyncio.AbstractEventLoop, open_transport: Any, engine: Requests
) -> tuple[ReplyKey, bytes] | None:
    """Run ``engine`` to its end on ``loop``; ``open_transport()`` raises once the
    session is closed (checked at every wait)."""
    transport: Transport = open_transport()
    if engine.drain:
        transport.drain()
    while not engine.done:
        now = monotonic()
        outbox = engine.datagrams_to_send(now)
        while outbox and transport.send(outbox[0][1]):
            outbox.popleft()
        events = POLLIN | POLLOUT if outbox else POLLIN
        ready = await wait(loop, transport.fileno(), events, engine.get_timer())
        transport = open_transport()
        if ready & POLLIN or not ready:
            for _ in range(engine.reads_per_wake):
                datagram = transport.recv()
                if datagram is None:
                    break
                engine.receive_datagram(datagram, now)
            if engine.done or ready == POLLIN:
                continue
        now = monotonic()
        if engine.get_timer() <= now:
            engine.handle_timer(now)
    return engine.reply


async def wait(loop: asyncio.AbstractEventLoop, fd: int, events: int, deadline: float) -> int:
    """The events of ``events`` that happen on ``fd`` first, or 0 at ``deadline``."""
    delay = deadline - monotonic()
    if delay <= 0:
        return 0
    ready: asyncio.Future[int] = loop.create_future()

    def done(what: int) -> None:
        if not ready.done():
            ready.set_result(what)

    if events & POLLIN:
        loop.add_reader(fd, done, POLLIN)
    if events & POLLOUT:
        loop.add_writer(fd, done, POLLOUT)
    timer = loop.call_later(delay, done, 0)
    try:
        return await ready
    finally:
        timer.cancel()
        if events & POLLIN:
            loop.remove_reader(fd)
        if events & POLLOUT:
            loop.remove_writer(fd)
