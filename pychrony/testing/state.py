"""From a ``ChronyStateConfig`` to what every report returns, and to raw records."""

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from .._convert import refid_name
from ..models import (
    Activity,
    AuthData,
    AuthMode,
    KeyType,
    LeapStatus,
    NTPData,
    NTPFlags,
    NTPMode,
    RTCData,
    SelectData,
    SelectOptions,
    SelectState,
    ServerStats,
    Smoothing,
    SmoothingFlags,
    Source,
    SourceMode,
    SourceState,
    SourceStats,
    Timestamping,
    TrackingStatus,
)
from ..registry import REPORTS_BY_NAME
from .config import ChronyStateConfig, SourceConfig
from .records import RawRecord, RawValue, encode_record
from .report_config import overrides

__all__ = ["ScriptedState", "expected_reports", "replace_field", "scripted_state"]

_SELECT_STATE = {
    SourceState.SELECTED: SelectState.BEST,
    SourceState.NONSELECTABLE: SelectState.IGNORED,
    SourceState.FALSETICKER: SelectState.FALSETICKER,
    SourceState.JITTERY: SelectState.JITTERY,
    SourceState.UNSELECTED: SelectState.NOT_SYNCHRONIZED,
    SourceState.SELECTABLE: SelectState.COMBINED,
}
_ALL_TESTS = NTPFlags(0x3FF)


@dataclass(frozen=True)
class ScriptedState:
    """Raw records per report (None: a record without data, e.g. a refclock's
    ntpdata) and the reports chronyd refuses as disabled."""

    records: dict[str, list[RawRecord | None]] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()


def _source(sc: SourceConfig, names: bool) -> Source:
    return Source(
        address=sc.address,
        poll=sc.poll,
        stratum=sc.stratum,
        state=sc.state,
        mode=sc.mode,
        flags=sc.flags,
        reachability=sc.reachability,
        last_sample_ago=sc.last_sample_ago,
        orig_latest_meas=sc.orig_latest_meas,
        latest_meas=sc.latest_meas,
        latest_meas_err=sc.latest_meas_err,
        name=sc.name if names and sc.mode is not SourceMode.REFCLOCK else None,
    )


def _stats(sc: SourceConfig) -> SourceStats:
    return SourceStats(
        reference_id=sc.compute_reference_id(),
        address=sc.address,
        samples=sc.samples,
        runs=sc.runs,
        span=sc.span,
        std_dev=sc.std_dev,
        resid_freq=sc.resid_freq,
        skew=sc.stats_skew,
        offset=sc.stats_offset,
        offset_err=sc.offset_err,
    )


def _select(sc: SourceConfig, config: ChronyStateConfig) -> SelectData:
    options = SelectOptions.NOSELECT if sc.state is SourceState.NONSELECTABLE else SelectOptions(0)
    derived = SelectData(
        reference_id=sc.compute_reference_id(),
        address=sc.address,
        state=_SELECT_STATE[sc.state],
        authenticated=False,
        leap_status=config.leap_status,
        configured_options=options,
        effective_options=options,
        last_sample_ago=sc.last_sample_ago,
        score=1.0 if sc.state is SourceState.SELECTED else 2.5,
        low_limit=sc.latest_meas - sc.latest_meas_err,
        high_limit=sc.latest_meas + sc.latest_meas_err,
    )
    return dataclasses.replace(derived, **overrides(sc.select))


def _ntp(sc: SourceConfig, config: ChronyStateConfig) -> NTPData:
    local = "::1" if ipaddress.ip_address(sc.address).version == 6 else "127.0.0.1"
    polls = 100 if sc.reachability else 0
    derived = NTPData(
        remote_address=sc.address,
        local_address=local,
        remote_port=123,
        leap_status=LeapStatus.NORMAL if sc.stratum < 16 else LeapStatus.UNSYNC,
        version=4,
        mode=NTPMode.SERVER,
        stratum=sc.stratum,
        poll=sc.poll,
        precision=-20,
        root_delay=config.root_delay,
        root_dispersion=config.root_dispersion,
        reference_id=config.reference_id,
        reference_id_name=refid_name(config.reference_id),
        ref_time=config.ref_time,
        offset=sc.latest_meas,
        peer_delay=2 * sc.latest_meas_err,
        peer_dispersion=sc.latest_meas_err / 2,
        response_time=0.00002,
        jitter_asymmetry=0.0,
        flags=_ALL_TESTS,
        tx_timestamping=Timestamping.DAEMON,
        rx_timestamping=Timestamping.KERNEL,
        tx_messages=polls + 2,
        rx_messages=polls,
        rx_valid_messages=polls,
        rx_good_messages=polls,
        kernel_tx_timestamps=0,
        kernel_rx_timestamps=polls,
        hw_tx_timestamps=0,
        hw_rx_timestamps=0,
    )
    return dataclasses.replace(derived, **overrides(sc.ntp))


def _auth(sc: SourceConfig) -> AuthData:
    derived = AuthData(
        address=sc.address,
        mode=AuthMode.NONE,
        key_type=KeyType.NONE,
        key_id=0,
        key_length=0,
        ke_attempts=0,
        last_ke_ago=0,
        cookies=0,
        cookie_length=0,
        nak=False,
    )
    return dataclasses.replace(derived, **overrides(sc.auth))


