"""Frozen dataclasses and enums returned by both readers.

The enum values are chrony's wire constants; the field registry
(:mod:`pychrony.registry`) refers to these classes, so each value lives here only.
"""

from dataclasses import dataclass
from enum import Enum, IntFlag

__all__ = [
    "NEVER_SAMPLED",
    "NO_INTERVAL",
    "Activity",
    "AuthData",
    "AuthMode",
    "Client",
    "KeyType",
    "LeapStatus",
    "NTPData",
    "NTPFlags",
    "NTPMode",
    "RTCData",
    "SelectData",
    "SelectOptions",
    "SelectState",
    "ServerStats",
    "Smoothing",
    "SmoothingFlags",
    "Source",
    "SourceMode",
    "SourceState",
    "SourceStats",
    "Timestamping",
    "TrackingStatus",
    "Transport",
]

#: ``last_sample_ago`` value chronyd reports for a source never sampled.
NEVER_SAMPLED = 0xFFFFFFFF
#: A :class:`Client` interval chronyd reports for a service the client never used
#: (chronyc prints ``-``); its ``last_*_ago`` is then :data:`NEVER_SAMPLED`.
NO_INTERVAL = 127


class Transport(Enum):
    """How a connection reaches chronyd (``ChronyConnection.transport``).

    ``UNIX_SOCKET``: chronyd's Unix command socket, its control channel (root or
    chronyd's user only). ``COMMAND_PORT``: its UDP command port (323 on 127.0.0.1
    and ::1 by default), which serves the monitoring commands only: every report
    pychrony reads, and nothing that changes chronyd.
    """

    UNIX_SOCKET = "unix_socket"
    COMMAND_PORT = "command_port"

    @classmethod
    def of(cls, address: str) -> "Transport":
        """The transport of a connected ``address`` (a path starts with "/")."""
        return cls.UNIX_SOCKET if address.lstrip().startswith("/") else cls.COMMAND_PORT


class LeapStatus(Enum):
    """Leap second status."""

    NORMAL = 0
    INSERT = 1
    DELETE = 2
    UNSYNC = 3


class SourceState(Enum):
    """Selection state of a source (``sources`` report)."""

    SELECTED = 0
    NONSELECTABLE = 1
    FALSETICKER = 2
    JITTERY = 3
    UNSELECTED = 4
    SELECTABLE = 5


class SourceMode(Enum):
    """Kind of source."""

    CLIENT = 0
    PEER = 1
    REFCLOCK = 2


class SelectState(Enum):
    """Selection state of a source (``selectdata`` report, chronyc's state char)."""

    IGNORED = ord("N")
    NOT_SYNCHRONIZED = ord("s")
    MISSING_SAMPLES = ord("M")
    UNACCEPTABLE_DISTANCE = ord("d")
    LARGE_DISTANCE = ord("D")
    JITTERY = ord("~")
    WAITING_FOR_OTHERS = ord("w")
    MISSING_SELECTABLE_SOURCES = ord("W")
    STALE = ord("S")
    ORPHAN = ord("O")
    NOT_TRUSTED = ord("T")
    NOT_PREFERRED = ord("P")
    WAITING_FOR_UPDATE = ord("U")
    FALSETICKER = ord("x")
    COMBINED = ord("+")
    BEST = ord("*")

    @property
    def char(self) -> str:
        """The one-character code chronyc prints."""
        return chr(self.value)


class SelectOptions(IntFlag):
    """Source options (``selectdata`` configured/effective options)."""

    NOSELECT = 0x1
    PREFER = 0x2
    TRUST = 0x4
    REQUIRE = 0x8


class NTPMode(Enum):
    """NTP mode of the remote side (``ntpdata``); INVALID until a packet arrived."""

    INVALID = 0
    ACTIVE_SYMMETRIC = 1
    PASSIVE_SYMMETRIC = 2
    CLIENT = 3
    SERVER = 4
    BROADCAST = 5


class Timestamping(Enum):
    """Where a packet was timestamped (``ntpdata``); INVALID until a packet arrived."""

    INVALID = 0
    DAEMON = ord("D")
    KERNEL = ord("K")
    HARDWARE = ord("H")


