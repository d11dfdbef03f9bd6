"""pytest plugin (entry point ``pytest11``): fixtures for pychrony users' tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from ..models import RTCData, Source, SourceStats, TrackingStatus
from ..protocol.driver import FakeChronyd
from . import factories
from .config import ChronyStateConfig
from .mock import MockSession
from .patch import patched_chrony_connection


@pytest.fixture
def tracking_status() -> TrackingStatus:
    """A synchronised TrackingStatus."""
    return factories.make_tracking()


@pytest.fixture
def source() -> Source:
    """A selected, reachable source."""
    return factories.make_source()


@pytest.fixture
def source_stats() -> SourceStats:
    """Source statistics."""
    return factories.make_source_stats()


@pytest.fixture
def rtc_data() -> RTCData:
    """Calibrated RTC data."""
    return factories.make_rtc_data()


@pytest.fixture
def chrony_scenario() -> Iterator[Callable[[ChronyStateConfig], list[MockSession]]]:
    """Apply a scenario for the rest of the test: ``chrony_scenario(SCENARIO_UNSYNC)``."""
    with ExitStack() as stack:
        yield lambda config: stack.enter_context(patched_chrony_connection(config))


@pytest.fixture
def fake_chronyd() -> Iterator[Callable[..., FakeChronyd]]:
    """Start fake chronyds for the test: ``fake_chronyd(SCENARIO_UNSYNC, udp="127.0.0.1:0")``
    (the arguments of :class:`~pychrony.testing.FakeChronyd`); stopped at the end."""
    with ExitStack() as stack:
        yield lambda *args, **kwargs: stack.enter_context(FakeChronyd(*args, **kwargs))
