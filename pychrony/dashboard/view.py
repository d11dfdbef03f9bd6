"""What the page shows: reports turned into display strings by :mod:`pychrony.display`.

The same view feeds the server-rendered HTML (Jinja) and the ``view`` member of
``/api/snapshot`` that the page's script applies every few seconds, so values are
formatted in one place only.
"""

from __future__ import annotations

import time
from typing import Any

from ..display import (
    format_duration,
    format_offset,
    format_reachability,
    format_time,
    format_value,
    to_json,
)
from ..models import (
    LeapStatus,
    RTCData,
    Source,
    SourceMode,
    SourceState,
    SourceStats,
    TrackingStatus,
)
from .reader import Reading

__all__ = ["SNAPSHOT_REPORTS", "snapshot", "view"]

#: Reports the page shows (one snapshot reads them together).
SNAPSHOT_REPORTS = ("tracking", "sources", "sourcestats", "rtcdata")
#: Seconds of offset history the chart covers.
CHART_WINDOW = 600.0

# chronyc's state characters with the words its manual uses for them.
_STATES = {
    SourceState.SELECTED: ("*", "selected"),
    SourceState.SELECTABLE: ("+", "combined"),
    SourceState.UNSELECTED: ("-", "not combined"),
    SourceState.NONSELECTABLE: ("?", "unusable"),
    SourceState.FALSETICKER: ("x", "falseticker"),
    SourceState.JITTERY: ("~", "jittery"),
}
_MODES = {
    SourceMode.CLIENT: ("^", "server"),
    SourceMode.PEER: ("=", "peer"),
    SourceMode.REFCLOCK: ("#", "refclock"),
}
_LEAP = {
    LeapStatus.NORMAL: ("Normal", "ok"),
    LeapStatus.INSERT: ("Insert second", "warn"),
    LeapStatus.DELETE: ("Delete second", "warn"),
    LeapStatus.UNSYNC: ("Not synchronised", "bad"),
}


_UNKNOWN_SYNC = {
    "sync_label": "Unknown",
    "sync_class": "bad",
    "sync_detail": "chronyd did not answer",
}


def _fmt(model: type, record: Any, attr: str) -> str:
    return format_value(model, attr, getattr(record, attr))


def _ago(epoch: float, now: float) -> str:
    if not epoch:
        return "never"
    age = now - epoch
    return "just now" if age < 1 else f"{format_duration(age)} ago"


def tracking_view(t: TrackingStatus, now: float) -> dict[str, Any]:
    """Stat-box strings for the tracking report."""
    synced = t.is_synchronized()
    leap_label, leap_class = _LEAP[t.leap_status]
    name = t.reference_id_name or "-"
    address = t.reference_ip if t.reference_ip and t.reference_ip != name else ""
    ref_id = format_value(TrackingStatus, "reference_id", t.reference_id)
    return {
        "synced": synced,
        "sync_label": "Synchronised" if synced else "Not synchronised",
        "sync_class": "ok" if synced else "bad",
        "sync_detail": f"to {name}" if synced else "no usable reference",
        "offset": _fmt(TrackingStatus, t, "offset"),
        "offset_detail": (
            f"last {_fmt(TrackingStatus, t, 'last_offset')}, "
            f"rms {_fmt(TrackingStatus, t, 'rms_offset')}"
        ),
        "stratum": str(t.stratum),
        "stratum_detail": "unsynchronised" if t.stratum >= 16 else "hops from a reference clock",
        "reference": name,
        "reference_detail": " · ".join(x for x in (address, f"ID {ref_id}") if x),
        "frequency": _fmt(TrackingStatus, t, "frequency"),
        "frequency_detail": (
            f"residual {_fmt(TrackingStatus, t, 'residual_freq')}, "
            f"skew {_fmt(TrackingStatus, t, 'skew')}"
        ),
        "root_delay": _fmt(TrackingStatus, t, "root_delay"),
        "root_dispersion": _fmt(TrackingStatus, t, "root_dispersion"),
        "leap": leap_label,
        "leap_class": leap_class,
        "last_update": _ago(t.ref_time, now),
        "last_update_detail": (
            f"{format_time(int(t.ref_time))} · every {_fmt(TrackingStatus, t, 'update_interval')}"
            if t.ref_time
            else "no update yet"
        ),
    }


def _last_sample(s: Source) -> str:
    if not s.is_sampled():
        return "-"
    return (
        f"{format_offset(s.latest_meas)} [{format_offset(s.orig_latest_meas)}] "
        f"± {format_offset(s.latest_meas_err, signed=False)}"
    )