class NTPFlags(IntFlag):
    """NTP packet tests and properties (``ntpdata`` flags); a set test bit passed."""

    TEST_D = 0x1
    TEST_B = 0x2
    TEST_C = 0x4
    TEST_A = 0x8
    TEST_7 = 0x10
    TEST_6 = 0x20
    TEST_5 = 0x40
    TEST_3 = 0x80
    TEST_2 = 0x100
    TEST_1 = 0x200
    INTERLEAVED = 0x4000
    AUTHENTICATED = 0x8000


class AuthMode(Enum):
    """Authentication of an NTP source (``authdata``)."""

    NONE = 0
    SYMMETRIC = 1
    NTS = 2


class KeyType(Enum):
    """Key or cipher type (``authdata``)."""

    NONE = 0
    MD5 = 1
    SHA1 = 2
    SHA256 = 3
    SHA384 = 4
    SHA512 = 5
    SHA3_224 = 6
    SHA3_256 = 7
    SHA3_384 = 8
    SHA3_512 = 9
    TIGER = 10
    WHIRLPOOL = 11
    AES128 = 13
    AES256 = 14
    AEAD_AES_SIV_CMAC_256 = 15
    AEAD_AES_128_GCM_SIV = 30


class SmoothingFlags(IntFlag):
    """State of time smoothing."""

    ACTIVE = 0x1
    LEAP_ONLY = 0x2


@dataclass(frozen=True, slots=True)
class TrackingStatus:
    """System clock performance (``chronyc tracking``). Offsets in seconds, rates in ppm."""

    reference_id: int
    reference_id_name: str
    reference_ip: str
    stratum: int
    leap_status: LeapStatus
    ref_time: float
    offset: float
    last_offset: float
    rms_offset: float
    frequency: float
    residual_freq: float
    skew: float
    root_delay: float
    root_dispersion: float
    update_interval: float

    def is_synchronized(self) -> bool:
        """True when chronyd has a reference (ID ≠ 0) and stratum < 16."""
        return self.reference_id != 0 and self.stratum < 16

    def is_leap_pending(self) -> bool:
        """True when a leap second is to be inserted or deleted."""
        return self.leap_status in (LeapStatus.INSERT, LeapStatus.DELETE)


@dataclass(frozen=True, slots=True)
class Source:
    """One time source (``chronyc sources``); refclocks are named by reference ID.

    ``name`` is the name the source was configured with, where chronyd tells it.
    """

    address: str
    poll: int
    stratum: int
    state: SourceState
    mode: SourceMode
    flags: int
    reachability: int
    last_sample_ago: int
    orig_latest_meas: float
    latest_meas: float
    latest_meas_err: float
    name: str | None = None

    def is_reachable(self) -> bool:
        """True when at least one of the last eight polls got an answer."""
        return self.reachability > 0

    def is_selected(self) -> bool:
        """True for the source chronyd synchronises to."""
        return self.state == SourceState.SELECTED

    def is_sampled(self) -> bool:
        """False when chronyd never got a sample (``last_sample_ago`` is meaningless)."""
        return self.last_sample_ago != NEVER_SAMPLED


@dataclass(frozen=True, slots=True)
class SourceStats:
    """Regression statistics of one source (``chronyc sourcestats``)."""

    reference_id: int
    address: str
    samples: int
    runs: int
    span: int
    std_dev: float
    resid_freq: float
    skew: float
    offset: float
    offset_err: float

    def has_sufficient_samples(self, minimum: int = 4) -> bool:
        """True when at least ``minimum`` samples are retained."""
        return self.samples >= minimum


@dataclass(frozen=True, slots=True)
class RTCData:
    """Real-time clock tracking (``chronyc rtcdata``)."""

    ref_time: float
    samples: int
    runs: int
    span: int
    offset: float
    freq_offset: float

    def is_calibrated(self) -> bool:
        """True when chronyd has at least one RTC sample."""
        return self.samples > 0


@dataclass(frozen=True, slots=True)
class SelectData:
    """Source selection detail (``chronyc selectdata``)."""

    reference_id: int
    address: str
    state: SelectState
    authenticated: bool
    leap_status: LeapStatus
    configured_options: SelectOptions
    effective_options: SelectOptions
    last_sample_ago: int
    score: float
    low_limit: float
    high_limit: float

    def is_selected(self) -> bool:
        """True for the best source."""
        return self.state == SelectState.BEST

    def is_sampled(self) -> bool:
        """False when chronyd never got a sample."""
        return self.last_sample_ago != NEVER_SAMPLED