def expected_reports(config: ChronyStateConfig, *, names: bool = True) -> dict[str, Any]:
    """What each report must return for ``config`` (the readers' expected output).

    Multi-record reports give lists; ntpdata and authdata list NTP sources only;
    rtcdata is None without an available RTC. ``names=False``: sources' names are
    None, as a reader that cannot ask them (libchrony) gives them.
    """
    ntp_sources = [s for s in config.sources if s.mode is not SourceMode.REFCLOCK]
    reports = {
        "tracking": _tracking(config),
        "sources": [_source(s, names) for s in config.sources],
        "sourcestats": [_stats(s) for s in config.sources],
        "selectdata": [_select(s, config) for s in config.sources],
        "ntpdata": [_ntp(s, config) for s in ntp_sources],
        "authdata": [_auth(s) for s in ntp_sources],
        "serverstats": config.server_stats or _DEFAULT_SERVER_STATS,
        "activity": config.activity or _activity(ntp_sources),
        "rtcdata": _rtcdata(config),
        "smoothing": config.smoothing or _DEFAULT_SMOOTHING,
        "clients": list(config.clients),
    }
    for name, code in config.layouts.items():
        reports[name] = _in_layout(name, code, reports[name])
    return reports


def _tracking(config: ChronyStateConfig) -> TrackingStatus:
    return TrackingStatus(
        reference_id=config.reference_id,
        reference_id_name=refid_name(config.reference_id),
        reference_ip=config.reference_ip,
        stratum=config.stratum,
        leap_status=config.leap_status,
        ref_time=config.ref_time,
        offset=config.offset,
        last_offset=config.last_offset,
        rms_offset=config.rms_offset,
        frequency=config.frequency,
        residual_freq=config.residual_freq,
        skew=config.skew,
        root_delay=config.root_delay,
        root_dispersion=config.root_dispersion,
        update_interval=config.update_interval,
    )


#: serverstats of a config that sets none: a server that has answered a little.
_DEFAULT_SERVER_STATS = ServerStats(
    ntp_requests=1000,
    command_requests=50,
    dropped_ntp_requests=2,
    dropped_command_requests=0,
    dropped_client_log_records=0,
    nts_ke_connections=0,
    dropped_nts_ke_connections=0,
    authenticated_ntp_requests=0,
    interleaved_ntp_requests=10,
    held_ntp_timestamps=64,
    ntp_timestamp_span=3600,
    daemon_rx_timestamps=0,
    daemon_tx_timestamps=1000,
    kernel_rx_timestamps=1000,
    kernel_tx_timestamps=0,
    hw_rx_timestamps=0,
    hw_tx_timestamps=0,
)

#: smoothing of a config that sets none: smoothing inactive.
_DEFAULT_SMOOTHING = Smoothing(
    flags=SmoothingFlags(0),
    offset=0.0,
    freq_offset=0.0,
    wander=0.0,
    last_update_ago=0.0,
    remaining_time=0.0,
)


def _activity(ntp_sources: list[SourceConfig]) -> Activity:
    """activity of a config that sets none: a source that answers is online."""
    online = sum(1 for s in ntp_sources if s.reachability)
    return Activity(
        online=online,
        offline=len(ntp_sources) - online,
        burst_online=0,
        burst_offline=0,
        unresolved=0,
    )


def _rtcdata(config: ChronyStateConfig) -> RTCData | None:
    rtc = config.rtc
    if rtc is None or not rtc.available:
        return None
    return RTCData(
        ref_time=rtc.ref_time,
        samples=rtc.samples,
        runs=rtc.runs,
        span=rtc.span,
        offset=rtc.offset,
        freq_offset=rtc.freq_offset,
    )


def _in_layout(name: str, code: int, value: Any) -> Any:
    """``value`` as read from reply layout ``code``: attributes it lacks are None."""
    response = REPORTS_BY_NAME[name].response(code)
    if response is None or value is None:
        return value
    present = {f.attr for f in response.fields} | {d.attr for d in REPORTS_BY_NAME[name].derived}
    missing = {
        f.name: None
        for f in dataclasses.fields(REPORTS_BY_NAME[name].model)
        if f.name not in present and f.default is None
    }
    if isinstance(value, list):
        return [dataclasses.replace(v, **missing) for v in value]
    return dataclasses.replace(value, **missing)


def scripted_state(config: ChronyStateConfig) -> ScriptedState:
    """Raw records of every report for ``config``, in the layouts it asks for."""
    expected = expected_reports(config)
    records: dict[str, list[RawRecord | None]] = {}
    for name, report in REPORTS_BY_NAME.items():
        layout = report.response(config.layouts[name]) if name in config.layouts else None
        if name in config.layouts and layout is None:
            raise ValueError(f"{name} has no reply layout {config.layouts[name]}")
        value = expected[name]
        if name in ("ntpdata", "authdata"):
            # Addressed by each source's address: refclocks have no record.
            by_address = iter(value)
            records[name] = [
                None
                if s.mode is SourceMode.REFCLOCK
                else encode_record(report, next(by_address), layout, s.address)
                for s in config.sources
            ]
        elif value is None:
            records[name] = []
        elif isinstance(value, list):
            records[name] = [encode_record(report, v, layout) for v in value]
        else:
            records[name] = [encode_record(report, value, layout)]
    disabled = frozenset() if expected["rtcdata"] is not None else frozenset({"rtcdata"})
    return ScriptedState(records, disabled)


def replace_field(
    config: ChronyStateConfig, report: str, field: str, value: RawValue, index: int = 0
) -> ScriptedState:
    """``config``'s records with field ``field`` of ``report`` record ``index`` set to a
    raw ``value`` (e.g. NaN, an unknown enum value): for testing bad data handling."""
    state = scripted_state(config)
    records = list(state.records[report])
    record = records[index]
    if record is None:
        raise ValueError(f"{report} record {index} has no data")
    position = [f.name for f in record.response.fields].index(field)
    values = list(record.values)
    values[position] = value
    records[index] = dataclasses.replace(record, values=tuple(values))
    return ScriptedState({**state.records, report: records}, state.disabled)
