"""The field registry: every fact about chrony's reports, as data.

One entry per report: its libchrony name, the wire request/response codes, the
response layouts of each chronyd generation, and per field libchrony's name, the
wire type, the content type, the dataclass attribute it fills, the enum or flag
class of its constants, its conversion and its bounds. The pure-Python reader,
the C reader's tables, the mock session, the C test double's scenarios and the
field reference in the docs are all built from this module; a field name typed
anywhere else is a bug.

Protocol facts (codes, layouts, sizes) follow chrony's ``candm.h`` and
libchrony's report tables; the code is pychrony's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

from . import models as m

__all__ = [
    "ALL_REPORTS",
    "CLIENTS",
    "COUNT_FIELD",
    "MAX_RECORDS",
    "PROTOCOL_VERSION",
    "REPORTS",
    "REPORTS_BY_NAME",
    "REQUEST_COMMANDS",
    "REQUEST_HEADER_LEN",
    "RESPONSE_HEADER_LEN",
    "SOURCE_NAME_LENGTH",
    "SOURCE_NAME_REQUEST",
    "SOURCE_NAME_RESPONSE",
    "SOURCE_NAME_SINCE",
    "Content",
    "Conv",
    "Derived",
    "Field",
    "FieldType",
    "Page",
    "RecordArg",
    "Report",
    "Response",
    "Wire",
]

#: chrony command protocol version spoken by chronyd 2.2 and later.
PROTOCOL_VERSION = 6
#: Bytes of a request header (version, type, reserved, command, attempt, seq, pad).
REQUEST_HEADER_LEN = 20
#: Bytes of a reply header (version, type, reserved, command, reply, status, pad, seq, pad).
RESPONSE_HEADER_LEN = 28


class Wire(IntEnum):
    """How a field is laid out on the wire (all big-endian)."""

    UINT64 = 1  # two 32-bit halves, high first
    UINT32 = 2
    UINT16 = 3
    UINT8 = 4
    INT16 = 5
    INT8 = 6
    FLOAT = 7  # chrony's 32-bit float: 7-bit exponent, 25-bit coefficient
    ADDRESS = 8  # IPAddr: 16 bytes of address, u16 family, u16 padding
    TIMESPEC = 9  # u32 seconds high, u32 seconds low, u32 nanoseconds
    ADDRESS_OR_REFID = 10  # an ADDRESS that holds a reference ID for refclocks

    @property
    def size(self) -> int:
        """Bytes the field takes on the wire."""
        return _WIRE_SIZE[self]


_WIRE_SIZE = {
    Wire.UINT64: 8,
    Wire.UINT32: 4,
    Wire.UINT16: 2,
    Wire.UINT8: 1,
    Wire.INT16: 2,
    Wire.INT8: 1,
    Wire.FLOAT: 4,
    Wire.ADDRESS: 20,
    Wire.TIMESPEC: 12,
    Wire.ADDRESS_OR_REFID: 20,
}


class FieldType(IntEnum):
    """libchrony's ``chrony_field_type``: which typed getter reads a field."""

    NONE = 0
    UINTEGER = 1
    INTEGER = 2
    FLOAT = 3
    TIMESPEC = 4
    STRING = 5


class Content(IntEnum):
    """libchrony's ``chrony_field_content``: what a value means (units)."""

    NONE = 0
    COUNT = 1
    TIME = 2
    INTERVAL_LOG2_SECONDS = 3
    INTERVAL_SECONDS = 4
    OFFSET_SECONDS = 5
    MEASURE_SECONDS = 6
    OFFSET_PPM = 7
    MEASURE_PPM = 8
    OFFSET_PPM_PER_SECOND = 9
    RATIO = 10
    REFERENCE_ID = 11
    ENUM = 12
    BITS = 13
    FLAGS = 14
    ADDRESS = 15
    PORT = 16
    INDEX = 17
    LENGTH_BITS = 18
    LENGTH_BYTES = 19
    BOOLEAN = 20


class Conv(IntEnum):
    """How a raw value becomes a dataclass attribute (both readers switch on it)."""

    INT = 1  # unsigned or signed integer, range-checked
    FLOAT = 2  # finite float, optionally non-negative
    TIME = 3  # timespec -> float seconds since the epoch
    ADDRESS = 4  # address string; "" when unspecified
    ADDRESS_OR_NAME = 5  # address, else the reference ID's name (refclocks)
    REFID_NAME = 6  # reference ID -> "GPS" / dotted quad
    ENUM = 7  # integer -> enum member; unknown values are errors
    FLAGS = 8  # integer -> IntFlag
    BOOL = 9  # integer -> bool
    REQUEST_ADDRESS = 10  # the address the record was requested by
    SOURCE_NAME = 11  # the source's configured name (source-name request); None if unknown


