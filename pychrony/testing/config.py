"""Declarative scenario configuration: what a scripted chronyd should report.

``ChronyStateConfig`` holds the tracking values, a list of ``SourceConfig``, an
optional ``RTCConfig`` and error injection; the other reports (selectdata,
ntpdata, authdata, serverstats, activity, smoothing) are derived from them
unless given explicitly. Invalid values are rejected in ``__post_init__``.
"""

import hashlib
import ipaddress
import math
from dataclasses import dataclass, field

from .._convert import name_to_refid, refid_name
from ..models import (
    Activity,
    Client,
    LeapStatus,
    ServerStats,
    Smoothing,
    SourceMode,
    SourceState,
)
from .faults import Fault
from .report_config import AuthConfig, NTPConfig, SelectConfig, check_against_registry

__all__ = ["ERROR_OPERATIONS", "ChronyStateConfig", "RTCConfig", "SourceConfig"]

#: Operations errors can be injected into; a key may be scoped to one report
#: (``"request:serverstats"``). pychrony 2.x's libchrony function names work too.
ERROR_OPERATIONS = ("open", "init", "request", "response")
_LEGACY_OPERATIONS = {
    "chrony_open_socket": "open",
    "chrony_init_session": "init",
    "chrony_request_report_number_records": "request",
    "chrony_request_record": "request",
    "chrony_process_response": "response",
}


def _non_negative(owner: object, *names: str) -> None:
    for name in names:
        value = getattr(owner, name)
        if value < 0 or (isinstance(value, float) and not math.isfinite(value)):
            raise ValueError(f"{name} must be a non-negative number, not {value!r}")


def _finite(owner: object, *names: str) -> None:
    for name in names:
        value = getattr(owner, name)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, not {value!r}")


@dataclass
class RTCConfig:
    """RTC tracking; ``available=False`` makes chronyd answer "no RTC"."""

    available: bool = True
    ref_time: float = 1705320000.123456789
    samples: int = 10
    runs: int = 4
    span: int = 86400
    offset: float = 0.123456
    freq_offset: float = -1.234

    def __post_init__(self) -> None:
        _non_negative(self, "samples", "runs", "span", "ref_time")
        _finite(self, "offset", "freq_offset")

    def is_calibrated(self) -> bool:
        """True when samples > 0."""
        return self.samples > 0


@dataclass
class SourceConfig:
    """One source: its sources-report fields plus its sourcestats fields."""

    address: str = "192.0.2.100"
    poll: int = 6
    stratum: int = 2
    state: SourceState = SourceState.SELECTED
    mode: SourceMode = SourceMode.CLIENT
    flags: int = 0
    reachability: int = 255
    last_sample_ago: int = 32
    orig_latest_meas: float = 0.000123456
    latest_meas: float = 0.000123456
    latest_meas_err: float = 0.000010000
    reference_id: int | None = None
    samples: int = 8
    runs: int = 3
    span: int = 512
    std_dev: float = 0.000100000
    resid_freq: float = 0.001
    stats_skew: float = 0.005
    stats_offset: float = 0.000123456
    offset_err: float = 0.000010000
    #: The name it was configured by (``server NAME``), served by ``sourcename``;
    #: None: its address, as chronyd names a source configured by address.
    name: str | None = None
    select: SelectConfig | None = None
    ntp: NTPConfig | None = None
    auth: AuthConfig | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.stratum <= 16:
            raise ValueError(f"stratum must be 0-16, not {self.stratum}")
        if not 0 <= self.reachability <= 255:
            raise ValueError(f"reachability must be 0-255, not {self.reachability}")
        if not -128 <= self.poll <= 127:
            raise ValueError(f"poll must be -128..127, not {self.poll}")
        _non_negative(
            self,
            "last_sample_ago",
            "latest_meas_err",
            "samples",
            "runs",
            "span",
            "std_dev",
            "stats_skew",
            "offset_err",
        )
        _finite(self, "orig_latest_meas", "latest_meas", "resid_freq", "stats_offset")
        if self.mode is not SourceMode.REFCLOCK:
            try:
                ipaddress.ip_address(self.address)
            except ValueError:
                raise ValueError(
                    f"address of an NTP source must be an IP address, not {self.address!r}"
                ) from None
        elif not 0 < len(self.address) <= 4:
            raise ValueError(f"a refclock is named by 1-4 characters, not {self.address!r}")
        if self.name is not None and not 0 < len(self.name.encode()) <= 255:
            raise ValueError(f"a source name is 1-255 bytes (chronyd's limit), not {self.name!r}")

    def compute_reference_id(self) -> int:
        """The reference ID: explicit, else the IPv4 address or the refclock name."""
        if self.reference_id is not None:
            return self.reference_id
        if self.mode is SourceMode.REFCLOCK or ":" not in self.address:
            return name_to_refid(self.address)
        # chrony names IPv6 sources by the first 32 bits of the address' MD5.
        digest = hashlib.md5(ipaddress.ip_address(self.address).packed).digest()
        return int.from_bytes(digest[:4], "big")

    def is_reachable(self) -> bool:
        """True when reachability > 0."""
        return self.reachability > 0

    def is_selected(self) -> bool:
        """True when state is SELECTED."""
        return self.state == SourceState.SELECTED