@dataclass(frozen=True, slots=True)
class NTPData:
    """Last NTP exchange with one NTP source (``chronyc ntpdata``).

    The kernel/hardware timestamp counters are None on chronyd older than 4.6.
    """

    remote_address: str
    local_address: str
    remote_port: int
    leap_status: LeapStatus
    version: int
    mode: NTPMode
    stratum: int
    poll: int
    precision: int
    root_delay: float
    root_dispersion: float
    reference_id: int
    reference_id_name: str
    ref_time: float
    offset: float
    peer_delay: float
    peer_dispersion: float
    response_time: float
    jitter_asymmetry: float
    flags: NTPFlags
    tx_timestamping: Timestamping
    rx_timestamping: Timestamping
    tx_messages: int
    rx_messages: int
    rx_valid_messages: int
    rx_good_messages: int
    kernel_tx_timestamps: int | None = None
    kernel_rx_timestamps: int | None = None
    hw_tx_timestamps: int | None = None
    hw_rx_timestamps: int | None = None

    def is_authenticated(self) -> bool:
        """True when the last packet was authenticated."""
        return bool(self.flags & NTPFlags.AUTHENTICATED)


@dataclass(frozen=True, slots=True)
class ServerStats:
    """NTP/command server counters (``chronyc serverstats``).

    Counters a chronyd version does not report are None.
    """

    ntp_requests: int
    command_requests: int
    dropped_ntp_requests: int
    dropped_command_requests: int
    dropped_client_log_records: int
    nts_ke_connections: int | None = None
    dropped_nts_ke_connections: int | None = None
    authenticated_ntp_requests: int | None = None
    interleaved_ntp_requests: int | None = None
    held_ntp_timestamps: int | None = None
    ntp_timestamp_span: int | None = None
    daemon_rx_timestamps: int | None = None
    daemon_tx_timestamps: int | None = None
    kernel_rx_timestamps: int | None = None
    kernel_tx_timestamps: int | None = None
    hw_rx_timestamps: int | None = None
    hw_tx_timestamps: int | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    """Counts of sources by activity (``chronyc activity``)."""

    online: int
    offline: int
    burst_online: int
    burst_offline: int
    unresolved: int


@dataclass(frozen=True, slots=True)
class AuthData:
    """Authentication of one NTP source (``chronyc authdata``)."""

    address: str
    mode: AuthMode
    key_type: KeyType
    key_id: int
    key_length: int
    ke_attempts: int
    last_ke_ago: int
    cookies: int
    cookie_length: int
    nak: bool


@dataclass(frozen=True, slots=True)
class Smoothing:
    """Time smoothing state (``chronyc smoothing``)."""

    flags: SmoothingFlags
    offset: float
    freq_offset: float
    wander: float
    last_update_ago: float
    remaining_time: float

    def is_active(self) -> bool:
        """True while smoothing is active."""
        return bool(self.flags & SmoothingFlags.ACTIVE)

    def is_leap_only(self) -> bool:
        """True when only leap seconds are smoothed."""
        return bool(self.flags & SmoothingFlags.LEAP_ONLY)


def _ref_id_to_name(ref_id: int) -> str:
    """pychrony 2.x name of :func:`pychrony._convert.refid_name`."""
    from ._convert import refid_name

    return refid_name(ref_id)


@dataclass(frozen=True, slots=True)
class Client:
    """One host in chronyd's client access log (``chronyc clients``).

    Hits and drops count requests of each service (NTP, NTS-KE, command) since the
    host was first logged; intervals are log2 seconds between its requests
    (:data:`NO_INTERVAL`: the service was never used); ``*_ago`` are seconds since
    its last request (:data:`NEVER_SAMPLED`: never). Command requests over the Unix
    socket are not logged: only hosts using the UDP command port count them.
    """

    address: str
    ntp_hits: int
    nke_hits: int
    cmd_hits: int
    ntp_drops: int
    nke_drops: int
    cmd_drops: int
    ntp_interval: int
    nke_interval: int
    cmd_interval: int
    ntp_timeout_interval: int
    last_ntp_hit_ago: int
    last_nke_hit_ago: int
    last_cmd_hit_ago: int