class RecordArg(IntEnum):
    """What a record request carries."""

    NONE = 0  # single-record report
    INDEX = 1  # u32 record index
    ADDRESS = 2  # IPAddr of the source (taken from its sourcestats record)
    PAGE = 3  # first index, count, min hits, reset: several records per reply


_WIRE_FIELD_TYPE = {
    Wire.UINT64: FieldType.UINTEGER,
    Wire.UINT32: FieldType.UINTEGER,
    Wire.UINT16: FieldType.UINTEGER,
    Wire.UINT8: FieldType.UINTEGER,
    Wire.INT16: FieldType.INTEGER,
    Wire.INT8: FieldType.INTEGER,
    Wire.FLOAT: FieldType.FLOAT,
    Wire.ADDRESS: FieldType.STRING,
    Wire.TIMESPEC: FieldType.TIMESPEC,
    Wire.ADDRESS_OR_REFID: FieldType.STRING,
}

_CONTENT_CONV = {
    Content.TIME: Conv.TIME,
    Content.ADDRESS: Conv.ADDRESS,
    Content.ENUM: Conv.ENUM,
    Content.FLAGS: Conv.FLAGS,
    Content.BOOLEAN: Conv.BOOL,
}

_INT_LIMITS = {
    Wire.UINT64: (0, 2**64 - 1),
    Wire.UINT32: (0, 2**32 - 1),
    Wire.UINT16: (0, 2**16 - 1),
    Wire.UINT8: (0, 2**8 - 1),
    Wire.INT16: (-(2**15), 2**15 - 1),
    Wire.INT8: (-(2**7), 2**7 - 1),
    Wire.ADDRESS_OR_REFID: (0, 2**32 - 1),
}


@dataclass(frozen=True, slots=True)
class Field:
    """One wire field of a response layout.

    ``attr`` is the dataclass attribute it fills (None: reserved, not exposed).
    ``alt_name`` is libchrony's name for the same slot when it holds a reference
    ID (sources' refclocks). ``fallback`` names the reference-ID field whose name
    replaces an unspecified address. ``low``/``high`` bound the converted value
    (``low=0`` on a float means non-negative); an ``enum`` of an ENUM field is the
    set of values admitted. Every bound narrower than the wire type's, and every
    enum set, is a guarantee of chronyd's: a comment beside it cites the chrony
    4.3 source (file and function) that makes it one. Values chronyd copies from
    an NTP peer's packet, or computes from configuration it takes unchecked, have
    no such bound (tests/test_bounds.py checks every one on both backends).
    """

    name: str
    wire: Wire
    content: Content
    attr: str | None = None
    enum: type[Enum] | None = None
    conv: Conv | None = None
    low: float | None = None
    high: float | None = None
    alt_name: str | None = None
    fallback: str | None = None

    @property
    def field_type(self) -> FieldType:
        """libchrony's type of the field (the getter that reads it)."""
        return _WIRE_FIELD_TYPE[self.wire]

    @property
    def conversion(self) -> Conv:
        """The conversion: explicit, else derived from content and wire type."""
        if self.conv is not None:
            return self.conv
        if self.content in _CONTENT_CONV:
            return _CONTENT_CONV[self.content]
        if self.wire is Wire.FLOAT:
            return Conv.FLOAT
        return Conv.INT

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """Inclusive (low, high) bounds of the converted value; None: unbounded."""
        wire_low, wire_high = _INT_LIMITS.get(self.wire, (None, None))
        low = self.low if self.low is not None else wire_low
        high = self.high if self.high is not None else wire_high
        return low, high


@dataclass(frozen=True, slots=True)
class Derived:
    """An attribute computed from another field of the same record."""

    attr: str
    source: str
    conv: Conv


@dataclass(frozen=True, slots=True)
class Response:
    """One reply layout (a chronyd generation) of a report."""

    code: int
    fields: tuple[Field, ...]
    since: str  # first chronyd version sending it

    @property
    def length(self) -> int:
        """Bytes of the whole reply, header included."""
        return RESPONSE_HEADER_LEN + sum(f.wire.size for f in self.fields)


@dataclass(frozen=True, slots=True)
class Page:
    """How a paged report's requests and replies frame its records.

    The request carries ``request`` (u32 each); the reply starts with ``header``
    (u32 each), then ``records`` slots of one record each (its Response's fields),
    of which the header's record count are valid.
    """

    request: tuple[str, ...]
    header: tuple[str, ...]
    records: int


