"""Pure per-report metric builders: pychrony's dataclasses in, metric families out.

No I/O, no state: each takes what one report returned (and the source names
where it labels sources) and yields the families of :mod:`.families`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..models import (
    NEVER_SAMPLED,
    NO_INTERVAL,
    Activity,
    Client,
    NTPData,
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
from .families import CLIENTS_DROP_BUCKETS, CLIENTS_TIME_BUCKETS, new_family, new_histogram

__all__ = [
    "activity",
    "clients",
    "ntpdata",
    "rtcdata",
    "selectdata",
    "serverstats",
    "smoothing",
    "source_names",
    "sources",
    "sourcestats",
    "tracking",
]

# chrony_exporter's label values (facebook/time's chrony package) by wire value.
EXPORTER_STATE = {
    SourceState.SELECTED: "sync",
    SourceState.NONSELECTABLE: "unreach",
    SourceState.FALSETICKER: "falseticker",
    SourceState.JITTERY: "jittery",
    SourceState.UNSELECTED: "candidate",
    SourceState.SELECTABLE: "outlier",
}
EXPORTER_MODE = {
    SourceMode.CLIENT: "client",
    SourceMode.PEER: "peer",
    SourceMode.REFCLOCK: "reference clock",
}
#: The reference chronyd uses for its own "local" clock (chrony_exporter's check).
LOCAL_REFERENCE_IP = "127.127.1.1"
#: How pychrony spells a source whose name chronyd has not resolved yet.
_UNRESOLVED_PREFIX = "ID#"

# (ServerStats attribute, family) in chrony_exporter's order; None: not in this chronyd.
_SERVERSTATS = (
    ("ntp_requests", "ntp_packets_received_total"),
    ("nts_ke_connections", "nts_ke_connections_accepted_total"),
    ("command_requests", "command_packets_received_total"),
    ("dropped_ntp_requests", "ntp_packets_dropped_total"),
    ("dropped_nts_ke_connections", "nts_ke_connections_dropped_total"),
    ("dropped_command_requests", "command_packets_dropped_total"),
    ("dropped_client_log_records", "client_log_records_dropped_total"),
    ("authenticated_ntp_requests", "authenticated_ntp_packets_total"),
    ("interleaved_ntp_requests", "interleaved_ntp_packets_total"),
    ("held_ntp_timestamps", "ntp_timestamps_held"),
    ("ntp_timestamp_span", "ntp_timestamp_span_seconds"),
    ("daemon_rx_timestamps", "ntp_daemon_rx_timestamps_total"),
    ("daemon_tx_timestamps", "ntp_daemon_tx_timestamps_total"),
    ("kernel_rx_timestamps", "ntp_kernel_rx_timestamps_total"),
    ("kernel_tx_timestamps", "ntp_kernel_tx_timestamps_total"),
    ("hw_rx_timestamps", "ntp_hw_rx_timestamps_total"),
    ("hw_tx_timestamps", "ntp_hw_tx_timestamps_total"),
)


def _one(name: str, value: float, labels: Iterable[str] = ()) -> Metric:
    family = new_family(name)
    family.add_metric(list(labels), value)
    return family


def source_names(sources: Iterable[Source], configured: bool = True) -> dict[str, str]:
    """``source_name`` by address: refclocks by reference ID, NTP sources by the name
    they were configured with (``configured``) or else their address."""
    names = {}
    for s in sources:
        names[s.address] = (s.name or s.address) if configured else s.address
    return names


def tracking(t: TrackingStatus, names: Mapping[str, str]) -> Iterator[Metric]:
    """chronyc tracking."""
    if t.reference_ip:
        address, name = t.reference_ip, names.get(t.reference_ip, t.reference_ip)
    else:  # a refclock, chronyd's local reference or none: named by reference ID
        address = name = t.reference_id_name
    yield _one("chrony_tracking_info", 1.0, (address, name, f"{t.reference_id:08X}"))
    for family, value in (
        ("last_offset_seconds", t.last_offset),
        ("reference_timestamp_seconds", t.ref_time),
        ("system_time_seconds", t.offset),
        ("remote_reference", float(t.reference_ip != LOCAL_REFERENCE_IP)),
        ("rms_offset_seconds", t.rms_offset),
        ("root_delay_seconds", t.root_delay),
        ("root_dispersion_seconds", t.root_dispersion),
        ("frequency_ppms", t.frequency),
        ("residual_frequency_ppms", t.residual_freq),
        ("skew_ppms", t.skew),
        ("update_interval_seconds", t.update_interval),
        ("stratum", float(t.stratum)),
        ("leap_status", float(t.leap_status.value)),
        ("synchronized", float(t.is_synchronized())),
    ):
        yield _one(f"chrony_tracking_{family}", value)


def _per_source(*names: str) -> list[GaugeMetricFamily | CounterMetricFamily]:
    return [new_family(f"chrony_{name}") for name in names]


def _source_labels(address: str, names: Mapping[str, str]) -> list[str]:
    """A source's ``source_address`` and ``source_name`` label values."""
    return [address, names.get(address, address)]


