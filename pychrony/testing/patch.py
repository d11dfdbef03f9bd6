"""``patched_chrony_connection``: make ChronyConnection serve a scenario."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..connection import session_override
from .config import ChronyStateConfig
from .mock import MockSession

__all__ = ["patched_chrony_connection"]


@contextmanager
def patched_chrony_connection(
    config: ChronyStateConfig | None = None,
) -> Iterator[list[MockSession]]:
    """Inside the block every ChronyConnection (and ``pychrony.get_*``) reads
    ``config`` (default: SCENARIO_NTP_SYNCED) from a mock session; everything is
    restored on exit. Yields the list of sessions opened, for inspection.
    """
    if config is None:
        from .scenarios import SCENARIO_NTP_SYNCED

        config = SCENARIO_NTP_SYNCED
    sessions: list[MockSession] = []

    def factory() -> MockSession:
        session = MockSession(config)
        sessions.append(session)
        return session

    with session_override(factory):
        yield sessions