@dataclass(frozen=True, slots=True)
class Report:
    """One of libchrony's reports and how pychrony turns it into a dataclass."""

    name: str
    model: type
    getter: str
    record_request: int
    record_arg: RecordArg
    responses: tuple[Response, ...]
    derived: tuple[Derived, ...] = ()
    count_request: int | None = None
    open_over_udp: bool = False
    description: str = ""
    #: False for reports libchrony cannot read: the native backend reads them with
    #: pychrony's own protocol client (ChronyConnection.backend_of tells).
    libchrony: bool = True
    page: Page | None = None

    @property
    def multi(self) -> bool:
        """True for a list of records: counted first (one per source) or paged."""
        return self.count_request is not None or self.page is not None

    @property
    def latest(self) -> Response:
        """The newest reply layout."""
        return self.responses[-1]

    def response(self, code: int) -> Response | None:
        """The layout of reply ``code``, or None when unknown (a newer chronyd)."""
        for response in self.responses:
            if response.code == code:
                return response
        return None

    def field(self, name: str) -> Field:
        """The field called ``name`` in the newest layout holding it."""
        for response in reversed(self.responses):
            for field in response.fields:
                if name in (field.name, field.alt_name):
                    return field
        raise KeyError(f"{self.name} has no field {name!r}")

    def attrs(self) -> tuple[str, ...]:
        """Dataclass attributes filled from this report, in model order."""
        from dataclasses import fields

        return tuple(f.name for f in fields(self.model) if f.name in _filled(self))


def _filled(report: Report) -> set[str]:
    names = {d.attr for d in report.derived}
    for response in report.responses:
        names.update(f.attr for f in response.fields if f.attr)
    return names


# -- shared fields ------------------------------------------------------------

W, C = Wire, Content

#: Reply to REQ_N_SOURCES (code 14 -> 2): how many sources chronyd has.
COUNT_FIELD = Field("sources", W.UINT32, C.COUNT)
COUNT_REQUEST = 14
COUNT_RESPONSE = Response(2, (COUNT_FIELD,), "1.0")
#: Most records a per-source report can have: chronyd takes at most 65536 NTP sources
#: (ntp_sources.c MAX_SOURCES) besides a few reference clocks. A larger count is a
#: corrupt or hostile reply: reading that many records would take practically forever.
MAX_RECORDS = 65536 + 1024

#: REQ_NTP_SOURCE_NAME: the name an NTP source was configured with, asked by its
#: address (IPAddr); the reply RPY_NTP_SOURCE_NAME holds a NUL-padded string of
#: SOURCE_NAME_LENGTH bytes. Open over UDP. Refclocks have no name.
SOURCE_NAME_REQUEST = 65
SOURCE_NAME_RESPONSE = 19
SOURCE_NAME_LENGTH = 256
SOURCE_NAME_SINCE = "4.0"

_REFID = Field("reference ID", W.UINT32, C.REFERENCE_ID, "reference_id")
_STATS_ADDRESS = Field(
    "address", W.ADDRESS, C.ADDRESS, "address", conv=Conv.ADDRESS_OR_NAME, fallback="reference ID"
)


def _counter(name: str, attr: str | None, wire: Wire = W.UINT32) -> Field:
    return Field(name, wire, C.COUNT, attr)


def _reserved(n: int, wire: Wire = W.UINT32) -> tuple[Field, ...]:
    return tuple(Field(f"reserved #{i}", wire, C.NONE) for i in range(1, n + 1))


# -- tracking -----------------------------------------------------------------

