"""chrony's command protocol on the wire, driven by the field registry.

Requests and replies are the packets of chrony's ``candm.h`` (protocol version 6):

* a request is a 20-byte header (version, packet type 1, two reserved bytes,
  command, attempt, sequence, two reserved words), the command's data (a record
  index or an address) and zero padding up to the length of the longest reply
  the command can get: chronyd never sends a reply longer than the request;
* a reply is a 28-byte header (version, packet type 2, two reserved bytes,
  command, reply code, status, three reserved half-words, the echoed sequence,
  two reserved words) followed by the layout the reply code names.

Every layout is compiled once, at import, from :mod:`pychrony.registry` into a
:class:`Layout`: one ``struct.Struct`` for the whole record plus a short list of
conversions (chrony's 32-bit floats, timespecs, addresses). The encoders are the
inverse, for tests and fake servers. All multi-byte values are big-endian.
"""

from __future__ import annotations

import functools
import math
import socket
import struct
from collections.abc import Sequence
from enum import IntEnum
from typing import Any, Final, NamedTuple, TypeAlias

from .. import registry as reg
from .._errors import LibchronyError, libchrony_error, status_error
from ..exceptions import ChronyDataError
from ..models import SourceMode
from ..registry import Field, Report, Response, Wire

__all__ = [
    "COUNT_LAYOUT",
    "FLOAT_OFFSET",
    "FLOAT_SCALE",
    "LAYOUTS",
    "NAME_REQUEST_LENGTH",
    "REPLY_HEADER",
    "REPLY_KEY",
    "REPORT_LAYOUTS",
    "REQUEST_HEADER",
    "REQUEST_START",
    "Layout",
    "ReplyHeader",
    "ReplyKey",
    "Status",
    "address_text",
    "check_reply",
    "check_status",
    "decode_address",
    "decode_float",
    "decode_name",
    "decode_reply",
    "decode_timespec",
    "encode_address",
    "encode_float",
    "encode_reply",
    "encode_request",
    "encode_timespec",
    "parse_reply_header",
    "request_header",
    "request_length",
    "request_struct",
    "request_tail",
]

PKT_TYPE_REQUEST: Final = 1
PKT_TYPE_REPLY: Final = 2

#: version, packet type, res1, res2, command, attempt, sequence, pad1, pad2.
REQUEST_HEADER: Final = struct.Struct(">BBBBHHIII")
#: version, packet type, res1, res2, command, reply, status, pad1..3, sequence, pad4, pad5.
REPLY_HEADER: Final = struct.Struct(">BBBBHHHHHHIII")
assert REQUEST_HEADER.size == reg.REQUEST_HEADER_LEN
assert REPLY_HEADER.size == reg.RESPONSE_HEADER_LEN

_INDEX: Final = struct.Struct(">I")
#: A request header packed from its three variable words: the first half-word is
#: (version << 8 | packet type), the reserved bytes and words are zero.
_REQUEST_HEAD: Final = struct.Struct(">HxxHHI8x")
_pack_request_head: Final = _REQUEST_HEAD.pack
_VERSION_AND_TYPE: Final = reg.PROTOCOL_VERSION << 8 | PKT_TYPE_REQUEST
_ADDRESS_LEN: Final = Wire.ADDRESS.size


class Status(IntEnum):
    """chronyd's status codes (``STT_*``) that matter to a reading client."""

    SUCCESS = 0
    FAILED = 1
    UNAUTHORISED = 2
    INVALID = 3
    NO_SUCH_SOURCE = 4
    NOT_ENABLED = 6
    NO_RTC = 13
    BAD_PACKET_VERSION = 18
    BAD_PACKET_LENGTH = 19


# -- chrony's value encodings -------------------------------------------------

# Float: 7-bit signed exponent, 25-bit signed coefficient, no hidden bit;
# value = coefficient * 2 ** (exponent - 25).
_COEF_BITS = 25
_COEF_MASK = (1 << _COEF_BITS) - 1
_COEF_MAX = (1 << (_COEF_BITS - 1)) - 1
_EXP_MAX = (1 << 6) - 1
_EXP_MIN = -(1 << 6)
#: ``tv_sec_high`` of a chronyd with a 32-bit ``time_t``: no high bits.
_NO_HIGH_SECONDS = 0x7FFFFFFF

