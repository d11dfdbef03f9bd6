"""Every metric family the exporter can emit: name, type, labels, HELP, equivalents.

One table, read by the builders (:mod:`.builders`), the collector's per-collector
grouping and ``docs/metrics.md`` (``ci/metrics_reference.py``). Names, types and
labels follow SuperQ/chrony_exporter where it has the family; ours beyond it keep
their own names. Every HELP text names the chronyc line it matches and says which
way the sign points where a value has one (checked against chronyc's client.c).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

__all__ = [
    "CLIENTS_DROP_BUCKETS",
    "CLIENTS_TIME_BUCKETS",
    "FAMILIES",
    "FAMILIES_BY_NAME",
    "SOURCE_LABELS",
    "Family",
    "empty_family",
    "new_family",
    "new_histogram",
]

Kind = Literal["gauge", "counter", "histogram"]

#: The labels of every per-source family (chrony_exporter's).
SOURCE_LABELS = ("source_address", "source_name")


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family as the exporter emits it.

    ``collector``: the ``--collector.<name>`` that emits it (also the value of
    ``chrony_scrape_collector_success``'s label); ``chrony_exporter``: True when
    SuperQ/chrony_exporter has the family with this name, type and labels;
    ``telegraf``: Telegraf's chrony input ``measurement.field`` carrying the same
    value; ``note``: where we differ from either.
    """

    name: str
    kind: Kind
    collector: str
    help: str
    labels: tuple[str, ...] = ()
    chrony_exporter: bool = True
    telegraf: str = ""
    note: str = ""


def _g(name: str, collector: str, help: str, **kw: object) -> Family:
    return Family(f"chrony_{name}", "gauge", collector, help, **kw)  # type: ignore[arg-type]


def _src(name: str, collector: str, help: str, **kw: object) -> Family:
    return _g(name, collector, help, labels=SOURCE_LABELS, **kw)


def _counter(name: str, help: str, telegraf: str) -> Family:
    return Family(
        f"chrony_serverstats_{name}_total",
        "counter",
        "serverstats",
        help,
        telegraf=f"chrony_serverstats.{telegraf}",
    )


#: Upper bounds of chrony_exporter's clients histograms: seconds (last hit, interval)
#: and NTP drops per client.
CLIENTS_TIME_BUCKETS = (1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0, 86400.0)
CLIENTS_DROP_BUCKETS = (0.0, 1.0, 2.0, 5.0, 10.0, 50.0, 100.0)


def _histogram(name: str, help: str) -> Family:
    return Family(f"chrony_clients_{name}", "histogram", "clients", help)


_SIGN_SOURCES = "positive: the local clock is ahead of (fast of) the source"

