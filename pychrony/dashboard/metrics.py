"""Prometheus metrics: a collector that reads chronyd on every scrape.

Names, labels and units follow SuperQ/chrony_exporter where the two overlap
(``chrony_up``, ``chrony_tracking_*``, ``chrony_sources_*``, ``chrony_sourcestats_*``,
``chrony_serverstats_*_total``), so its dashboards and alerts keep working; the
extras are chrony's leap status and synchronisation, selectdata scores, smoothing,
activity and RTC tracking, and which report answered
(``chrony_scrape_collector_success``).

One report failing (serverstats not allowed over UDP, an old chronyd without
selectdata …) drops only that report's metrics; ``chrony_up`` is 0 only when chronyd
cannot be reached. A scrape never takes much longer than ``timeout * attempts``.
Never-sampled sources have no sample metrics rather than chronyd's 4294967295.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..models import (
    Activity,
    RTCData,
    SelectData,
    ServerStats,
    Smoothing,
    SmoothingFlags,
    Source,
    SourceMode,
    SourceState,
    SourceStats,
    TrackingStatus,
)
from .reader import ChronyReader

__all__ = ["METRIC_REPORTS", "ChronyCollector"]

#: Reports read on each scrape, in this order (tracking first: it tells chronyd is up).
METRIC_REPORTS = (
    "tracking",
    "sources",
    "sourcestats",
    "selectdata",
    "serverstats",
    "activity",
    "smoothing",
    "rtcdata",
)

# chrony_exporter's label values (facebook/time's chrony package) by wire value.
_EXPORTER_STATE = {
    SourceState.SELECTED: "sync",
    SourceState.NONSELECTABLE: "unreach",
    SourceState.FALSETICKER: "falseticker",
    SourceState.JITTERY: "jittery",
    SourceState.UNSELECTED: "candidate",
    SourceState.SELECTABLE: "outlier",
}
_EXPORTER_MODE = {
    SourceMode.CLIENT: "client",
    SourceMode.PEER: "peer",
    SourceMode.REFCLOCK: "reference clock",
}
# The reference chronyd uses for its own "local" clock (chrony_exporter's check).
_LOCAL_REFERENCE_IP = "127.127.1.1"
_SOURCE_LABELS = ["source_address", "source_name"]

# (metric name without chrony_serverstats_ and _total, ServerStats attribute, help)
_SERVERSTATS_COUNTERS = (
    ("ntp_packets_received", "ntp_requests", "Valid NTP requests received by the server."),
    ("nts_ke_connections_accepted", "nts_ke_connections", "NTS-KE connections accepted."),
    ("command_packets_received", "command_requests", "Command requests received."),
    ("ntp_packets_dropped", "dropped_ntp_requests", "NTP requests dropped by rate limiting."),
    ("nts_ke_connections_dropped", "dropped_nts_ke_connections", "NTS-KE connections dropped."),
    ("command_packets_dropped", "dropped_command_requests", "Command requests dropped."),
    ("client_log_records_dropped", "dropped_client_log_records", "Client log records dropped."),
    ("authenticated_ntp_packets", "authenticated_ntp_requests", "Authenticated NTP requests."),
    ("interleaved_ntp_packets", "interleaved_ntp_requests", "Interleaved NTP requests."),
    ("ntp_daemon_rx_timestamps", "daemon_rx_timestamps", "Receive timestamps by the daemon."),
    ("ntp_daemon_tx_timestamps", "daemon_tx_timestamps", "Transmit timestamps by the daemon."),
    ("ntp_kernel_rx_timestamps", "kernel_rx_timestamps", "Receive timestamps by the kernel."),
    ("ntp_kernel_tx_timestamps", "kernel_tx_timestamps", "Transmit timestamps by the kernel."),
    ("ntp_hw_rx_timestamps", "hw_rx_timestamps", "Receive timestamps by the NIC."),
    ("ntp_hw_tx_timestamps", "hw_tx_timestamps", "Transmit timestamps by the NIC."),
)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"chrony_{name}", doc, value=value)


def _tracking(t: TrackingStatus) -> Iterator[Metric]:
    info = GaugeMetricFamily(
        "chrony_tracking_info",
        "Chrony tracking info (the current reference).",
        labels=["tracking_address", "tracking_name", "tracking_refid"],
    )
    info.add_metric([t.reference_ip, t.reference_id_name, f"{t.reference_id:08X}"], 1.0)
    yield info
    yield _gauge("tracking_last_offset_seconds", "Last measured offset.", t.last_offset)
    yield _gauge(
        "tracking_reference_timestamp_seconds", "Time of the last update (epoch).", t.ref_time
    )
    yield _gauge(
        "tracking_system_time_seconds",
        "Offset of the system clock from true time (positive: fast).",
        t.offset,
    )
    yield _gauge(
        "tracking_remote_reference",
        "1 when synchronised to a remote source, not chronyd's local clock.",
        0.0 if t.reference_ip == _LOCAL_REFERENCE_IP else 1.0,
    )
    yield _gauge("tracking_rms_offset_seconds", "Long-term average of the offset.", t.rms_offset)
    yield _gauge("tracking_root_delay_seconds", "Network delay to the stratum 1.", t.root_delay)
    yield _gauge(
        "tracking_root_dispersion_seconds", "Dispersion accumulated to the root.", t.root_dispersion
    )
    yield _gauge("tracking_frequency_ppms", "Frequency error of the system clock.", t.frequency)
    yield _gauge(
        "tracking_residual_frequency_ppms", "Residual frequency of the reference.", t.residual_freq
    )
    yield _gauge("tracking_skew_ppms", "Error bound of the frequency.", t.skew)
    yield _gauge(
        "tracking_update_interval_seconds", "Interval between the last updates.", t.update_interval
    )
    yield _gauge("tracking_stratum", "Stratum of this host.", float(t.stratum))
    yield _gauge(
        "tracking_leap_status",
        "Leap status: 0 normal, 1 insert second, 2 delete second, 3 unsynchronised.",
        float(t.leap_status.value),
    )
    yield _gauge(
        "tracking_synchronized",
        "1 when chronyd has a reference and a stratum below 16.",
        float(t.is_synchronized()),
    )


def _source_name(s: Source) -> str:
    if s.mode is SourceMode.REFCLOCK:
        return s.address  # the reference ID's name, "GPS", "PPS"
    return s.name or s.address


def _sources(sources: list[Source]) -> Iterator[Metric]:
    def family(name: str, doc: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"chrony_sources_{name}", doc, labels=_SOURCE_LABELS)

    age = family("last_sample_age_seconds", "Age of the last good sample.")
    ratio = family("reachability_ratio", "Share of the last 8 polls that were answered.")
    success = family("reachability_success", "1 when the last poll was answered.")
    reach = family("reachability", "The reachability register (last 8 polls, newest bit 0).")
    offset = family("last_sample_offset_seconds", "Offset of the last sample.")
    err = family("last_sample_error_margin_seconds", "Error margin of the last sample.")
    poll = family("polling_interval_seconds", "Polling interval.")
    stratum = family("stratum", "Stratum of the source.")
    state = GaugeMetricFamily(
        "chrony_sources_state_info",
        "Source state and mode (source_state as chrony_exporter names it).",
        labels=[*_SOURCE_LABELS, "source_state", "source_mode", "state"],
    )
    for s in sources:
        labels = [s.address, _source_name(s)]
        if s.is_sampled():
            age.add_metric(labels, float(s.last_sample_ago))
            offset.add_metric(labels, s.latest_meas)
            err.add_metric(labels, s.latest_meas_err)
        ratio.add_metric(labels, bin(s.reachability & 0xFF).count("1") / 8)
        success.add_metric(labels, float(s.reachability & 1))
        reach.add_metric(labels, float(s.reachability))
        poll.add_metric(labels, 2.0**s.poll)
        stratum.add_metric(labels, float(s.stratum))
        state.add_metric(
            [*labels, _EXPORTER_STATE[s.state], _EXPORTER_MODE[s.mode], s.state.name.lower()],
            1.0,
        )
    yield from (age, ratio, success, reach, offset, err, poll, state, stratum)


def _sourcestats(stats: list[SourceStats], names: dict[str, str]) -> Iterator[Metric]:
    def family(name: str, doc: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"chrony_sourcestats_{name}", doc, labels=_SOURCE_LABELS)

    rows = (
        (family("samples", "Sample points retained (NP)."), "samples"),
        (family("runs", "Runs of residuals with the same sign (NR)."), "runs"),
        (family("span_seconds", "Interval between the oldest and newest samples."), "span"),
        (family("stddev", "Estimated sample standard deviation (seconds)."), "std_dev"),
        (family("frequency_ppms", "Estimated residual frequency."), "resid_freq"),
        (family("frequency_skew_ppms", "Error bound of the frequency."), "skew"),
        (family("offset", "Estimated offset of the source (seconds)."), "offset"),
        (family("offset_error_seconds", "Error bound of the estimated offset."), "offset_err"),
    )
    for st in stats:
        labels = [st.address, names.get(st.address, st.address)]
        for metric, attr in rows:
            metric.add_metric(labels, float(getattr(st, attr)))
    yield from (metric for metric, _ in rows)


def _selectdata(records: list[SelectData], names: dict[str, str]) -> Iterator[Metric]:
    score = GaugeMetricFamily(
        "chrony_selectdata_score", "Selection score (lower is better).", labels=_SOURCE_LABELS
    )
    low = GaugeMetricFamily(
        "chrony_selectdata_low_limit_seconds",
        "Low end of the source's offset interval.",
        labels=_SOURCE_LABELS,
    )
    high = GaugeMetricFamily(
        "chrony_selectdata_high_limit_seconds",
        "High end of the source's offset interval.",
        labels=_SOURCE_LABELS,
    )
    state = GaugeMetricFamily(
        "chrony_selectdata_state_info",
        "Selection state (chronyc selectdata's state character and name).",
        labels=[*_SOURCE_LABELS, "state", "state_char"],
    )
    for r in records:
        labels = [r.address, names.get(r.address, r.address)]
        score.add_metric(labels, r.score)
        low.add_metric(labels, r.low_limit)
        high.add_metric(labels, r.high_limit)
        state.add_metric([*labels, r.state.name.lower(), r.state.char], 1.0)
    yield from (score, low, high, state)


def _serverstats(stats: ServerStats) -> Iterator[Metric]:
    for name, attr, doc in _SERVERSTATS_COUNTERS:
        value = getattr(stats, attr)
        if value is not None:
            yield CounterMetricFamily(f"chrony_serverstats_{name}", doc, value=float(value))
    if stats.held_ntp_timestamps is not None:
        yield _gauge(
            "serverstats_ntp_timestamps_held",
            "Pairs of timestamps held for interleaved clients.",
            float(stats.held_ntp_timestamps),
        )
    if stats.ntp_timestamp_span is not None:
        yield _gauge(
            "serverstats_ntp_timestamp_span_seconds",
            "Interval covered by the held timestamps.",
            float(stats.ntp_timestamp_span),
        )


def _activity(activity: Activity) -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "chrony_activity_sources", "Sources by activity (chronyc activity).", labels=["activity"]
    )
    for attr in ("online", "offline", "burst_online", "burst_offline", "unresolved"):
        family.add_metric([attr], float(getattr(activity, attr)))
    yield family


def _smoothing(sm: Smoothing) -> Iterator[Metric]:
    yield _gauge(
        "smoothing_active",
        "1 while time smoothing is active.",
        float(SmoothingFlags.ACTIVE in sm.flags),
    )
    yield _gauge(
        "smoothing_leap_only",
        "1 when smoothing applies to leap seconds only.",
        float(SmoothingFlags.LEAP_ONLY in sm.flags),
    )
    yield _gauge("smoothing_offset_seconds", "Offset still being smoothed.", sm.offset)
    yield _gauge("smoothing_frequency_ppms", "Frequency offset of smoothing.", sm.freq_offset)
    for attr, name, doc in (
        ("wander", "smoothing_wander_ppm_per_second", "Wander of the smoothing frequency."),
        ("last_update_ago", "smoothing_last_update_age_seconds", "Age of the last update."),
        ("remaining_time", "smoothing_remaining_seconds", "Time until smoothing is done."),
    ):
        value = getattr(sm, attr, None)
        if value is not None:
            yield _gauge(name, doc, float(value))


def _rtc(rtc: RTCData | None) -> Iterator[Metric]:
    yield _gauge(
        "rtc_tracked", "1 when chronyd tracks the real-time clock.", float(rtc is not None)
    )
    if rtc is None:
        return
    yield _gauge("rtc_offset_seconds", "Offset of the RTC from the system clock.", rtc.offset)
    yield _gauge("rtc_frequency_ppms", "Drift rate of the RTC.", rtc.freq_offset)
    yield _gauge("rtc_samples", "RTC samples retained.", float(rtc.samples))
    yield _gauge("rtc_reference_timestamp_seconds", "Time of the last RTC sample.", rtc.ref_time)


class ChronyCollector(Collector):
    """A prometheus_client collector reading chronyd through a :class:`ChronyReader`."""

    def __init__(self, reader: ChronyReader) -> None:
        self.reader = reader

    def describe(self) -> list[Metric]:
        """No fixed description: metrics depend on what chronyd answers."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Read chronyd once and yield every metric it allows."""
        reading = self.reader.read(METRIC_REPORTS)
        values = reading.values
        sources: list[Source] = values.get("sources") or []
        names = {s.address: _source_name(s) for s in sources}
        builders: dict[str, Callable[[Any], Iterator[Metric]]] = {
            "tracking": _tracking,
            "sources": _sources,
            "sourcestats": lambda v: _sourcestats(v, names),
            "selectdata": lambda v: _selectdata(v, names),
            "serverstats": _serverstats,
            "activity": _activity,
            "smoothing": _smoothing,
            "rtcdata": _rtc,
        }
        yield _gauge("up", "Whether chronyd answered.", float(reading.up))
        success = GaugeMetricFamily(
            "chrony_scrape_collector_success",
            "1 when the report answered in this scrape.",
            labels=["collector"],
        )
        for name in METRIC_REPORTS:
            success.add_metric([name], float(name in values))
            if name in values:
                yield from builders[name](values[name])
        yield success