TRACKING = Report(
    name="tracking",
    model=m.TrackingStatus,
    getter="get_tracking",
    record_request=33,
    record_arg=RecordArg.NONE,
    open_over_udp=True,
    description="System clock performance: reference, stratum, offsets, frequency.",
    responses=(
        Response(
            5,
            (
                _REFID,
                Field("address", W.ADDRESS, C.ADDRESS, "reference_ip"),
                # [0, 16]: chrony 4.3 reference.c REF_GetReferenceParams reports
                # our_stratum, local_stratum or NTP_MAX_STRATUM (16), and
                # REF_GetTrackingReport 0 for an unsynchronised 16. our_stratum is
                # stratum + 1 of the selected source (REF_SetReference) or 0
                # (REF_SetManualReference); sources.c SRC_SelectSource leaves out NTP
                # sources at or above REF_GetOrphanStratum (<= 16), conf.c
                # parse_refclock takes refclock strata 0..15 and cmdparse.c
                # CPS_ParseLocal local strata 1..15.
                Field("stratum", W.UINT16, C.COUNT, "stratum", low=0, high=16),
                # LeapStatus is all of ntp.h NTP_Leap, what REF_GetReferenceParams sets.
                Field("leap status", W.UINT16, C.ENUM, "leap_status", m.LeapStatus),
                # >= 0: cmdmon.c handle_tracking UTI_TimespecHostToNetwork sends
                # (uint64_t)tv_sec >> 32 as the high word; REF_GetReferenceParams
                # reports a system-clock time (our_ref_time, local_ref_time) or zero
                # (UTI_ZeroTimespec), never a time before 1970.
                Field("reference time", W.TIMESPEC, C.TIME, "ref_time", low=0),
                Field("current correction", W.FLOAT, C.OFFSET_SECONDS, "offset"),
                Field("last offset", W.FLOAT, C.OFFSET_SECONDS, "last_offset"),
                # >= 0: reference.c REF_GetTrackingReport: sqrt(avg2_offset), and
                # REF_SetReference keeps avg2_offset an average of
                # squares (util.c UTI_FloatHostToNetwork saves a NaN as zero).
                Field("RMS offset", W.FLOAT, C.MEASURE_SECONDS, "rms_offset", low=0),
                Field("frequency offset", W.FLOAT, C.OFFSET_PPM, "frequency"),
                Field("residual frequency", W.FLOAT, C.OFFSET_PPM, "residual_freq"),
                # >= 0: 0.0 or 1e6 * our_skew (reference.c REF_GetTrackingReport);
                # our_skew starts at 1.0 or the drift file's skew raised to MIN_SKEW
                # (REF_Initialise); get_clock_estimates then takes (1 - gain) * it +
                # gain * the measured skew (gain CLAMPed to [0, 1]) plus a sqrt(), and
                # the measured skew is positive: sourcestats.c SST_DoNewRegression
                # CLAMPs a source's to MIN_SKEW..MAX_SKEW, sources.c combine_sources
                # gives 1 / sqrt(sum of 1 / skew^2).
                Field("skew", W.FLOAT, C.MEASURE_PPM, "skew", low=0),
                # No bound: a refclock's root delay is its "delay" option (conf.c
                # parse_refclock takes any double, refclock.c accumulate_sample), which
                # sourcestats.c SST_GetTrackingData hands to REF_SetReference.
                Field("root delay", W.FLOAT, C.MEASURE_SECONDS, "root_delay"),
                # No bound: reference.c get_root_dispersion adds LCL_GetMaxClockError()
                # (the "maxclockerror" directive, conf.c parse_double unchecked), and
                # sourcestats.c SST_LoadFromFile accepts dumped dispersions of either
                # sign (|x| < 1e6).
                Field("root dispersion", W.FLOAT, C.MEASURE_SECONDS, "root_dispersion"),
                # >= 0: reference.c REF_SetReference: mono_now - last_ref_update of
                # sched.c's monotonic time (update_monotonic_time only adds fabs()),
                # or 0.0 before a second update.
                Field(
                    "last update interval", W.FLOAT, C.INTERVAL_SECONDS, "update_interval", low=0
                ),
            ),
            "1.0",
        ),
    ),
    derived=(Derived("reference_id_name", "reference ID", Conv.REFID_NAME),),
)

# -- sources ------------------------------------------------------------------

SOURCES = Report(
    name="sources",
    model=m.Source,
    getter="get_sources",
    count_request=COUNT_REQUEST,
    record_request=15,
    record_arg=RecordArg.INDEX,
    open_over_udp=True,
    description="Every configured time source with its state and last sample.",
    responses=(
        Response(
            3,
            (
                Field(
                    "address",
                    W.ADDRESS_OR_REFID,
                    C.ADDRESS,
                    "address",
                    conv=Conv.ADDRESS_OR_NAME,
                    alt_name="reference ID",
                    fallback="reference ID",
                ),
                Field("poll", W.INT16, C.INTERVAL_LOG2_SECONDS, "poll"),
                # No bound: sources.c SRC_UpdateStatus stores MAX(remote stratum, the
                # source's minstratum), and chrony 4.3 cmdparse.c takes any int for
                # minstratum (a range check came later).
                Field("stratum", W.UINT16, C.COUNT, "stratum"),
                # SourceState and SourceMode: cmdmon.c handle_source_data maps every
                # RPT_SourceState and RPT_SourceMode (reports.h) to one of these.
                Field("state", W.UINT16, C.ENUM, "state", m.SourceState),
                Field("mode", W.UINT16, C.ENUM, "mode", m.SourceMode),
                Field("flags", W.UINT16, C.NONE, "flags"),
                # [0, 255]: sources.c SRC_UpdateReachability keeps SOURCE_REACH_BITS (8)
                # bits (reachability %= 1U << SOURCE_REACH_BITS), and SRC_LoadFromFile
                # masks a dumped value the same way.
                Field("reachability", W.UINT16, C.BITS, "reachability", low=0, high=255),
                Field("last sample ago", W.UINT32, C.INTERVAL_SECONDS, "last_sample_ago"),
                Field("original last sample offset", W.FLOAT, C.OFFSET_SECONDS, "orig_latest_meas"),
                Field("adjusted last sample offset", W.FLOAT, C.OFFSET_SECONDS, "latest_meas"),
                # No bound: sourcestats.c SST_DoSourceReport sends 0.5 * root delay +
                # root dispersion of the sample, and a refclock's root delay is its
                # "delay" option, any double (conf.c parse_refclock).
                Field("last sample error", W.FLOAT, C.MEASURE_SECONDS, "latest_meas_err"),
            ),
            "1.0",
        ),
    ),
    # Sessions that can ask chronyd (SOURCE_NAME_REQUEST) fill it; others give None.
    derived=(Derived("name", "address", Conv.SOURCE_NAME),),
)

