"""One call at a time on an ``AsyncChronyConnection``, from whichever event loop.

``asyncio.Lock`` binds itself to the first loop it makes wait, and a call left
pending when its loop was closed keeps it for ever. :class:`Turn` instead hands
the connection from call to call in order, waking a waiter on its own loop
(``call_soon_threadsafe``), and takes it back from a holder whose loop was
closed or whose task ended without giving it back: that holder's session steps
are closed, which releases the session (its ``finally`` blocks run).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Generator
from typing import Any

__all__ = ["Turn"]

#: Seconds between two looks of a waiter at a holder that may have died.
_CHECK_EVERY = 0.1


class _Call:
    """A call holding or awaiting the turn."""

    __slots__ = ("future", "loop", "steps", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.task = asyncio.current_task()
        self.future: asyncio.Future[None] = loop.create_future()
        self.steps: Generator[Any, Any, Any] | None = None  # its session steps under way


class Turn:
    """Calls one at a time, first come first served, across event loops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # loops in other threads may wait too
        self._holder: _Call | None = None
        self._waiting: deque[_Call] = deque()

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[_Call]:
        """Wait for the turn; the block runs holding it."""
        call = await self._acquire()
        try:
            yield call
        finally:
            self._release(call)

    async def _acquire(self) -> _Call:
        call = _Call(asyncio.get_running_loop())
        with self._lock:
            self._reclaim()
            if self._holder is None and not self._waiting:
                self._holder = call
                return call
            self._waiting.append(call)
        try:
            while not call.future.done():
                await asyncio.wait((call.future,), timeout=_CHECK_EVERY)
                with self._lock:
                    self._reclaim()
        except BaseException:
            self._release(call)  # cancelled: handed on if it was handed the turn
            raise
        return call

    def _reclaim(self) -> None:
        """Take the turn back from a dead holder and hand it on (lock held)."""
        holder = self._holder
        if holder is None:
            if self._waiting:
                self._hand_on()
            return
        if not (holder.loop.is_closed() or (holder.task is not None and holder.task.done())):
            return
        steps, holder.steps = holder.steps, None
        if steps is not None:
            with contextlib.suppress(ValueError, RuntimeError):  # running elsewhere: leave it
                steps.close()  # its finally blocks release the session
        self._hand_on()

    def _release(self, call: _Call) -> None:
        with self._lock:
            if self._holder is call:
                self._hand_on()
            else:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(call)  # never handed the turn

    def _hand_on(self) -> None:
        """Give the turn to the first waiter whose loop is alive (lock held)."""
        self._holder = None
        while self._waiting:
            call = self._waiting.popleft()
            if call.loop.is_closed() or call.future.done():
                continue
            self._holder = call
            try:
                call.loop.call_soon_threadsafe(_wake, call.future)
            except RuntimeError:  # its loop closed meanwhile
                self._holder = None
                continue
            return


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
