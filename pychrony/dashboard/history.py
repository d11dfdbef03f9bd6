"""What the dashboard's charts draw: the kept window of tracking and source samples.

Memory is bounded by the window: at most one tracking point per ``min_interval``
seconds (``window / min_interval + 1`` of them), and per source at most one point per
``min_interval`` of sample time; a source whose newest point left the window is
forgotten. ``benchmarks/dashboard_history.py`` measures the bytes a full window keeps.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from ..exceptions import ChronyError
from ..models import Source, TrackingStatus

__all__ = ["DEFAULT_HISTORY", "MAX_HISTORY", "History", "SourcePoints", "TrackingPoint"]

#: Seconds of history the dashboard keeps and charts by default.
DEFAULT_HISTORY = 600.0
#: The longest history accepted (a week: ~30 MB at one point per 2 s, see benchmarks/).
MAX_HISTORY = 7 * 86400.0

#: ``(epoch, offset s, root distance s, frequency ppm)``: the system clock at one read.
TrackingPoint = tuple[float, float, float, float]
#: ``(epoch of the sample, offset s)``: a source's last sample as chronyd reported it.
SourcePoints = list[tuple[float, float]]


def root_distance(t: TrackingStatus) -> float:
    """chronyd's bound on the system clock's error: half the root delay plus the root
    dispersion (chrony's "root distance")."""
    return t.root_delay / 2 + t.root_dispersion


@dataclass
class _SourceTrack:
    points: deque[tuple[float, float]]
    reachable: bool = True


class History:
    """Ring buffers of the tracking report and each source's last sample over ``window`` s."""

    def __init__(self, window: float = DEFAULT_HISTORY, min_interval: float = 2.0) -> None:
        if not (
            isinstance(window, int | float)
            and not isinstance(window, bool)
            and 0 < window <= MAX_HISTORY
        ):
            raise ChronyError(
                f"history must be a number of seconds in (0, {MAX_HISTORY:.0f}], not {window!r}"
            )
        if not (math.isfinite(min_interval) and min_interval > 0):
            raise ChronyError(f"min_interval must be positive, not {min_interval!r}")
        self.window = float(window)
        self.min_interval = min_interval
        self.maxlen = int(self.window / min_interval) + 1
        self._tracking: deque[TrackingPoint] = deque(maxlen=self.maxlen)
        self._sources: dict[str, _SourceTrack] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Points kept, tracking and sources together."""
        with self._lock:
            return len(self._tracking) + sum(len(s.points) for s in self._sources.values())

    def add_tracking(self, when: float, t: TrackingStatus) -> None:
        """Record the tracking report read at ``when`` unless the last point is too recent."""
        point = (when, t.offset, root_distance(t), t.frequency)
        with self._lock:
            if self._tracking and when - self._tracking[-1][0] < self.min_interval:
                return
            self._tracking.append(point)

    def add_sources(self, when: float, sources: Iterable[Source]) -> None:
        """Record each sampled source's last sample (at its sample time, ``when`` minus
        its age); mark the others unreachable and drop sources gone from the window."""
        with self._lock:
            seen: set[str] = set()
            for s in sources:
                seen.add(s.address)
                track = self._sources.get(s.address)
                if track is not None:
                    track.reachable = s.is_reachable()
                if not (s.is_reachable() and s.is_sampled()):
                    continue
                if track is None:
                    track = self._sources[s.address] = _SourceTrack(deque(maxlen=self.maxlen))
                sampled = when - s.last_sample_ago
                if track.points and sampled - track.points[-1][0] < self.min_interval:
                    continue
                track.points.append((sampled, s.latest_meas))
            start = when - self.window
            for address in list(self._sources):
                track = self._sources[address]
                if address not in seen:
                    track.reachable = False
                if not track.points or track.points[-1][0] < start:
                    del self._sources[address]

    def tracking(self, now: float) -> list[TrackingPoint]:
        """The tracking points of the window ending at ``now``, oldest first."""
        start = now - self.window
        with self._lock:
            return [p for p in self._tracking if p[0] >= start]

    def sources(self, now: float) -> dict[str, SourcePoints]:
        """Each currently reachable source's points in the window ending at ``now``."""
        start = now - self.window
        with self._lock:
            return {
                address: [p for p in track.points if p[0] >= start]
                for address, track in self._sources.items()
                if track.reachable
            }