# -- sourcestats --------------------------------------------------------------

SOURCESTATS = Report(
    name="sourcestats",
    model=m.SourceStats,
    getter="get_source_stats",
    count_request=COUNT_REQUEST,
    record_request=34,
    record_arg=RecordArg.INDEX,
    open_over_udp=True,
    description="Regression statistics of each source's samples.",
    responses=(
        Response(
            6,
            (
                _REFID,
                _STATS_ADDRESS,
                Field("samples", W.UINT32, C.COUNT, "samples"),
                Field("runs", W.UINT32, C.COUNT, "runs"),
                Field("span", W.UINT32, C.INTERVAL_SECONDS, "span"),
                # >= 0: sourcestats.c SST_DoSourcestatsReport sends inst->std_dev:
                # MAX(MIN_STDDEV, sqrt(est_var)) (SST_DoNewRegression) or
                # WORST_CASE_STDDEV_BOUND (SST_ResetInstance).
                Field("standard deviation", W.FLOAT, C.MEASURE_SECONDS, "std_dev", low=0),
                Field("residual frequency", W.FLOAT, C.OFFSET_PPM, "resid_freq"),
                # >= 0: SST_DoSourcestatsReport: 1e6 * inst->skew, CLAMP(MIN_SKEW, ..,
                # MAX_SKEW) (SST_DoNewRegression) or WORST_CASE_FREQ_BOUND.
                Field("skew", W.FLOAT, C.MEASURE_PPM, "skew", low=0),
                Field("offset", W.FLOAT, C.OFFSET_SECONDS, "offset"),
                # No bound: SST_DoSourcestatsReport adds 0.5 * root delay + root
                # dispersion of the best sample, of either sign for a refclock with a
                # negative "delay" option (conf.c parse_refclock).
                Field("offset error", W.FLOAT, C.MEASURE_SECONDS, "offset_err"),
            ),
            "1.0",
        ),
    ),
)

# -- selectdata ---------------------------------------------------------------

SELECTDATA = Report(
    name="selectdata",
    model=m.SelectData,
    getter="get_select_data",
    count_request=COUNT_REQUEST,
    record_request=69,
    record_arg=RecordArg.INDEX,
    description="Why each source is or is not selected (chronyd 4.0+).",
    responses=(
        Response(
            23,
            (
                _REFID,
                _STATS_ADDRESS,
                # SelectState: sources.c SRC_GetSelectReport sends get_status_char()
                # of the source's status; SRC_SelectSource asserts on entry that no
                # source is left SRC_OK ('?'), and 4.3 never assigns SRC_OUTLIER ('L').
                Field("state", W.UINT8, C.ENUM, "state", m.SelectState),
                Field("authentication", W.UINT8, C.BOOLEAN, "authenticated"),
                Field("leap status", W.UINT8, C.ENUM, "leap_status", m.LeapStatus),
                Field("reserved #1", W.UINT8, C.NONE),
                Field(
                    "configured options", W.UINT16, C.FLAGS, "configured_options", m.SelectOptions
                ),
                Field("effective options", W.UINT16, C.FLAGS, "effective_options", m.SelectOptions),
                Field("last sample ago", W.UINT32, C.INTERVAL_SECONDS, "last_sample_ago"),
                Field("score", W.FLOAT, C.RATIO, "score"),
                Field("low limit", W.FLOAT, C.INTERVAL_SECONDS, "low_limit"),
                Field("high limit", W.FLOAT, C.INTERVAL_SECONDS, "high_limit"),
            ),
            "4.0",
        ),
    ),
)

# -- ntpdata ------------------------------------------------------------------