_FAMILY_UNSPEC, _FAMILY_INET4, _FAMILY_INET6, _FAMILY_ID = 0, 1, 2, 3


def decode_float(raw: int) -> float:
    """chrony's 32-bit float (as an unsigned integer) to a Python float (exact)."""
    exp = raw >> _COEF_BITS
    if exp > _EXP_MAX:
        exp -= 1 << 7
    coef = raw & _COEF_MASK
    if coef > _COEF_MAX:
        coef -= 1 << _COEF_BITS
    return math.ldexp(coef, exp - _COEF_BITS)


def _float_tables() -> tuple[tuple[float, ...], tuple[float, ...]]:
    # Indexed by the top byte (7-bit exponent, the coefficient's sign bit): the value
    # is raw * SCALE[top] + OFFSET[top], where OFFSET takes away the top byte's share
    # of raw and adds the sign's. Exact: both terms are multiples of the scale below
    # 2**33 scales, and the result fits in the coefficient's 25 bits.
    scale, offset = [], []
    for top in range(256):
        exp, negative = top >> 1, top & 1
        if exp > _EXP_MAX:
            exp -= 1 << 7
        unit = math.ldexp(1.0, exp - _COEF_BITS)
        scale.append(unit)
        sign = -math.ldexp(unit, _COEF_BITS - 1) if negative else 0.0
        offset.append(sign - math.ldexp(unit, 24) * top)
    return tuple(scale), tuple(offset)


#: decode_float by table: ``FLOAT_SCALE[raw >> 24] * raw + FLOAT_OFFSET[raw >> 24]``
#: (what the reader's generated decoders do, without a call per float).
FLOAT_SCALE, FLOAT_OFFSET = _float_tables()


def encode_float(value: float) -> int:
    """A float in chrony's 32-bit format (unsigned): rounded, saturating, NaN -> 0."""
    if value != value or value == 0.0:
        return 0
    if math.isinf(value):
        exp, coef = _EXP_MAX, _COEF_MAX if value > 0 else -_COEF_MAX - 1
    else:
        mantissa, exp = math.frexp(value)  # value = mantissa * 2**exp, 0.5 <= |m| < 1
        coef = round(mantissa * (1 << (_COEF_BITS - 1)))  # value = coef * 2**(exp - 24)
        exp += 1  # the format divides by 2**25
        if not -_COEF_MAX - 1 <= coef <= _COEF_MAX:  # rounded up to 2**24: one bit less
            coef //= 2
            exp += 1
        if exp > _EXP_MAX:
            exp, coef = _EXP_MAX, _COEF_MAX if coef > 0 else -_COEF_MAX - 1
        elif exp < _EXP_MIN:
            shift = _EXP_MIN - exp
            coef = coef >> shift if shift < _COEF_BITS else 0
            exp = _EXP_MIN if coef else 0
    return ((exp & 0x7F) << _COEF_BITS) | (coef & _COEF_MASK)


def decode_timespec(high: int, low: int, nsec: int) -> tuple[int, int]:
    """(seconds, nanoseconds) of a timespec sent as seconds high/low + nanoseconds.

    The seconds are a signed 64-bit ``time_t`` (chrony's util.c
    UTI_TimespecNetworkToHost); ``TV_NOHIGHSEC`` as the high word means 0.
    """
    if high == _NO_HIGH_SECONDS:
        high = 0
    elif high >= 0x80000000:
        high -= 0x100000000
    return (high << 32) | low, nsec


def encode_timespec(sec: int, nsec: int) -> tuple[int, int, int]:
    """(seconds high, seconds low, nanoseconds) words of a timespec."""
    return (sec >> 32) & 0xFFFFFFFF, sec & 0xFFFFFFFF, nsec


def decode_address(raw: bytes, family: int) -> str | None:
    """An IPAddr's text: None when unspecified, ``ID#0000000001`` for an ID.

    IDs stand for sources whose name is not resolved yet (libchrony's format).
    """
    if family == _FAMILY_INET4:
        return socket.inet_ntop(socket.AF_INET, raw[:4])
    if family == _FAMILY_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw)
    if family == _FAMILY_UNSPEC:
        return None
    if family == _FAMILY_ID:
        return f"ID#{int.from_bytes(raw[:4], 'big'):010d}"
    raise ChronyDataError(f"chronyd sent an address of unknown family {family}")


