"""The page's charts as data: series of ``[seconds before now, value]`` with their
hover labels and axis labels, formatted here so the script only draws.

Three charts over the kept window (:class:`~.history.History`): the system offset
with root distance as its error band, the frequency, and each reachable source's
last-sample offset (one series per source, the selected one emphasised).
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable
from typing import Any

from ..display import format_duration, format_offset, format_ppm
from .history import History, SourcePoints, TrackingPoint

__all__ = ["charts", "clock"]


def clock(epoch: float) -> str:
    """``12:01:07``: the server's local time of ``epoch``, as the page shows times."""
    return _clock_of_second(int(epoch))


@functools.lru_cache(maxsize=4096)
def _clock_of_second(second: int) -> str:
    # Hover labels repeat the same seconds across series and refreshes.
    return time.strftime("%H:%M:%S", time.localtime(second))


def _span(first: float | None, now: float, window: float) -> float:
    """The time axis: the data's age, at least a minute, at most the window."""
    return min(window, max(60.0, now - first if first is not None else 0.0))


def _range(values: list[float], symmetric: bool) -> tuple[float, float]:
    if not values:
        return -1e-6, 1e-6
    lo, hi = min(values), max(values)
    if symmetric:
        top = max(abs(lo), abs(hi)) * 1.15 or 1e-6
        return -top, top
    pad = (hi - lo) * 0.15 or abs(hi) * 0.01 or 1e-3
    return lo - pad, hi + pad


def _chart(
    series: list[dict[str, Any]],
    lo: float,
    hi: float,
    span: float,
    fmt: Callable[[float], str],
    latest: str,
) -> dict[str, Any]:
    empty = not any(s["points"] for s in series)
    return {
        "window": span,
        "window_label": f"\N{MINUS SIGN}{format_duration(span)}",
        "lo": lo,
        "hi": hi,
        "top_label": "" if empty else fmt(hi),
        "bottom_label": "" if empty else fmt(lo),
        "mid_label": "" if empty else "0" if lo == -hi else fmt((lo + hi) / 2),
        "series": series,
        "lines": sum(1 for s in series if s["points"]),
        "count": max((len(s["points"]) for s in series), default=0),
        "latest": latest,
    }


def offset_chart(points: list[TrackingPoint], now: float, window: float, gap: float) -> Any:
    """System time offset, the band ± root distance around it."""
    band = [[round(now - t, 3), o - d, o + d] for t, o, d, _ in points]
    lo, hi = _range([v for _, a, b in band for v in (a, b)], symmetric=True)
    series = {
        "key": "system",
        "name": "system offset",
        "classes": "main",
        "gap": gap,
        "points": [[round(now - t, 3), o] for t, o, _, _ in points],
        "band": band,
        "labels": [
            f"{clock(t)}  offset {format_offset(o)} ± {format_offset(d, signed=False)}"
            for t, o, d, _ in points
        ],
    }
    latest = (
        f"{format_offset(points[-1][1])} ± {format_offset(points[-1][2], signed=False)}"
        if points
        else "\N{EN DASH}"
    )
    span = _span(points[0][0] if points else None, now, window)
    return _chart([series], lo, hi, span, format_offset, latest)


def frequency_chart(points: list[TrackingPoint], now: float, window: float, gap: float) -> Any:
    """The system clock's frequency error (ppm, chronyc's "Frequency")."""
    lo, hi = _range([f for *_, f in points], symmetric=False)
    series = {
        "key": "frequency",
        "name": "frequency",
        "classes": "main",
        "gap": gap,
        "points": [[round(now - t, 3), f] for t, *_, f in points],
        "band": None,
        "labels": [f"{clock(t)}  {format_ppm(f)}" for t, *_, f in points],
    }
    latest = format_ppm(points[-1][3]) if points else "\N{EN DASH}"
    span = _span(points[0][0] if points else None, now, window)
    return _chart([series], lo, hi, span, format_ppm, latest)


def _median_interval(points: SourcePoints) -> float:
    steps = sorted(b[0] - a[0] for a, b in itertools.pairwise(points))
    return steps[len(steps) // 2] if steps else 0.0


def sources_chart(
    tracks: dict[str, SourcePoints],
    names: dict[str, str],
    selected: set[str],
    now: float,
    window: float,
    gap: float,
) -> Any:
    """Each reachable source's last-sample offset. A source is sampled once per poll
    interval (minutes, perhaps): its line breaks only where samples are more than
    four of its usual (median) intervals apart, and never under ``gap``."""
    series = []
    first: float | None = None
    values: list[float] = []
    for address, points in sorted(tracks.items(), key=lambda kv: (kv[0] not in selected, kv[0])):
        if not points:
            continue
        first = points[0][0] if first is None else min(first, points[0][0])
        values.extend(o for _, o in points)
        name = names.get(address) or address
        series.append(
            {
                "key": address,
                "name": name,
                "classes": "selected" if address in selected else "",
                "gap": max(gap, 4 * _median_interval(points)),
                "points": [[round(now - t, 3), o] for t, o in points],
                "band": None,
                "labels": [f"{clock(t)}  {name} {format_offset(o)}" for t, o in points],
            }
        )
    lo, hi = _range(values, symmetric=True)
    latest = f"{len(series)} source{'s' if len(series) != 1 else ''}"
    return _chart(series, lo, hi, _span(first, now, window), format_offset, latest)


def charts(
    history: History,
    names: dict[str, str],
    selected: set[str],
    now: float,
    gap: float,
) -> dict[str, Any]:
    """The three charts over ``history``'s window ending at ``now``."""
    tracking = history.tracking(now)
    return {
        "offset": offset_chart(tracking, now, history.window, gap),
        "frequency": frequency_chart(tracking, now, history.window, gap),
        "sources": sources_chart(history.sources(now), names, selected, now, history.window, gap),
    }