_NTPDATA_COMMON = (
    Field("remote address", W.ADDRESS, C.ADDRESS, "remote_address"),
    Field("local address", W.ADDRESS, C.ADDRESS, "local_address"),
    Field("remote port", W.UINT16, C.PORT, "remote_port"),
    # Leap, version, mode, stratum, poll, precision, root delay and dispersion,
    # reference ID and time are the peer's packet's (chrony 4.3 ntp_core.c
    # receive_packet, "Update the NTP report"; NCR_ResetInstance zeroes them): no
    # bound but what the NTP packet's own field can hold, and chronyd's
    # conversion of it keeps.
    # LeapStatus: all four values of the packet's 2-bit NTP_LVM_TO_LEAP.
    Field("leap status", W.UINT8, C.ENUM, "leap_status", m.LeapStatus),
    Field("version", W.UINT8, C.COUNT, "version"),
    # NTPMode (0..5): ntp_core.c NCR_ProcessRxKnown passes on (proc_packet) only
    # MODE_ACTIVE, MODE_PASSIVE and MODE_SERVER packets to receive_packet; 0 until
    # the first one.
    Field("mode", W.UINT8, C.ENUM, "mode", m.NTPMode),
    Field("stratum", W.UINT8, C.COUNT, "stratum"),
    Field("poll", W.INT8, C.INTERVAL_LOG2_SECONDS, "poll"),
    Field("precision", W.INT8, C.INTERVAL_LOG2_SECONDS, "precision"),
    # >= 0: receive_packet takes pkt_root_delay/dispersion from util.c
    # UTI_Ntp32ToDouble (an unsigned 32-bit value / 65536) or UTI_Ntp32f28ToDouble
    # (unsigned too, for the NTP_EF_EXP1 extension field).
    Field("root delay", W.FLOAT, C.MEASURE_SECONDS, "root_delay", low=0),
    Field("root dispersion", W.FLOAT, C.MEASURE_SECONDS, "root_dispersion", low=0),
    _REFID,
    # >= 0: util.c UTI_Ntp64ToTimespec maps zero to zero and any other value into
    # the era starting at NTP_ERA_SPLIT, after 1970.
    Field("reference time", W.TIMESPEC, C.TIME, "ref_time", low=0),
    Field("offset", W.FLOAT, C.OFFSET_SECONDS, "offset"),
    Field("peer delay", W.FLOAT, C.MEASURE_SECONDS, "peer_delay"),
    Field("peer dispersion", W.FLOAT, C.MEASURE_SECONDS, "peer_dispersion"),
    Field("response time", W.FLOAT, C.MEASURE_SECONDS, "response_time"),
    Field("jitter asymmetry", W.FLOAT, C.RATIO, "jitter_asymmetry"),
    Field("flags", W.UINT16, C.FLAGS, "flags", m.NTPFlags),
    # Timestamping: receive_packet sets tss_chars[] ('D', 'K', 'H'), 0 until then.
    Field("transmit timestamping", W.UINT8, C.ENUM, "tx_timestamping", m.Timestamping),
    Field("receive timestamping", W.UINT8, C.ENUM, "rx_timestamping", m.Timestamping),
    _counter("transmitted messages", "tx_messages"),
    _counter("received messages", "rx_messages"),
    _counter("received valid messages", "rx_valid_messages"),
    _counter("received good messages", "rx_good_messages"),
)

NTPDATA = Report(
    name="ntpdata",
    model=m.NTPData,
    getter="get_ntp_data",
    count_request=COUNT_REQUEST,
    record_request=57,
    record_arg=RecordArg.ADDRESS,
    description="The last NTP exchange with each NTP source (refclocks have none).",
    responses=(
        Response(16, (*_NTPDATA_COMMON, *_reserved(3)), "3.0"),
        Response(
            26,
            (
                *_NTPDATA_COMMON,
                _counter("kernel transmit timestamps", "kernel_tx_timestamps"),
                _counter("kernel receive timestamps", "kernel_rx_timestamps"),
                _counter("hardware transmit timestamps", "hw_tx_timestamps"),
                _counter("hardware receive timestamps", "hw_rx_timestamps"),
                *_reserved(4),
            ),
            "4.6",
        ),
    ),
    derived=(Derived("reference_id_name", "reference ID", Conv.REFID_NAME),),
)

# -- serverstats --------------------------------------------------------------


def _serverstats(wire: Wire, *names: str) -> tuple[Field, ...]:
    return tuple(_counter(name, _SERVERSTATS_ATTRS[name], wire) for name in names)


_SERVERSTATS_ATTRS = {
    "received NTP requests": "ntp_requests",
    "accepted NTS-KE connections": "nts_ke_connections",
    "received command requests": "command_requests",
    "dropped NTP requests": "dropped_ntp_requests",
    "dropped NTS-KE connections": "dropped_nts_ke_connections",
    "dropped command requests": "dropped_command_requests",
    "dropped client log records": "dropped_client_log_records",
    "received authenticated NTP requests": "authenticated_ntp_requests",
    "received interleaved NTP requests": "interleaved_ntp_requests",
    "held NTP timestamps": "held_ntp_timestamps",
    "NTP timestamp span": "ntp_timestamp_span",
    "served daemon RX timestamps": "daemon_rx_timestamps",
    "served daemon TX timestamps": "daemon_tx_timestamps",
    "served kernel RX timestamps": "kernel_rx_timestamps",
    "served kernel TX timestamps": "kernel_tx_timestamps",
    "served hardware RX timestamps": "hw_rx_timestamps",
    "served hardware TX timestamps": "hw_tx_timestamps",
}
_SERVERSTATS_V2 = tuple(_SERVERSTATS_ATTRS)[:8]
_SERVERSTATS_V3 = tuple(_SERVERSTATS_ATTRS)[:11]