def source_view(s: Source) -> dict[str, Any]:
    """One row of the sources table."""
    symbol, state = _STATES[s.state]
    mode_symbol, mode = _MODES[s.mode]
    classes = [f"state-{state.replace(' ', '-')}"]
    if s.is_selected():
        classes.append("selected")
    if not s.is_reachable():
        classes.append("unreachable")
    name = s.name or s.address
    return {
        "key": s.address,
        "name": name,
        "address": s.address if s.address != name else "",
        "state": state,
        "state_symbol": symbol,
        "mode": mode,
        "mode_symbol": mode_symbol,
        "stratum": str(s.stratum),
        "poll": _fmt(Source, s, "poll"),
        "reach": format_reachability(s.reachability),
        "reach_bits": format_reachability(s.reachability, "bits"),
        "last_rx": format_duration(s.last_sample_ago),
        "last_sample": _last_sample(s),
        "classes": " ".join(classes),
    }


def sourcestats_view(st: SourceStats, names: dict[str, str], selected: set[str]) -> dict[str, Any]:
    """One row of the source statistics table."""
    name = names.get(st.address) or st.address
    return {
        "key": st.address,
        "name": name,
        "address": st.address if st.address != name else "",
        "samples": str(st.samples),
        "runs": str(st.runs),
        "span": _fmt(SourceStats, st, "span"),
        "offset": (
            f"{_fmt(SourceStats, st, 'offset')} ± {_fmt(SourceStats, st, 'offset_err')}"
            if st.samples
            else "-"
        ),
        "std_dev": _fmt(SourceStats, st, "std_dev") if st.samples else "-",
        "skew": _fmt(SourceStats, st, "skew"),
        "resid_freq": _fmt(SourceStats, st, "resid_freq"),
        "classes": "selected" if st.address in selected else "",
    }


def rtc_view(rtc: RTCData | None, now: float) -> dict[str, Any]:
    """The RTC section; ``configured`` False when chronyd does not track the RTC."""
    if rtc is None:
        return {"configured": False}
    return {
        "configured": True,
        "offset": _fmt(RTCData, rtc, "offset"),
        "drift": _fmt(RTCData, rtc, "freq_offset"),
        "samples": str(rtc.samples),
        "runs": str(rtc.runs),
        "span": _fmt(RTCData, rtc, "span"),
        "last_update": _ago(rtc.ref_time, now),
    }


def chart_view(points: list[tuple[float, float]], now: float, gap: float) -> dict[str, Any]:
    """Offset history for the chart: points as ``[seconds before now, offset]``; the
    time axis spans the history (at least a minute, at most ``CHART_WINDOW``); the line
    breaks where points are more than ``gap`` seconds apart (chronyd was away)."""
    scale = max((abs(o) for _, o in points), default=0.0) * 1.15 or 1e-6
    span = min(CHART_WINDOW, max(60.0, now - points[0][0] if points else 0.0))
    return {
        "window": span,
        "gap": gap,
        "window_label": f"\N{MINUS SIGN}{format_duration(span)}",
        "points": [[round(now - t, 3), o] for t, o in points],
        "scale": scale,
        "top_label": format_offset(scale),
        "bottom_label": format_offset(-scale),
        "latest": format_offset(points[-1][1]) if points else "-",
        "count": len(points),
    }


def view(reading: Reading, history: list[tuple[float, float]], gap: float = 10.0) -> dict[str, Any]:
    """Everything the page shows, as display strings (``gap``: see :func:`chart_view`)."""
    now = reading.taken_at
    values = reading.values
    tracking = values.get("tracking")
    sources: list[Source] | None = values.get("sources")
    stats: list[SourceStats] | None = values.get("sourcestats")
    names = {s.address: s.name for s in sources or () if s.name}
    selected = {s.address for s in sources or () if s.is_selected()}
    failure = reading.failure
    tracking_strings = tracking_view(tracking, now) if tracking is not None else None
    return {
        "ok": failure is None,
        "error": str(failure) if failure is not None else None,
        "errors": {name: str(exc) for name, exc in reading.errors.items()},
        "updated": time.strftime("%H:%M:%S", time.localtime(now)),
        "tracking": tracking_strings,
        "sync": (
            {k: v for k, v in tracking_strings.items() if k.startswith("sync_")}
            if tracking_strings
            else _UNKNOWN_SYNC
        ),
        "sources": [source_view(s) for s in sources] if sources is not None else None,
        "sourcestats": (
            [sourcestats_view(st, names, selected) for st in stats] if stats is not None else None
        ),
        "rtc": rtc_view(values["rtcdata"], now) if "rtcdata" in values else None,
        "chart": chart_view(history, now, gap),
    }


def snapshot(
    reading: Reading, history: list[tuple[float, float]], gap: float = 10.0
) -> dict[str, Any]:
    """``/api/snapshot``: the reports as stable JSON plus the page's view of them."""
    failure = reading.failure
    return {
        "ok": failure is None,
        "error": str(failure) if failure is not None else None,
        "errors": {name: str(exc) for name, exc in reading.errors.items()},
        "taken_at": reading.taken_at,
        "taken_at_iso": format_time(reading.taken_at),
        **{name: to_json(reading.values.get(name)) for name in SNAPSHOT_REPORTS},
        "view": view(reading, history, gap),
    }