#: Address texts by (raw 16 bytes, family): a poll loop sees the same few
#: addresses again and again, and ``inet_ntop`` is most of an address's cost.
#: Cleared when full, so a stream of new addresses cannot grow it without bound.
ADDRESS_TEXTS: Final[dict[tuple[bytes, int], str | None]] = {}
_ADDRESS_TEXTS_MAX: Final = 1024


def address_text(raw: bytes, family: int) -> str | None:
    """:func:`decode_address`, remembered in :data:`ADDRESS_TEXTS` (errors are not)."""
    key = (raw, family)
    try:
        return ADDRESS_TEXTS[key]
    except KeyError:
        pass
    text = decode_address(raw, family)
    if len(ADDRESS_TEXTS) >= _ADDRESS_TEXTS_MAX:
        ADDRESS_TEXTS.clear()
    ADDRESS_TEXTS[key] = text
    return text


def encode_address(address: str | None) -> bytes:
    """The 20-byte IPAddr of an address string (None or "": unspecified)."""
    if not address:
        return bytes(_ADDRESS_LEN)
    if address.startswith("ID#"):
        raw, family = int(address[3:]).to_bytes(4, "big"), _FAMILY_ID
    elif ":" in address:
        raw, family = socket.inet_pton(socket.AF_INET6, address), _FAMILY_INET6
    else:
        raw, family = socket.inet_pton(socket.AF_INET, address), _FAMILY_INET4
    return raw.ljust(16, b"\0") + family.to_bytes(2, "big") + b"\0\0"


def decode_name(raw: bytes) -> str | None:
    """A NUL-padded string (a source name); None when empty."""
    text = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    return text or None


# -- layouts ------------------------------------------------------------------

_FORMAT = {
    Wire.UINT64: "Q",  # two 32-bit halves, high first: the same bytes
    Wire.UINT32: "I",
    Wire.UINT16: "H",
    Wire.UINT8: "B",
    Wire.INT16: "h",
    Wire.INT8: "b",
    Wire.FLOAT: "I",
    Wire.ADDRESS: "16sH2x",
    Wire.TIMESPEC: "III",
    Wire.ADDRESS_OR_REFID: "16sH2x",
}

# What a field's raw items become (a Layout's decoding program).
_PLAIN, _FLOAT, _ADDRESS, _TIMESPEC, _ADDRESS_OR_REFID = range(5)
_OP = {
    Wire.FLOAT: _FLOAT,
    Wire.ADDRESS: _ADDRESS,
    Wire.TIMESPEC: _TIMESPEC,
    Wire.ADDRESS_OR_REFID: _ADDRESS_OR_REFID,
}
_RAW_ITEMS = {Wire.ADDRESS: 2, Wire.TIMESPEC: 3, Wire.ADDRESS_OR_REFID: 2}

_REFCLOCK = SourceMode.REFCLOCK.value


