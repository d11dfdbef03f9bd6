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
from .charts import charts, clock
from .history import History
from .reader import Known, Reading

__all__ = ["DASH", "SNAPSHOT_REPORTS", "as_of", "has_regression", "snapshot", "view"]

#: Reports the page shows (one snapshot reads them together).
SNAPSHOT_REPORTS = ("tracking", "sources", "sourcestats", "rtcdata")
#: What the page shows where there is no value (a placeholder is not data).
DASH = "\N{EN DASH}"
#: chronyd's stand-ins while a source has no regression (fewer than 3 samples, or the
#: fit failed): sourcestats.c sets skew to WORST_CASE_FREQ_BOUND (2000 ppm) and the
#: standard deviation to WORST_CASE_STDDEV_BOUND (4 s); with no sample at all the
#: offset, its error and the span are 0 as well. Both are exact in chrony's wire float.
NO_REGRESSION_SKEW_PPM = 2000.0
NO_REGRESSION_STD_DEV = 4.0

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
    "sync_detail": "no answer from chronyd yet",
}


def _fmt(model: type, record: Any, attr: str) -> str:
    return format_value(model, attr, getattr(record, attr))


def _ago(epoch: float, now: float) -> str:
    if not epoch:
        return "never"
    age = now - epoch
    return "just now" if age < 1 else f"{format_duration(age)} ago"


def as_of(epoch: float, now: float) -> str:
    """``as of 12:01:07, 43s ago``: when a last-known value was read."""
    return f"as of {clock(epoch)}, {_ago(epoch, now)}"


def has_regression(st: SourceStats) -> bool:
    """False while chronyd reports its worst-case stand-ins instead of a fit."""
    return not (
        st.samples == 0
        or (st.skew == NO_REGRESSION_SKEW_PPM and st.std_dev == NO_REGRESSION_STD_DEV)
    )


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
        # chronyd reports stratum 0 and reference ID 0 while unsynchronised.
        "stratum_detail": "hops from a reference clock" if synced else "unsynchronised",
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
        return DASH
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
    if not s.is_sampled():
        classes.append("placeholder")
    name = s.name or s.address
    return {
        "key": s.address,
        "name": name,
        "address": s.address if s.address != name else "",
        "state": state,
        "state_symbol": symbol,
        "mode": mode,
        "mode_symbol": mode_symbol,
        # chronyd reports stratum 0 for a source it never sampled (sourcestats.c).
        "stratum": str(s.stratum) if s.is_sampled() else DASH,
        "poll": _fmt(Source, s, "poll"),
        "reach": format_reachability(s.reachability),
        "reach_bits": format_reachability(s.reachability, "bits"),
        "last_rx": format_duration(s.last_sample_ago) if s.is_sampled() else DASH,
        "last_sample": _last_sample(s),
        "classes": " ".join(classes),
    }