SERVERSTATS = Report(
    name="serverstats",
    model=m.ServerStats,
    getter="get_server_stats",
    record_request=54,
    record_arg=RecordArg.NONE,
    description="Counters of the NTP, NTS-KE and command servers.",
    responses=(
        Response(
            14,
            _serverstats(
                W.UINT32,
                "received NTP requests",
                "received command requests",
                "dropped NTP requests",
                "dropped command requests",
                "dropped client log records",
            ),
            "3.0",
        ),
        Response(22, _serverstats(W.UINT32, *_SERVERSTATS_V2), "4.0"),
        Response(24, _serverstats(W.UINT32, *_SERVERSTATS_V3), "4.2"),
        Response(
            25,
            (*_serverstats(W.UINT64, *_SERVERSTATS_ATTRS), *_reserved(4, W.UINT64)),
            "4.4",
        ),
    ),
)

# -- activity -----------------------------------------------------------------

ACTIVITY = Report(
    name="activity",
    model=m.Activity,
    getter="get_activity",
    record_request=44,
    record_arg=RecordArg.NONE,
    open_over_udp=True,
    description="How many sources are online, offline, bursting or unresolved.",
    responses=(
        Response(
            12,
            (
                _counter("online sources", "online"),
                _counter("offline sources", "offline"),
                _counter("burst online-return sources", "burst_online"),
                _counter("burst offline-return sources", "burst_offline"),
                _counter("unresolved sources", "unresolved"),
            ),
            "1.0",
        ),
    ),
)

# -- authdata -----------------------------------------------------------------

AUTHDATA = Report(
    name="authdata",
    model=m.AuthData,
    getter="get_auth_data",
    count_request=COUNT_REQUEST,
    record_request=67,
    record_arg=RecordArg.ADDRESS,
    description="Authentication (symmetric key or NTS) of each NTP source (chronyd 4.0+).",
    responses=(
        Response(
            20,
            (
                # AuthMode: cmdmon.c handle_auth_data maps each NTP_AuthMode to one.
                Field("mode", W.UINT16, C.ENUM, "mode", m.AuthMode),
                # KeyType: handle_auth_data sends keys.c KEY_GetKeyInfo's key type, an
                # HSH_Algorithm (hash.h, 0..11; keys.c KEY_Reload takes no other) or
                # CMC_Algorithm (cmac.h, 13, 14), or for NTS nts_ntp_client.c
                # NNC_GetReport's AEAD algorithm: nts_ke_client.c process_response
                # accepts AEAD_AES_SIV_CMAC_256 (15) only; chrony 4.4+ also
                # AEAD_AES_128_GCM_SIV (30), the only other siv_gnutls.c/siv_nettle.c
                # implement.
                Field("key type", W.UINT16, C.ENUM, "key_type", m.KeyType),
                Field("key ID", W.UINT32, C.INDEX, "key_id"),
                Field("key length", W.UINT16, C.LENGTH_BITS, "key_length"),
                Field("key establishment attempts", W.UINT16, C.COUNT, "ke_attempts"),
                Field("last key establishment ago", W.UINT32, C.INTERVAL_SECONDS, "last_ke_ago"),
                Field("cookies", W.UINT16, C.COUNT, "cookies"),
                Field("cookie length", W.UINT16, C.LENGTH_BYTES, "cookie_length"),
                Field("NAK", W.UINT16, C.BOOLEAN, "nak"),
                *_reserved(1, W.UINT16),
            ),
            "4.0",
        ),
    ),
    # ``address`` is the request's own address, taken from the sourcestats record.
    derived=(Derived("address", "address", Conv.REQUEST_ADDRESS),),
)

# -- rtcdata ------------------------------------------------------------------

