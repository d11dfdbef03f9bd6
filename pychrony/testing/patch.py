"""``patched_chrony_connection``: make ChronyConnection serve a scenario."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .._address import DEFAULT_SOCKETS
from ..connection import session_override
from .config import ChronyStateConfig
from .mock import _ATTEMPTS, _TIMEOUT, MockSession
from .timeline import REAL_CLOCK, Clock, Timeline

__all__ = ["patched_chrony_connection"]


@contextmanager
def patched_chrony_connection(
    config: ChronyStateConfig | Timeline | None = None,
    *,
    timeout: float = _TIMEOUT,
    attempts: int = _ATTEMPTS,
    clock: Clock = REAL_CLOCK,
) -> Iterator[list[MockSession]]:
    """Inside the block every ChronyConnection (and ``pychrony.get_*``) reads
    ``config`` (default: SCENARIO_NTP_SYNCED) from a mock session; everything is
    restored on exit. Yields the list of sessions opened, for inspection. A
    connection given no address is connected to chronyd's standard socket.

    A :class:`Timeline` runs across all the block's sessions (one request count);
    ``timeout``/``attempts`` bound a hung chronyd's ChronyTimeoutError (give the
    connections' values) and ``clock`` (``(now, sleep)``) is the time it takes.
    """
    if config is None:
        from .scenarios import SCENARIO_NTP_SYNCED

        config = SCENARIO_NTP_SYNCED
    sessions: list[MockSession] = []
    cursor = Timeline.of(config).cursor(start=clock[0]())

    def factory(address: str | None) -> MockSession:
        session = MockSession(
            config,
            address=address or DEFAULT_SOCKETS[0],
            timeout=timeout,
            attempts=attempts,
            clock=clock,
            cursor=cursor,
        )
        sessions.append(session)
        return session

    with session_override(factory):
        yield sessions