def sourcestats_view(
    st: SourceStats, names: dict[str, str], selected: set[str], unsampled: set[str]
) -> dict[str, Any]:
    """One row of the source statistics table: chronyd's stand-ins as dashes, the row
    dimmed when the source was never sampled (``unsampled``: by the sources report)."""
    name = names.get(st.address) or st.address
    fitted = has_regression(st)
    if not st.samples:
        offset = DASH
    elif fitted:
        offset = f"{_fmt(SourceStats, st, 'offset')} ± {_fmt(SourceStats, st, 'offset_err')}"
    else:  # the last sample's offset; its error holds the 4 s stand-in
        offset = _fmt(SourceStats, st, "offset")
    classes = []
    if st.address in selected:
        classes.append("selected")
    if not st.samples or st.address in unsampled:
        classes.append("placeholder")
    return {
        "key": st.address,
        "name": name,
        "address": st.address if st.address != name else "",
        "samples": str(st.samples),
        "runs": str(st.runs),
        "span": _fmt(SourceStats, st, "span") if st.samples else DASH,
        "offset": offset,
        "std_dev": _fmt(SourceStats, st, "std_dev") if fitted else DASH,
        "skew": _fmt(SourceStats, st, "skew") if fitted else DASH,
        "resid_freq": _fmt(SourceStats, st, "resid_freq") if fitted else DASH,
        "classes": " ".join(classes),
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


def _pick(name: str, reading: Reading, known: dict[str, Known]) -> Known | None:
    """The report's value from this reading, else its last known one, else None."""
    if name in reading.values:
        return Known(reading.values[name], reading.taken_at)
    return known.get(name)


def _sync(tracking: Known | None, fresh: bool, strings: dict[str, Any] | None, now: float) -> Any:
    if strings is None or tracking is None:
        return _UNKNOWN_SYNC
    sync = {k: v for k, v in strings.items() if k.startswith("sync_")}
    if fresh:
        return sync
    return {
        "sync_label": "Unknown",
        "sync_class": "bad",
        "sync_detail": (
            f"last known: {sync['sync_label'].lower()} {sync['sync_detail']}, "
            f"{as_of(tracking.taken_at, now)}"
        ),
    }


def status_view(
    reading: Reading, last_success: float | None, last_attempt: float | None, now: float
) -> dict[str, Any]:
    """The header: the last successful read and the last attempt, told apart."""
    failure = reading.failure
    state = "live" if failure is None else "stale" if last_success else "never"
    return {
        "state": state,
        "last_read": clock(last_success) if last_success else "never",
        "last_read_ago": _ago(last_success, now) if last_success else "",
        "last_attempt": clock(last_attempt) if last_attempt else "never",
        "hint": (
            "Retrying every few seconds."
            if state == "live"
            else f"Retrying every few seconds; the values below are the last known, "
            f"{as_of(last_success, now)}."
            if last_success
            else "Retrying every few seconds; no data from chronyd yet."
        ),
    }


def view(
    reading: Reading,
    known: dict[str, Known],
    history: History,
    *,
    last_success: float | None = None,
    last_attempt: float | None = None,
    gap: float = 10.0,
    now: float | None = None,
) -> dict[str, Any]:
    """Everything the page shows, as display strings.

    Each report comes from ``reading`` when it answered, else from ``known`` (its last
    good value, marked stale with its age in ``stale``), else it is None: no data yet.
    ``gap``: seconds between tracking points after which the charts' lines break.
    """
    now = time.time() if now is None else now
    picks = {name: _pick(name, reading, known) for name in SNAPSHOT_REPORTS}
    stale = {
        name: as_of(k.taken_at, now)
        for name, k in picks.items()
        if k is not None and name not in reading.values
    }
    tracking, sources_k, stats_k, rtc_k = (picks[name] for name in SNAPSHOT_REPORTS)
    sources: list[Source] | None = sources_k.value if sources_k else None
    stats: list[SourceStats] | None = stats_k.value if stats_k else None
    names = {s.address: s.name for s in sources or () if s.name}
    selected = {s.address for s in sources or () if s.is_selected()}
    unsampled = {s.address for s in sources or () if not s.is_sampled()}
    failure = reading.failure
    # Ages of chronyd's own timestamps (its last clock update, the RTC's) count to
    # now, also for last-known values: "12s ago" stays true of that timestamp.
    strings = tracking_view(tracking.value, now) if tracking else None
    return {
        "ok": failure is None,
        "error": str(failure) if failure is not None else None,
        "errors": {name: str(exc) for name, exc in reading.errors.items()},
        "status": status_view(reading, last_success, last_attempt, now),
        "stale": stale,
        "tracking": strings,
        "sync": _sync(tracking, "tracking" not in stale, strings, now),
        "sources": [source_view(s) for s in sources] if sources is not None else None,
        "sourcestats": (
            [sourcestats_view(st, names, selected, unsampled) for st in stats]
            if stats is not None
            else None
        ),
        "rtc": rtc_view(rtc_k.value, now) if rtc_k else None,
        "charts": charts(history, names, selected, now, gap),
    }


def snapshot(reading: Reading, page: dict[str, Any]) -> dict[str, Any]:
    """``/api/snapshot``: the reports of ``reading`` as stable JSON (null where they
    did not answer) plus ``page``, the page's :func:`view`."""
    failure = reading.failure
    return {
        "ok": failure is None,
        "error": str(failure) if failure is not None else None,
        "errors": {name: str(exc) for name, exc in reading.errors.items()},
        "taken_at": reading.taken_at,
        "taken_at_iso": format_time(reading.taken_at),
        **{name: to_json(reading.values.get(name)) for name in SNAPSHOT_REPORTS},
        "view": page,
    }
