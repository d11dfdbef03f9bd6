"""Scenarios that change: a timeline of chronyd states by request count or by clock.

>>> from pychrony.testing import SCENARIO_NTP_SYNCED, SCENARIO_SYNC_LOST, Step, Timeline
>>> timeline = Timeline(SCENARIO_NTP_SYNCED, Step(SCENARIO_SYNC_LOST, after_requests=3))
>>> cursor = timeline.cursor()
>>> [cursor.request(now=0.0).config.is_synchronized() for _ in range(4)]
[True, True, True, False]

A step starts once the server has received ``after_requests`` requests in all, or
``after_seconds`` have passed on the timeline's clock since it started (whichever
the step names); steps start in order. The same timeline drives the fake chronyd
(:class:`pychrony.testing.FakeChronyd`) and the mock session, which read the clock
only through what they are given (:class:`FakeClock` in tests).
"""

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .config import ChronyStateConfig
from .faults import Fault, FaultKind
from .state import ScriptedState, scripted_state

__all__ = ["FakeClock", "Phase", "Step", "Timeline", "TimelineCursor", "drifting"]


@dataclass(frozen=True, slots=True)
class Step:
    """From ``after_requests`` requests or ``after_seconds`` on, serve ``config``."""

    config: ChronyStateConfig
    after_requests: int | None = None
    after_seconds: float | None = None

    def __post_init__(self) -> None:
        if (self.after_requests is None) == (self.after_seconds is None):
            raise ValueError("a Step starts after_requests=N or after_seconds=S (one of them)")
        if self.after_requests is not None and self.after_requests < 0:
            raise ValueError("after_requests must be >= 0")
        if self.after_seconds is not None and not self.after_seconds >= 0:
            raise ValueError("after_seconds must be >= 0")

    def started(self, requests: int, elapsed: float) -> bool:
        """True once ``requests`` received or ``elapsed`` seconds reach the step."""
        if self.after_requests is not None:
            return requests >= self.after_requests
        return elapsed >= (self.after_seconds or 0.0)


@dataclass(frozen=True, slots=True)
class Phase:
    """The state in force: its index in the timeline, config and records."""

    index: int
    config: ChronyStateConfig
    state: ScriptedState

    def fault(self, kind: FaultKind) -> Fault | None:
        """This phase's fault of ``kind``, if any."""
        for fault in self.config.faults:
            if fault.kind is kind:
                return fault
        return None


class Timeline:
    """A first state and the steps that follow it."""

    def __init__(self, first: ChronyStateConfig, *steps: Step) -> None:
        self.configs: tuple[ChronyStateConfig, ...] = (first, *(s.config for s in steps))
        self.steps = steps

    @classmethod
    def of(cls, scenario: "ChronyStateConfig | Timeline") -> "Timeline":
        """``scenario`` as a timeline (a frozen scenario is a timeline of one state)."""
        return scenario if isinstance(scenario, Timeline) else cls(scenario)

    def phase_index(self, requests: int, elapsed: float) -> int:
        """Index of the state in force after ``requests`` requests and ``elapsed`` s."""
        index = 0
        for step in self.steps:
            if not step.started(requests, elapsed):
                break
            index += 1
        return index

    def next_start(self, index: int) -> float | None:
        """Clock time (since start) of the step after phase ``index``, if it is timed."""
        if index >= len(self.steps):
            return None
        return self.steps[index].after_seconds

    def cursor(
        self, *, layouts: dict[str, int] | None = None, start: float = 0.0
    ) -> "TimelineCursor":
        """A cursor over this timeline, its clock starting at ``start``."""
        return TimelineCursor(self, layouts=layouts, start=start)


class TimelineCursor:
    """Where a server is in a timeline: counts requests, serves the phase in force.

    ``layouts`` are the reply layouts of the chronyd being played (a config's own
    ``layouts`` win). Thread-safe: a server's threads may share one cursor.
    """

    def __init__(
        self, timeline: Timeline, *, layouts: dict[str, int] | None = None, start: float = 0.0
    ) -> None:
        self.timeline = timeline
        self.requests = 0
        self.start = start
        self._layouts = layouts or {}
        self._states: dict[int, Phase] = {}
        self._lock = threading.Lock()

    def phase(self, now: float) -> Phase:
        """The phase in force at ``now`` (counts no request)."""
        with self._lock:
            return self._phase(now)

    def request(self, now: float) -> Phase:
        """Count one request received at ``now``; the phase that answers it."""
        with self._lock:
            phase = self._phase(now)
            self.requests += 1
            return phase

    def _phase(self, now: float) -> Phase:
        index = self.timeline.phase_index(self.requests, now - self.start)
        phase = self._states.get(index)
        if phase is None:
            config = self.timeline.configs[index]
            if self._layouts:
                config = dataclasses.replace(config, layouts={**self._layouts, **config.layouts})
            phase = self._states[index] = Phase(index, config, scripted_state(config))
        return phase


def drifting(
    config: ChronyStateConfig, *, offset_step: float, steps: int, every: int = 1, start: int = 0
) -> list[Step]:
    """Steps that move tracking's offset by ``offset_step`` every ``every`` requests."""
    return [
        Step(
            dataclasses.replace(config, offset=config.offset + offset_step * (i + 1)),
            after_requests=start + every * (i + 1),
        )
        for i in range(steps)
    ]


class FakeClock:
    """A clock tests move by hand; ``sleep`` advances it instead of waiting."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` at once."""
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        with self._lock:
            self.now += max(0.0, seconds)


#: A clock and its sleep: ``(time.monotonic, time.sleep)`` unless a test fakes them.
Clock = tuple[Callable[[], float], Callable[[float], None]]
REAL_CLOCK: Clock = (time.monotonic, time.sleep)