class Layout:
    """One reply layout of a report, compiled for decoding.

    ``decode`` turns a whole reply datagram into a tuple with one value per field:
    int, float, (seconds, nanoseconds) or address string/None. A sources address
    slot of a refclock holds its reference ID (an int), as libchrony reads it;
    ``index`` maps libchrony's field names (and those alternative names) to
    positions.
    """

    __slots__ = (
        "_mode_offset",
        "_ops",
        "_refclock_mode",
        "code",
        "index",
        "length",
        "name_slot",
        "offsets",
        "positions",
        "report",
        "struct",
    )

    def __init__(self, report: str, response: Response) -> None:
        self.report = report
        self.code = response.code
        self.length = response.length
        self.struct = struct.Struct(">" + "".join(_FORMAT[f.wire] for f in response.fields))
        assert reg.RESPONSE_HEADER_LEN + self.struct.size == self.length
        self.index: dict[str, int] = {}
        self.offsets: dict[str, int] = {}
        ops: list[tuple[int, int]] = []
        raw = offset = 0
        mode_raw = mode_offset = -1
        for position, field in enumerate(response.fields):
            for name in (field.name, field.alt_name):
                if name:
                    self.index.setdefault(name, position)
                    self.offsets.setdefault(name, reg.RESPONSE_HEADER_LEN + offset)
            if field.enum is SourceMode:
                mode_raw = raw
                mode_offset = reg.RESPONSE_HEADER_LEN + offset
                assert field.wire is Wire.UINT16
            ops.append((_OP.get(field.wire, _PLAIN), raw))
            raw += _RAW_ITEMS.get(field.wire, 1)
            offset += field.wire.size
        self._ops = tuple(ops)
        #: Per field, the position of its first item in ``struct``'s tuple.
        self.positions: tuple[int, ...] = tuple(i for _, i in ops)
        #: Raw position of the source mode that says an address slot holds a refid.
        self._refclock_mode = mode_raw
        #: Byte offset of that mode field in a reply (a big-endian half-word).
        self._mode_offset = mode_offset
        if any(op == _ADDRESS_OR_REFID for op, _ in ops) and mode_raw < 0:
            raise AssertionError(f"{report}: an address-or-refid slot needs a mode field")
        #: sources: byte offsets of the address slot a name is asked by and of the
        #: mode that says it holds a refclock's reference ID; None for other reports.
        self.name_slot: tuple[int, int] | None = None
        if report == reg.SOURCES.name and "address" in self.offsets and mode_offset >= 0:
            self.name_slot = (self.offsets["address"], mode_offset)

    def __repr__(self) -> str:
        return f"<Layout {self.report} reply {self.code}, {self.length} bytes>"

    def decode(self, datagram: bytes) -> tuple[Any, ...]:
        """Field values of a reply whose length was checked against ``length``."""
        raw = self.struct.unpack_from(datagram, reg.RESPONSE_HEADER_LEN)
        item = self._item
        return tuple([item(raw, op, i) for op, i in self._ops])

    def _item(self, raw: tuple[Any, ...], op: int, i: int) -> Any:
        if op == _PLAIN:
            return raw[i]
        if op == _FLOAT:
            return decode_float(raw[i])
        if op == _TIMESPEC:
            return decode_timespec(raw[i], raw[i + 1], raw[i + 2])
        if op == _ADDRESS or raw[self._refclock_mode] != _REFCLOCK:
            return decode_address(raw[i], raw[i + 1])
        return int.from_bytes(raw[i][:4], "big")  # a refclock's reference ID in the slot

    def field_value(self, datagram: bytes, name: str) -> Any:
        """The value of field ``name`` alone, as :meth:`decode` gives it."""
        raw = self.struct.unpack_from(datagram, reg.RESPONSE_HEADER_LEN)
        op, i = self._ops[self.index[name]]
        return self._item(raw, op, i)

    def source_address(self, datagram: bytes, name: str) -> bytes | None:
        """The raw IPAddr of address field ``name`` when :meth:`field_value` would give
        an address text (IPv4, IPv6, an unresolved ID); None when it would give None
        or a refclock's reference ID. Reads the two bytes that tell, decodes nothing;
        an unknown family raises as :meth:`field_value` does."""
        start = self.offsets[name]
        mode = self._mode_offset
        if (
            mode >= 0
            and (datagram[mode] << 8 | datagram[mode + 1]) == _REFCLOCK
            and self._ops[self.index[name]][0] == _ADDRESS_OR_REFID
        ):
            return None
        family = datagram[start + 16] << 8 | datagram[start + 17]
        if family == _FAMILY_UNSPEC:
            return None
        if not _FAMILY_INET4 <= family <= _FAMILY_ID:
            decode_address(bytes(datagram[start : start + 16]), family)  # raises
        return bytes(datagram[start : start + _ADDRESS_LEN])

    def address_bytes(self, datagram: bytes, name: str) -> bytes:
        """The raw 20-byte IPAddr of address field ``name`` (to ask by address)."""
        start = self.offsets[name]
        return bytes(datagram[start : start + _ADDRESS_LEN])


def _layouts() -> dict[tuple[str, int], Layout]:
    layouts = {}
    for report in reg.ALL_REPORTS:
        for response in report.responses:
            layouts[report.name, response.code] = Layout(report.name, response)
    return layouts


#: Every reply layout of the registry by (report name, reply code).
LAYOUTS: Final = _layouts()
#: The reply layouts of each report by reply code.
REPORT_LAYOUTS: Final = {
    r.name: {code: layout for (name, code), layout in LAYOUTS.items() if name == r.name}
    for r in reg.ALL_REPORTS
}
#: The reply to the record-count request.
COUNT_LAYOUT: Final = Layout("number of sources", reg.COUNT_RESPONSE)
#: Request length of the source-name request: as long as its reply.
NAME_REQUEST_LENGTH: Final = reg.RESPONSE_HEADER_LEN + reg.SOURCE_NAME_LENGTH