def _per_source_values(
    records: Iterable[object],
    address: str,
    names: Mapping[str, str],
    rows: tuple[tuple[str, str], ...],
) -> Iterator[Metric]:
    """One family per ``(family, attribute)`` of ``rows``, a sample per record, labelled
    by the record's ``address`` attribute."""
    families = _per_source(*(name for name, _ in rows))
    for record in records:
        labels = _source_labels(getattr(record, address), names)
        for family, (_, attr) in zip(families, rows, strict=True):
            family.add_metric(labels, float(getattr(record, attr)))
    yield from families


def sources(records: Iterable[Source], names: Mapping[str, str]) -> Iterator[Metric]:
    """chronyc sources; unresolved sources are left out, as chrony_exporter does."""
    age, ratio, success, reach, offset, err, poll, state, stratum = _per_source(
        "sources_last_sample_age_seconds",
        "sources_reachability_ratio",
        "sources_reachability_success",
        "sources_reachability",
        "sources_last_sample_offset_seconds",
        "sources_last_sample_error_margin_seconds",
        "sources_polling_interval_seconds",
        "sources_state_info",
        "sources_stratum",
    )
    for s in records:
        if s.address.startswith(_UNRESOLVED_PREFIX):
            continue
        labels = _source_labels(s.address, names)
        if s.is_sampled():
            age.add_metric(labels, float(s.last_sample_ago))
            offset.add_metric(labels, s.latest_meas)
            err.add_metric(labels, s.latest_meas_err)
        ratio.add_metric(labels, (s.reachability & 0xFF).bit_count() / 8)
        success.add_metric(labels, float(s.reachability & 1))
        reach.add_metric(labels, float(s.reachability))
        poll.add_metric(labels, 2.0**s.poll)
        state.add_metric([*labels, EXPORTER_STATE[s.state], EXPORTER_MODE[s.mode]], 1.0)
        stratum.add_metric(labels, float(s.stratum))
    yield from (age, ratio, success, reach, offset, err, poll, state, stratum)


def ntpdata(records: Iterable[NTPData], names: Mapping[str, str]) -> Iterator[Metric]:
    """chronyc ntpdata, as chrony_exporter's ``--collector.sources.with-ntpdata``."""
    rows = (
        ("sources_peer_offset_seconds", "offset"),
        ("sources_peer_delay_seconds", "peer_delay"),
        ("sources_peer_dispersion_seconds", "peer_dispersion"),
        ("sources_peer_response_time_seconds", "response_time"),
        ("sources_peer_jitter_asymmetry_seconds", "jitter_asymmetry"),
    )
    return _per_source_values(records, "remote_address", names, rows)


def sourcestats(records: Iterable[SourceStats], names: Mapping[str, str]) -> Iterator[Metric]:
    """chronyc sourcestats."""
    rows = (
        ("sourcestats_samples", "samples"),
        ("sourcestats_runs", "runs"),
        ("sourcestats_span_seconds", "span"),
        ("sourcestats_stddev", "std_dev"),
        ("sourcestats_frequency_ppms", "resid_freq"),
        ("sourcestats_frequency_skew_ppms", "skew"),
        ("sourcestats_offset", "offset"),
        ("sourcestats_offset_error_seconds", "offset_err"),
    )
    return _per_source_values(records, "address", names, rows)


