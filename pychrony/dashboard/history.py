"""What the dashboard's charts draw: the kept window of tracking and source samples.

Memory is bounded by the window: at most one tracking point per ``min_interval``
seconds (``window / min_interval + 1`` of them), and per source at most one point per
``min_interval`` of sample time; a source whose newest point left the window is
forgotten. Points are kept as C doubles in growing ring buffers (8 bytes a value, no
Python object per point); ``benchmarks/test_bench_dashboard.py`` measures the bytes a
full window keeps.
"""

from __future__ import annotations

import bisect
import math
import threading
from array import array
from collections.abc import Iterable
from dataclasses import dataclass

from ..exceptions import ChronyError
from ..models import Source, TrackingStatus

__all__ = [
    "DEFAULT_HISTORY",
    "MAX_HISTORY",
    "MAX_POINTS",
    "History",
    "SourcePoints",
    "TrackingPoint",
]

#: Seconds of history the dashboard keeps and charts by default.
DEFAULT_HISTORY = 600.0
#: The longest history accepted: a day (longer belongs in Prometheus); at one point per
#: 2 s that is about 1.4 MB for tracking and at most 0.7 MB per source.
MAX_HISTORY = 86400.0

#: Points per series the charts get at most (longer windows are thinned).
MAX_POINTS = 600

#: ``(epoch, offset s, root distance s, frequency ppm)``: the system clock at one read.
TrackingPoint = tuple[float, float, float, float]
#: ``(epoch of the sample, offset s)``: a source's last sample as chronyd reported it.
SourcePoints = list[tuple[float, float]]


def root_distance(t: TrackingStatus) -> float:
    """chronyd's bound on the system clock's error: half the root delay plus the root
    dispersion (chrony's "root distance")."""
    return t.root_delay / 2 + t.root_dispersion


class _Ring:
    """Rows of ``width`` floats, oldest first, at most ``capacity`` of them: one
    ``array('d')`` per column that grows to ``capacity``, then is overwritten in turn."""

    def __init__(self, width: int, capacity: int) -> None:
        self._columns = [array("d") for _ in range(width)]
        self._capacity = capacity
        self._start = 0  # index of the oldest row once full

    def __len__(self) -> int:
        return len(self._columns[0])

    def append(self, row: tuple[float, ...]) -> None:
        if len(self) < self._capacity:
            for column, value in zip(self._columns, row, strict=True):
                column.append(value)
            return
        for column, value in zip(self._columns, row, strict=True):
            column[self._start] = value
        self._start = (self._start + 1) % self._capacity

    def last(self, column: int = 0) -> float | None:
        if not len(self):
            return None
        return self._columns[column][self._start - 1]

    def window(self, since: float, limit: int) -> list[tuple[float, ...]]:
        """Rows whose time (column 0) is at least ``since``, oldest first, thinned to
        about ``limit``: of each run of rows the one whose column 1 is farthest from
        zero (a spike stays visible), and always the newest. Array slices and C min/max:
        no Python object per kept row until the ones returned."""
        n = len(self)
        if not n:
            return []
        cols = [c[self._start :] + c[: self._start] for c in self._columns]
        first = bisect.bisect_left(cols[0], since)
        if n - first <= limit:
            picked: Iterable[int] = range(first, n)
        else:
            step = math.ceil((n - first) / limit)
            values = cols[1]
            chosen = []
            for i in range(first, n, step):
                run = values[i : i + step]
                hi, lo = max(run), min(run)
                chosen.append(i + run.index(hi if abs(hi) >= abs(lo) else lo))
            if chosen[-1] != n - 1:
                chosen.append(n - 1)
            picked = chosen
        return [tuple(c[i] for c in cols) for i in picked]


@dataclass
class _SourceTrack:
    points: _Ring
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
        self._tracking = _Ring(4, self.maxlen)
        self._sources: dict[str, _SourceTrack] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Points kept, tracking and sources together."""
        with self._lock:
            return len(self._tracking) + sum(len(t.points) for t in self._sources.values())

    def add_tracking(self, when: float, t: TrackingStatus) -> None:
        """Record the tracking report read at ``when`` unless the last point is too recent."""
        point = (when, t.offset, root_distance(t), t.frequency)
        with self._lock:
            last = self._tracking.last()
            # 0 <=: after the wall clock stepped back, keep recording.
            if last is not None and 0 <= when - last < self.min_interval:
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
                    track = self._sources[s.address] = _SourceTrack(_Ring(2, self.maxlen))
                sampled = when - s.last_sample_ago
                last = track.points.last()
                if last is not None and 0 <= sampled - last < self.min_interval:
                    continue
                track.points.append((sampled, s.latest_meas))
            start = when - self.window
            for address in list(self._sources):
                track = self._sources[address]
                if address not in seen:
                    track.reachable = False
                last = track.points.last()
                if last is None or last < start:
                    del self._sources[address]

    def tracking(self, now: float, limit: int = MAX_POINTS) -> list[TrackingPoint]:
        """The tracking points of the window ending at ``now``, oldest first, about
        ``limit`` of them at most (spikes of the offset kept)."""
        start = now - self.window
        with self._lock:
            return [(t, o, d, f) for t, o, d, f in self._tracking.window(start, limit)]

    def sources(self, now: float, limit: int = MAX_POINTS) -> dict[str, SourcePoints]:
        """Each currently reachable source's points in the window ending at ``now``
        (about ``limit`` at most per source)."""
        start = now - self.window
        with self._lock:
            return {
                address: [(t, o) for t, o in track.points.window(start, limit)]
                for address, track in self._sources.items()
                if track.reachable
            }