def request_length(report: Report) -> int:
    """Bytes of a record request of ``report``: at least its longest reply."""
    data = {reg.RecordArg.NONE: 0, reg.RecordArg.INDEX: 4, reg.RecordArg.ADDRESS: _ADDRESS_LEN}
    longest = max(r.length for r in report.responses)
    return max(reg.REQUEST_HEADER_LEN + data[report.record_arg], longest)


# -- packets ------------------------------------------------------------------


def encode_request(command: int, sequence: int, attempt: int, data: bytes, length: int) -> bytes:
    """A request packet: header, ``data``, zero padding up to ``length`` bytes."""
    return request_struct(length, len(data)).pack(REQUEST_START, command, attempt, sequence, data)


#: The first half-word of every request: (version << 8 | packet type).
REQUEST_START: Final = _VERSION_AND_TYPE


@functools.cache
def request_struct(length: int, data_length: int) -> struct.Struct:
    """The whole request in one ``Struct``: ``pack(REQUEST_START, command, attempt,
    sequence, data)`` gives the header, ``data`` (``data_length`` bytes) and zero
    padding up to ``length`` bytes in all (none when ``data`` is longer)."""
    padding = max(0, length - reg.REQUEST_HEADER_LEN - data_length)
    return struct.Struct(f">HxxHHI8x{data_length}s{padding}x")


def request_header(command: int, sequence: int, attempt: int) -> bytes:
    """The 20-byte header of a request."""
    return _pack_request_head(_VERSION_AND_TYPE, command, attempt, sequence)


def request_tail(data: bytes, length: int) -> bytes:
    """What follows a request header: ``data`` and padding up to ``length`` bytes in all."""
    if not data:  # single-record and count requests: one shared run of zeros
        tail = _ZERO_TAILS.get(length)
        if tail is None:
            tail = _ZERO_TAILS[length] = bytes(max(0, length - reg.REQUEST_HEADER_LEN))
        return tail
    padding = length - reg.REQUEST_HEADER_LEN - len(data)
    return data + bytes(padding) if padding > 0 else data


_ZERO_TAILS: dict[int, bytes] = {}


def encode_index(index: int) -> bytes:
    """Request data of an index-addressed record."""
    return _INDEX.pack(index)


#: The parts of a reply header a client checks, unpacked in one call: version,
#: packet type, both reserved bytes (as one half-word), command, reply code,
#: status, the echoed sequence (the three pad half-words before it are skipped).
REPLY_KEY: Final = struct.Struct(">BBHHHH6xI")


class ReplyHeader(NamedTuple):
    """The parts of a reply header a client checks (see :func:`parse_reply_header`).

    A tuple in :data:`REPLY_KEY`'s order: the protocol engine unpacks every
    datagram with ``REPLY_KEY`` and makes a ``ReplyHeader`` of the tuple
    (``tuple.__new__``) only for the reply it matched.
    """

    version: int
    packet_type: int
    reserved: int
    command: int
    code: int
    status: int
    sequence: int

    def __repr__(self) -> str:
        return (
            f"<ReplyHeader v{self.version} command {self.command} reply {self.code} "
            f"status {self.status} sequence {self.sequence:#010x}>"
        )


_unpack_key: Final = REPLY_KEY.unpack_from
#: A reply header's REPLY_KEY items as unpacked: the engine passes these on as they
#: are (a ReplyHeader costs a copy per reply); ``ReplyHeader._make(key)`` names them.
ReplyKey: TypeAlias = tuple[int, int, int, int, int, int, int]


def parse_reply_header(datagram: bytes) -> ReplyHeader | None:
    """The header of a datagram that looks like a command reply, else None (ignore it).

    Only the framing is checked here (length, packet type, reserved bytes); the
    caller matches command and sequence and then the protocol version.
    """
    if len(datagram) < reg.RESPONSE_HEADER_LEN:
        return None
    key = _unpack_key(datagram)
    if key[1] != PKT_TYPE_REPLY or key[2]:
        return None
    return ReplyHeader._make(key)