RTCDATA = Report(
    name="rtcdata",
    model=m.RTCData,
    getter="get_rtc_data",
    record_request=35,
    record_arg=RecordArg.NONE,
    open_over_udp=True,
    description="Real-time clock tracking; None when chronyd does not track the RTC.",
    responses=(
        Response(
            7,
            (
                # No bound: rtc_linux.c RTC_Linux_GetReport sends coef_ref_time, the
                # RTC's own reading (run_regression's rtc_ref, t_from_rtc), which a
                # reset RTC may put before 1970.
                Field("reference time", W.TIMESPEC, C.TIME, "ref_time"),
                Field("samples", W.UINT16, C.COUNT, "samples"),
                Field("runs", W.UINT16, C.COUNT, "runs"),
                Field("span", W.UINT32, C.INTERVAL_SECONDS, "span"),
                Field("offset", W.FLOAT, C.OFFSET_SECONDS, "offset"),
                Field("frequency offset", W.FLOAT, C.OFFSET_PPM, "freq_offset"),
            ),
            "1.0",
        ),
    ),
)

# -- smoothing ----------------------------------------------------------------

SMOOTHING = Report(
    name="smoothing",
    model=m.Smoothing,
    getter="get_smoothing",
    record_request=51,
    record_arg=RecordArg.NONE,
    open_over_udp=True,
    description="Server time smoothing (smoothtime directive).",
    responses=(
        Response(
            13,
            (
                Field("flags", W.UINT32, C.FLAGS, "flags", m.SmoothingFlags),
                Field("offset", W.FLOAT, C.OFFSET_SECONDS, "offset"),
                Field("frequency offset", W.FLOAT, C.OFFSET_PPM, "freq_offset"),
                Field("wander", W.FLOAT, C.OFFSET_PPM_PER_SECOND, "wander"),
                Field("last update ago", W.FLOAT, C.INTERVAL_SECONDS, "last_update_ago"),
                Field("remaining time", W.FLOAT, C.INTERVAL_SECONDS, "remaining_time"),
            ),
            "2.1",
        ),
    ),
)

# -- clients ------------------------------------------------------------------

CLIENTS = Report(
    name="clients",
    model=m.Client,
    getter="get_clients",
    record_request=68,  # REQ_CLIENT_ACCESSES_BY_INDEX3
    record_arg=RecordArg.PAGE,
    libchrony=False,
    description=(
        "chronyd's client access log: NTP, NTS-KE and command hits, drops and intervals "
        "per client address (chronyd 4.0+, Unix socket only)."
    ),
    page=Page(
        request=("first index", "clients", "minimum hits", "reset"),
        header=("indices", "next index", "clients"),
        records=8,  # MAX_CLIENT_ACCESSES
    ),
    responses=(
        Response(
            21,  # RPY_CLIENT_ACCESSES_BY_INDEX3
            (
                Field("address", W.ADDRESS, C.ADDRESS, "address"),
                _counter("NTP hits", "ntp_hits"),
                _counter("NTS-KE hits", "nke_hits"),
                _counter("command hits", "cmd_hits"),
                _counter("NTP drops", "ntp_drops"),
                _counter("NTS-KE drops", "nke_drops"),
                _counter("command drops", "cmd_drops"),
                Field("NTP interval", W.INT8, C.INTERVAL_LOG2_SECONDS, "ntp_interval"),
                Field("NTS-KE interval", W.INT8, C.INTERVAL_LOG2_SECONDS, "nke_interval"),
                Field("command interval", W.INT8, C.INTERVAL_LOG2_SECONDS, "cmd_interval"),
                Field(
                    "NTP timeout interval",
                    W.INT8,
                    C.INTERVAL_LOG2_SECONDS,
                    "ntp_timeout_interval",
                ),
                Field("last NTP hit ago", W.UINT32, C.INTERVAL_SECONDS, "last_ntp_hit_ago"),
                Field("last NTS-KE hit ago", W.UINT32, C.INTERVAL_SECONDS, "last_nke_hit_ago"),
                Field("last command hit ago", W.UINT32, C.INTERVAL_SECONDS, "last_cmd_hit_ago"),
            ),
            "4.0",
        ),
    ),
)

#: All reports, in libchrony's order.
REPORTS: tuple[Report, ...] = (
    TRACKING,
    SOURCES,
    SOURCESTATS,
    SELECTDATA,
    ACTIVITY,
    AUTHDATA,
    NTPDATA,
    SERVERSTATS,
    RTCDATA,
    SMOOTHING,
)
#: Every report: libchrony's ten, then those only pychrony's protocol client reads.
ALL_REPORTS: tuple[Report, ...] = (*REPORTS, CLIENTS)
REPORTS_BY_NAME: dict[str, Report] = {r.name: r for r in ALL_REPORTS}

#: Every command code pychrony sends to chronyd: the reports' record and count
#: requests and the source-name request. All are monitoring (read-only) commands;
#: tests/test_read_only.py checks them against chrony's list and every datagram sent.
REQUEST_COMMANDS: frozenset[int] = frozenset(
    {r.record_request for r in ALL_REPORTS}
    | {r.count_request for r in ALL_REPORTS if r.count_request is not None}
    | {COUNT_REQUEST, SOURCE_NAME_REQUEST}
)