def selectdata(records: Iterable[SelectData], names: Mapping[str, str]) -> Iterator[Metric]:
    """chronyc selectdata."""
    score, low, high, state = _per_source(
        "selectdata_score",
        "selectdata_low_limit_seconds",
        "selectdata_high_limit_seconds",
        "selectdata_state_info",
    )
    for r in records:
        labels = _source_labels(r.address, names)
        score.add_metric(labels, r.score)
        low.add_metric(labels, r.low_limit)
        high.add_metric(labels, r.high_limit)
        state.add_metric([*labels, r.state.name.lower(), r.state.char], 1.0)
    yield from (score, low, high, state)


def serverstats(stats: ServerStats) -> Iterator[Metric]:
    """chronyc serverstats: the counters this chronyd reports."""
    for attr, name in _SERVERSTATS:
        value = getattr(stats, attr)
        if value is not None:
            yield _one(f"chrony_serverstats_{name}", float(value))


def activity(a: Activity) -> Iterator[Metric]:
    """chronyc activity."""
    family = new_family("chrony_activity_sources")
    for attr in ("online", "offline", "burst_online", "burst_offline", "unresolved"):
        family.add_metric([attr], float(getattr(a, attr)))
    yield family


def smoothing(sm: Smoothing) -> Iterator[Metric]:
    """chronyc smoothing."""
    yield _one("chrony_smoothing_active", float(SmoothingFlags.ACTIVE in sm.flags))
    yield _one("chrony_smoothing_leap_only", float(SmoothingFlags.LEAP_ONLY in sm.flags))
    yield _one("chrony_smoothing_offset_seconds", sm.offset)
    yield _one("chrony_smoothing_frequency_ppms", sm.freq_offset)
    yield _one("chrony_smoothing_wander_ppm_per_second", sm.wander)
    yield _one("chrony_smoothing_last_update_age_seconds", sm.last_update_ago)
    yield _one("chrony_smoothing_remaining_seconds", sm.remaining_time)


def rtcdata(rtc: RTCData | None) -> Iterator[Metric]:
    """chronyc rtcdata; None (RTC not tracked) gives chrony_rtc_tracked 0 alone."""
    yield _one("chrony_rtc_tracked", float(rtc is not None))
    if rtc is None:
        return
    yield _one("chrony_rtc_offset_seconds", rtc.offset)
    yield _one("chrony_rtc_frequency_ppms", rtc.freq_offset)
    yield _one("chrony_rtc_samples", float(rtc.samples))
    yield _one("chrony_rtc_reference_timestamp_seconds", rtc.ref_time)


def clients(records: Iterable[Client]) -> Iterator[Metric]:
    """chronyc clients, aggregated as chrony_exporter does: how many clients per
    protocol, and histograms of their last NTP hit, NTP interval and NTP drops."""
    protocols = {"ntp": 0, "nts": 0}
    last_hits: list[float] = []
    intervals: list[float] = []
    drops: list[float] = []
    for c in records:
        protocols["nts" if c.nke_hits else "ntp"] += 1
        if c.ntp_hits or c.ntp_drops:
            drops.append(float(c.ntp_drops))
        if not c.ntp_hits:
            continue
        if c.last_ntp_hit_ago != NEVER_SAMPLED:
            last_hits.append(float(c.last_ntp_hit_ago))
        if c.ntp_interval < NO_INTERVAL:
            intervals.append(2.0**c.ntp_interval)
    connected = new_family("chrony_clients_connected")
    for protocol, count in protocols.items():
        connected.add_metric([protocol], float(count))
    yield connected
    for name, values, bounds in (
        ("last_ntp_hit_ago_seconds", last_hits, CLIENTS_TIME_BUCKETS),
        ("ntp_interval_seconds", intervals, CLIENTS_TIME_BUCKETS),
        ("ntp_drops", drops, CLIENTS_DROP_BUCKETS),
    ):
        family = new_histogram(f"chrony_clients_{name}")
        buckets = [(f"{b:g}", float(sum(v <= b for v in values))) for b in bounds]
        family.add_metric([], [*buckets, ("+Inf", float(len(values)))], sum(values))
        yield family