FAMILIES: tuple[Family, ...] = (
    # -- the scrape itself ---------------------------------------------------------
    _g(
        "up",
        "scrape",
        "1 when chronyd answered at least one report in this scrape, 0 when it could not "
        "be reached or answered nothing before the scrape's deadline.",
        note="chrony_exporter also gives 0 when any enabled collector failed; here a "
        "collector's failure shows in chrony_scrape_collector_success only.",
    ),
    _g(
        "scrape_collector_success",
        "scrape",
        "1 when the collector's report answered in this scrape, 0 when it failed or "
        "missed the scrape's deadline.",
        labels=("collector",),
        chrony_exporter=False,
    ),
    # -- a probe of another chronyd (GET /probe?target=…) ------------------------------
    _g(
        "probe_duration_seconds",
        "probe",
        "Seconds the probe of the target took, from the request's arrival to its last "
        "report (blackbox_exporter's probe_duration_seconds).",
        chrony_exporter=False,
    ),
    # -- tracking -----------------------------------------------------------------
    _g(
        "tracking_info",
        "tracking",
        "The reference chronyd tracks (chronyc tracking: Reference ID), value 1: its "
        "address, name and reference ID in hex.",
        labels=("tracking_address", "tracking_name", "tracking_refid"),
        telegraf="chrony (tag reference_id)",
        note="tracking_name is the source's configured name (chronyc -N), not a reverse "
        "DNS lookup; the address when --no-collector.dns-lookups.",
    ),
    _g(
        "tracking_last_offset_seconds",
        "tracking",
        "Estimated offset of the system clock at the last clock update, seconds; "
        "positive: the clock was ahead of (fast of) true time (chronyc tracking: "
        "Last offset).",
        telegraf="chrony.last_offset",
    ),
    _g(
        "tracking_reference_timestamp_seconds",
        "tracking",
        "When the last measurement from the reference source was processed, Unix "
        "seconds (chronyc tracking: Ref time).",
    ),
    _g(
        "tracking_system_time_seconds",
        "tracking",
        "chronyd's remaining correction of the system clock, seconds: negative when the "
        "clock is fast of NTP time, positive when it is slow (chronyc tracking: System "
        "time).",
        telegraf="chrony.system_time",
        note="Telegraf's older input, which parsed chronyc's text, gave the opposite sign.",
    ),
    _g(
        "tracking_remote_reference",
        "tracking",
        "1 unless the reference is chronyd's own local clock (127.127.1.1).",
    ),
    _g(
        "tracking_rms_offset_seconds",
        "tracking",
        "Long-term average (RMS) of the offset, seconds (chronyc tracking: RMS offset).",
        telegraf="chrony.rms_offset",
    ),
    _g(
        "tracking_root_delay_seconds",
        "tracking",
        "Total network path delay to the stratum-1 source, seconds (chronyc tracking: Root delay).",
        telegraf="chrony.root_delay",
    ),
    _g(
        "tracking_root_dispersion_seconds",
        "tracking",
        "Total dispersion accumulated back to the stratum-1 source, seconds (chronyc "
        "tracking: Root dispersion).",
        telegraf="chrony.root_dispersion",
    ),
    _g(
        "tracking_frequency_ppms",
        "tracking",
        "Rate at which the system clock would be wrong without chronyd's correction, "
        "ppm; positive: it would run fast (chronyc tracking: Frequency … fast/slow).",
        telegraf="chrony.frequency",
    ),
    _g(
        "tracking_residual_frequency_ppms",
        "tracking",
        "Difference between the frequency the reference's measurements suggest and the "
        "one in use, ppm (chronyc tracking: Residual freq).",
        telegraf="chrony.residual_freq",
    ),
    _g(
        "tracking_skew_ppms",
        "tracking",
        "Estimated error bound of the frequency, ppm (chronyc tracking: Skew).",
        telegraf="chrony.skew",
    ),
    _g(
        "tracking_update_interval_seconds",
        "tracking",
        "Interval between the last two clock updates, seconds (chronyc tracking: Update interval).",
        telegraf="chrony.update_interval",
    ),
    _g(
        "tracking_stratum",
        "tracking",
        "Stratum of this host (chronyc tracking: Stratum).",
        telegraf="chrony (tag stratum)",
    ),
    _g(
        "tracking_leap_status",
        "tracking",
        "Leap status: 0 normal, 1 insert second, 2 delete second, 3 not synchronised "
        "(chronyc tracking: Leap status).",
        chrony_exporter=False,
        telegraf="chrony (tag leap_status)",
    ),
    _g(
        "tracking_synchronized",
        "tracking",
        "1 when chronyd has a reference (ID not 0) and a stratum below 16.",
        chrony_exporter=False,
    ),
    # -- sources ------------------------------------------------------------------
    _src(
        "sources_last_sample_age_seconds",
        "sources",
        "Seconds since the last good sample from the source (chronyc sources: LastRx).",
        telegraf="chrony_sources.sample",
        note="Absent for a source never sampled (chrony_exporter gives 4294967295).",
    ),
    _src(
        "sources_reachability_ratio",
        "sources",
        "Share of the last 8 polls the source answered (set bits of chronyc sources' Reach / 8).",
    ),
    _src(
        "sources_reachability_success",
        "sources",
        "1 when the source answered the last poll (bit 0 of chronyc sources' Reach).",
    ),
    _src(
        "sources_reachability",
        "sources",
        "The reachability register: the last 8 polls, newest in bit 0 (chronyc sources: "
        "Reach, printed in octal).",
        chrony_exporter=False,
        telegraf="chrony_sources.reachability",
    ),
    _src(
        "sources_last_sample_offset_seconds",
        "sources",
        "Offset of the last sample, adjusted for clock corrections since, seconds; "
        f"{_SIGN_SOURCES} (chronyc sources: Last sample).",
        telegraf="chrony_sources.latest_measurement",
        note="Absent for a source never sampled.",
    ),
    _src(
        "sources_last_sample_error_margin_seconds",
        "sources",
        "Error margin of the last sample, seconds (chronyc sources: the +/- value).",
        telegraf="chrony_sources.latest_measurement_error",
        note="Absent for a source never sampled.",
    ),
    _src(
        "sources_polling_interval_seconds",
        "sources",
        "Interval between polls of the source, seconds (2 ** chronyc sources' Poll).",
        telegraf="chrony_sources.poll (log2)",
    ),
    _g(
        "sources_state_info",
        "sources",
        "The source's state and mode (chronyc sources' S and M columns), value 1: "
        "source_state is sync, unreach, falseticker, jittery, candidate or outlier; "
        "source_mode is client, peer or reference clock.",
        labels=(*SOURCE_LABELS, "source_state", "source_mode"),
        telegraf="chrony_sources.state, chrony_sources.mode",
    ),
    _src(
        "sources_stratum",
        "sources",
        "Stratum of the source (chronyc sources: Stratum).",
        telegraf="chrony_sources.stratum",
    ),
    # -- sources --collector.sources.with-ntpdata ------------------------------------
    _src(
        "sources_peer_offset_seconds",
        "ntpdata",
        "Offset measured in the last NTP exchange, seconds, in NTP's sense: positive "
        "when the local clock is behind (slow of) the source, the opposite sign of "
        "chrony_sources_last_sample_offset_seconds (chronyc ntpdata: Offset).",
    ),
    _src(
        "sources_peer_delay_seconds",
        "ntpdata",
        "Round-trip delay of the last NTP exchange, seconds (chronyc ntpdata: Peer delay).",
    ),
    _src(
        "sources_peer_dispersion_seconds",
        "ntpdata",
        "Dispersion of the last NTP exchange, seconds (chronyc ntpdata: Peer dispersion).",
    ),
    _src(
        "sources_peer_response_time_seconds",
        "ntpdata",
        "Time the source took between receiving the request and sending its answer, "
        "seconds (chronyc ntpdata: Response time).",
    ),
    _src(
        "sources_peer_jitter_asymmetry_seconds",
        "ntpdata",
        "Estimated asymmetry of the network jitter to the source: a ratio from -0.5 to "
        "+0.5, not seconds despite the name (chronyc ntpdata: Jitter asymmetry).",
    ),
    # -- sourcestats --------------------------------------------------------------
    _src(
        "sourcestats_samples",
        "sourcestats",
        "Sample points retained for the source (chronyc sourcestats: NP).",
        telegraf="chrony_sourcestats.samples",
    ),
    _src(
        "sourcestats_runs",
        "sourcestats",
        "Runs of residuals with the same sign after the last regression (chronyc sourcestats: NR).",
        telegraf="chrony_sourcestats.runs",
    ),
    _src(
        "sourcestats_span_seconds",
        "sourcestats",
        "Interval between the oldest and newest retained samples, seconds (chronyc "
        "sourcestats: Span).",
        telegraf="chrony_sourcestats.span_seconds",
    ),
    _src(
        "sourcestats_stddev",
        "sourcestats",
        "Estimated sample standard deviation, seconds (chronyc sourcestats: Std Dev).",
        telegraf="chrony_sourcestats.stddev",
    ),
    _src(
        "sourcestats_frequency_ppms",
        "sourcestats",
        "Estimated residual frequency of the source, ppm (chronyc sourcestats: Freq).",
        telegraf="chrony_sourcestats.residual_frequency",
    ),
    _src(
        "sourcestats_frequency_skew_ppms",
        "sourcestats",
        "Estimated error bound of the frequency, ppm (chronyc sourcestats: Freq Skew).",
        telegraf="chrony_sourcestats.skew",
    ),
    _src(
        "sourcestats_offset",
        "sourcestats",
        f"Estimated offset of the source, seconds; {_SIGN_SOURCES} (chronyc sourcestats: Offset).",
        telegraf="chrony_sourcestats.offset",
        note="Reference clocks are included (labelled by reference ID); chrony_exporter "
        "skips them.",
    ),
    _src(
        "sourcestats_offset_error_seconds",
        "sourcestats",
        "Estimated error of the offset, seconds.",
        chrony_exporter=False,
        telegraf="chrony_sourcestats.offset_error",
    ),
    # -- serverstats --------------------------------------------------------------
    _counter(
        "ntp_packets_received",
        "Valid NTP requests received (chronyc serverstats: NTP packets received).",
        "ntp_hits",
    ),
    _counter(
        "nts_ke_connections_accepted",
        "NTS-KE connections accepted (chronyc serverstats: NTS-KE connections accepted).",
        "nke_hits",
    ),
    _counter(
        "command_packets_received",
        "Command requests received (chronyc serverstats: Command packets received).",
        "cmd_hits",
    ),
    _counter(
        "ntp_packets_dropped",
        "NTP requests dropped by rate limiting (chronyc serverstats: NTP packets dropped).",
        "ntp_drops",
    ),
    _counter(
        "nts_ke_connections_dropped",
        "NTS-KE connections dropped by rate limiting (chronyc serverstats: NTS-KE "
        "connections dropped).",
        "nke_drops",
    ),
    _counter(
        "command_packets_dropped",
        "Command requests dropped by rate limiting (chronyc serverstats: Command packets dropped).",
        "cmd_drops",
    ),
    _counter(
        "client_log_records_dropped",
        "Client log records dropped to limit memory use (chronyc serverstats: Client log "
        "records dropped).",
        "log_drops",
    ),
    _counter(
        "authenticated_ntp_packets",
        "NTP requests authenticated with a symmetric key or NTS (chronyc serverstats: "
        "Authenticated NTP packets).",
        "ntp_auth_hits",
    ),
    _counter(
        "interleaved_ntp_packets",
        "NTP requests in interleaved mode (chronyc serverstats: Interleaved NTP packets).",
        "ntp_interleaved_hits",
    ),
    _counter(
        "ntp_daemon_rx_timestamps",
        "NTP responses with a receive timestamp taken by chronyd (chronyc serverstats: "
        "NTP daemon RX timestamps).",
        "ntp_daemon_rx_timestamps",
    ),
    _counter(
        "ntp_daemon_tx_timestamps",
        "NTP responses with a transmit timestamp taken by chronyd (chronyc serverstats: "
        "NTP daemon TX timestamps).",
        "ntp_daemon_tx_timestamps",
    ),
    _counter(
        "ntp_kernel_rx_timestamps",
        "NTP responses with a receive timestamp taken by the kernel (chronyc "
        "serverstats: NTP kernel RX timestamps).",
        "ntp_kernel_rx_timestamps",
    ),
    _counter(
        "ntp_kernel_tx_timestamps",
        "NTP responses (interleaved) with a transmit timestamp taken by the kernel "
        "(chronyc serverstats: NTP kernel TX timestamps).",
        "ntp_kernel_tx_timestamps",
    ),
    _counter(
        "ntp_hw_rx_timestamps",
        "NTP responses with a receive timestamp taken by the NIC (chronyc serverstats: "
        "NTP hardware RX timestamps).",
        "ntp_hardware_rx_timestamps",
    ),
    _counter(
        "ntp_hw_tx_timestamps",
        "NTP responses (interleaved) with a transmit timestamp taken by the NIC (chronyc "
        "serverstats: NTP hardware TX timestamps).",
        "ntp_hardware_tx_timestamps",
    ),
    _g(
        "serverstats_ntp_timestamps_held",
        "serverstats",
        "Pairs of receive and transmit timestamps held for interleaved clients (chronyc "
        "serverstats: NTP timestamps held).",
        telegraf="chrony_serverstats.ntp_timestamps",
    ),
    _g(
        "serverstats_ntp_timestamp_span_seconds",
        "serverstats",
        "Interval covered by the held timestamps, seconds (chronyc serverstats: NTP "
        "timestamp span).",
        telegraf="chrony_serverstats.ntp_span_seconds",
    ),
    # -- clients (chronyd's client access log; Unix socket only) ----------------------
    _g(
        "clients_connected",
        "clients",
        "Clients in chronyd's client log (chronyc clients), by protocol: nts for those "
        "that made an NTS-KE connection (NTS-KE hits), ntp for the rest. It stops "
        "growing at the log's size (clientloglimit).",
        labels=("protocol",),
    ),
    _histogram(
        "last_ntp_hit_ago_seconds",
        "Seconds since each client's last NTP request (chronyc clients: NTP Last), over "
        "the clients that sent NTP requests.",
    ),
    _histogram(
        "ntp_interval_seconds",
        "Mean interval between each client's NTP requests, seconds: 2 to the power of "
        "chronyc clients' NTP Int; clients chronyd has no interval for (-) are left out.",
    ),
    _histogram(
        "ntp_drops",
        "NTP requests dropped by rate limiting per client (chronyc clients: NTP Drop), "
        "over the clients that sent or tried NTP requests.",
    ),
    # -- ours: selectdata, activity, smoothing, rtcdata -------------------------------
    _src(
        "selectdata_score",
        "selectdata",
        "Score of the source against the selected (*) one; above 1: better than it "
        "(chronyc selectdata: Score).",
        chrony_exporter=False,
    ),
    _src(
        "selectdata_low_limit_seconds",
        "selectdata",
        "Low end of the source's offset interval, seconds (chronyc selectdata: Lo).",
        chrony_exporter=False,
    ),
    _src(
        "selectdata_high_limit_seconds",
        "selectdata",
        "High end of the source's offset interval, seconds (chronyc selectdata: Hi).",
        chrony_exporter=False,
    ),
    _g(
        "selectdata_state_info",
        "selectdata",
        "Why the source is or is not selected (chronyc selectdata: S), value 1: the state's "
        "name and chronyc's character.",
        labels=(*SOURCE_LABELS, "state", "state_char"),
        chrony_exporter=False,
    ),
    _g(
        "activity_sources",
        "activity",
        "Sources by activity (chronyc activity): online, offline, burst_online, "
        "burst_offline, unresolved.",
        labels=("activity",),
        chrony_exporter=False,
        telegraf="chrony_activity.<activity>",
    ),
    _g(
        "smoothing_active",
        "smoothing",
        "1 while time smoothing is active (chronyc smoothing: Active).",
        chrony_exporter=False,
    ),
    _g(
        "smoothing_leap_only",
        "smoothing",
        "1 when smoothing applies to leap seconds only (chronyc smoothing: leap only).",
        chrony_exporter=False,
    ),
    _g(
        "smoothing_offset_seconds",
        "smoothing",
        "Offset still to be smoothed, seconds (chronyc smoothing: Offset).",
        chrony_exporter=False,
    ),
    _g(
        "smoothing_frequency_ppms",
        "smoothing",
        "Frequency offset of the smoothing, ppm (chronyc smoothing: Frequency).",
        chrony_exporter=False,
    ),
    _g(
        "smoothing_wander_ppm_per_second",
        "smoothing",
        "Wander of the smoothing frequency, ppm per second (chronyc smoothing: Wander).",
        chrony_exporter=False,
    ),
    _g(
        "smoothing_last_update_age_seconds",
        "smoothing",
        "Seconds since the last smoothing update (chronyc smoothing: Last update).",
        chrony_exporter=False,
    ),
    _g(
        "smoothing_remaining_seconds",
        "smoothing",
        "Seconds until smoothing is done (chronyc smoothing: Remaining time).",
        chrony_exporter=False,
    ),
    _g(
        "rtc_tracked",
        "rtcdata",
        "1 when chronyd tracks the real-time clock (rtcsync/rtcfile), 0 otherwise.",
        chrony_exporter=False,
    ),
    _g(
        "rtc_offset_seconds",
        "rtcdata",
        "Offset of the RTC, seconds; positive: the RTC is ahead of the system clock "
        "(chronyc rtcdata: RTC is fast by).",
        chrony_exporter=False,
    ),
    _g(
        "rtc_frequency_ppms",
        "rtcdata",
        "Rate at which the RTC gains, ppm (chronyc rtcdata: RTC gains time at).",
        chrony_exporter=False,
    ),
    _g(
        "rtc_samples",
        "rtcdata",
        "RTC samples retained (chronyc rtcdata: Number of samples).",
        chrony_exporter=False,
    ),
    _g(
        "rtc_reference_timestamp_seconds",
        "rtcdata",
        "Time of the last RTC measurement, Unix seconds (chronyc rtcdata: RTC ref time).",
        chrony_exporter=False,
    ),
)

FAMILIES_BY_NAME = {f.name: f for f in FAMILIES}


def new_family(name: str) -> GaugeMetricFamily | CounterMetricFamily:
    """An empty gauge or counter family named ``name`` with the table's HELP, type
    and labels (histograms: :func:`new_histogram`)."""
    spec = FAMILIES_BY_NAME[name]
    if spec.kind == "histogram":
        raise ValueError(f"{name} is a histogram: use new_histogram()")
    cls = CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily
    return cls(spec.name, spec.help, labels=list(spec.labels))


def new_histogram(name: str) -> HistogramMetricFamily:
    """An empty histogram family named ``name`` with the table's HELP and labels."""
    spec = FAMILIES_BY_NAME[name]
    if spec.kind != "histogram":
        raise ValueError(f"{name} is a {spec.kind}: use new_family()")
    return HistogramMetricFamily(spec.name, spec.help, labels=list(spec.labels))


def empty_family(name: str) -> GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily:
    """An empty family of any kind (a collector's ``describe()``)."""
    if FAMILIES_BY_NAME[name].kind == "histogram":
        return new_histogram(name)
    return new_family(name)