def check_status(header: ReplyHeader, report: str, since: str | None = None) -> None:
    """Raise the exception for a reply that is not a plain success.

    A reply in another protocol version is a ChronyDataError ("too new/old");
    a failure status maps as libchrony maps it (see ``_errors.status_error``).
    """
    if header.version != reg.PROTOCOL_VERSION:
        age = "new" if header.version > reg.PROTOCOL_VERSION else "old"
        raise ChronyDataError(
            f"{report}: chronyd answered in command protocol version {header.version}, "
            f"pychrony speaks version {reg.PROTOCOL_VERSION} (chronyd too {age})"
        )
    if header.status != Status.SUCCESS:
        raise status_error(header.status, report, since)


def decode_reply(
    report: str, header: ReplyKey, datagram: bytes, layouts: dict[int, Layout]
) -> tuple[Layout, tuple[Any, ...]] | None:
    """The layout and field values of a reply to a request of ``report``.

    None when chronyd has no such source (it went away after being counted).
    Raises ChronyError subclasses only: for a failure status, an unknown reply
    code (a newer chronyd: "too new", for this report only) or a length that is
    not the layout's (see :func:`check_reply`), or an address of unknown family.
    """
    layout = check_reply(report, header, datagram, layouts)
    if layout is None:
        return None
    return layout, layout.decode(datagram)


def check_reply(
    report: str, header: ReplyKey, datagram: bytes, layouts: dict[int, Layout]
) -> Layout | None:
    """The layout of a reply to a request of ``report``, its fields not decoded yet.

    None when chronyd has no such source (it went away after being counted).
    Raises ChronyError subclasses only: for a failure status, an unknown reply
    code (a newer chronyd: "too new", for this report only) or a length that is
    not the layout's.
    """
    version, _, _, _, code, status, _ = header
    if status == _SUCCESS and version == _VERSION:  # the common case, checked inline
        layout = layouts.get(code)
        if layout is not None and len(datagram) == layout.length:
            return layout
    if status == Status.NO_SUCH_SOURCE and version == _VERSION:
        return None
    check_status(ReplyHeader._make(header), report, _SINCE.get(report))
    layout = layouts.get(code)
    if layout is None:
        raise libchrony_error(
            LibchronyError.NEW_SERVER, report, "reading", f"unknown reply layout {code}"
        )
    if len(datagram) != layout.length:
        raise ChronyDataError(
            f"{report}: reply {layout.code} of {len(datagram)} bytes, expected {layout.length} "
            "(truncated or corrupted)",
            LibchronyError.INVALID_RESPONSE,
        )
    return layout


_SINCE: Final = {r.name: r.responses[0].since for r in reg.REPORTS}
_SUCCESS: Final = int(Status.SUCCESS)
_VERSION: Final = reg.PROTOCOL_VERSION


def encode_reply(
    response: Response,
    values: Sequence[Any],
    *,
    command: int,
    sequence: int,
    status: int = Status.SUCCESS,
    version: int = reg.PROTOCOL_VERSION,
) -> bytes:
    """A reply packet carrying ``values`` in layout ``response`` (tests, fake servers).

    Values are given as a session returns them: ints, floats, (sec, nsec),
    address strings or None; a sources address slot of a refclock takes the int
    reference ID.
    """
    header = REPLY_HEADER.pack(
        version, PKT_TYPE_REPLY, 0, 0, command, response.code, status, 0, 0, 0, sequence, 0, 0
    )
    raw: list[Any] = []
    for field, value in zip(response.fields, values, strict=True):
        raw.extend(_encode_value(field, value))
    body = Layout("?", response).struct.pack(*raw)
    return header + body


def encode_error_reply(command: int, sequence: int, status: int) -> bytes:
    """An empty (``RPY_NULL``) reply with ``status``, as chronyd sends errors."""
    return REPLY_HEADER.pack(
        reg.PROTOCOL_VERSION, PKT_TYPE_REPLY, 0, 0, command, 1, status, 0, 0, 0, sequence, 0, 0
    )


def _encode_value(field: Field, value: Any) -> tuple[Any, ...]:
    wire = field.wire
    if wire is Wire.FLOAT:
        return (encode_float(value),)
    if wire is Wire.TIMESPEC:
        return encode_timespec(*value)
    if wire is Wire.ADDRESS_OR_REFID and isinstance(value, int):
        return (value.to_bytes(4, "big") + bytes(12), _FAMILY_INET4)
    if wire in (Wire.ADDRESS, Wire.ADDRESS_OR_REFID):
        raw = encode_address(value)
        return raw[:16], int.from_bytes(raw[16:18], "big")
    return (value,)