@dataclass
class ChronyStateConfig:
    """The whole scripted state of a chronyd."""

    stratum: int = 2
    reference_id: int = 0x7F000001
    reference_ip: str = "127.0.0.1"
    leap_status: LeapStatus = LeapStatus.NORMAL
    ref_time: float = 1705320000.123456789
    offset: float = 0.000123456
    last_offset: float = 0.000111222
    rms_offset: float = 0.000100000
    frequency: float = 1.234
    residual_freq: float = 0.001
    skew: float = 0.005
    root_delay: float = 0.001234
    root_dispersion: float = 0.002345
    update_interval: float = 64.0
    sources: list[SourceConfig] = field(default_factory=list)
    rtc: RTCConfig | None = None
    server_stats: ServerStats | None = None
    activity: Activity | None = None
    smoothing: Smoothing | None = None
    #: chronyd's client access log (``clients``), in its table's order.
    clients: list[Client] = field(default_factory=list)
    #: Reply code per report name, to serve an older layout (e.g. serverstats 14).
    layouts: dict[str, int] = field(default_factory=dict)
    #: Operation (optionally ``op:report``) -> error code (negative errno or libchrony's).
    error_injection: dict[str, int] = field(default_factory=dict)
    #: Faults a fake chronyd or the mock shows in this state (see :class:`Fault`).
    faults: tuple[Fault, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.stratum <= 16:
            raise ValueError("stratum must be 0-16 (chronyd reports 0 while unsynchronised)")
        if not 0 <= self.reference_id <= 0xFFFFFFFF:
            raise ValueError(f"reference_id must be a 32-bit value, not {self.reference_id}")
        _non_negative(
            self, "rms_offset", "skew", "root_delay", "root_dispersion", "update_interval"
        )
        _non_negative(self, "ref_time")
        _finite(self, "offset", "last_offset", "frequency", "residual_freq")
        self.error_injection = {
            self._error_key(key): code for key, code in self.error_injection.items()
        }
        if self.server_stats is not None:
            check_against_registry("serverstats", self.server_stats)
        self.clients = list(self.clients)
        for client in self.clients:
            if not isinstance(client, Client):
                raise ValueError(f"clients must be pychrony.Client values, not {client!r}")
            check_against_registry("clients", client)
        self.faults = tuple(self.faults)
        if not all(isinstance(f, Fault) for f in self.faults):
            raise ValueError(f"faults must be Fault values, not {self.faults!r}")

    @staticmethod
    def _error_key(key: str) -> str:
        key = _LEGACY_OPERATIONS.get(key, key)
        operation, _, report = key.partition(":")
        if operation not in ERROR_OPERATIONS:
            raise ValueError(
                f"Invalid error_injection key {key!r}; operations: {', '.join(ERROR_OPERATIONS)}"
                " (optionally ':report')"
            )
        if report:
            from ..registry import REPORTS_BY_NAME

            if report not in REPORTS_BY_NAME:
                raise ValueError(f"Invalid error_injection key {key!r}: unknown report")
        return key

    def reference_id_name(self) -> str:
        """Readable reference ID (dotted quad or ASCII)."""
        return refid_name(self.reference_id)

    def is_synchronized(self) -> bool:
        """True when reference_id != 0 and stratum < 16."""
        return self.reference_id != 0 and self.stratum < 16

    def is_leap_pending(self) -> bool:
        """True when a leap second is scheduled."""
        return self.leap_status in (LeapStatus.INSERT, LeapStatus.DELETE)
