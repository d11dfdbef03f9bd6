"""Packets of chrony's command protocol, both directions, from the field registry.

A server decodes requests (:func:`decode_request`) and encodes replies
(:func:`encode_record`, :func:`encode_status` …) with the same :mod:`.wire` layouts a
client decodes them with (:func:`decode_reply`): no field is described twice.
What differs between chronyd versions — the reply layout of each report, how
long each request must be, how many commands there are — is a
:class:`ChronydProfile`.

The request lengths below are chronyd's (``pktlength.c``): a request carries its
data and zero padding up to the length of the reply it asks for, so a reply is
never longer than its request. Monitoring requests' lengths follow from the
registry; control commands', which pychrony never sends, are listed once here.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from .. import _clients
from .. import registry as reg
from ..exceptions import ChronyDataError
from ..registry import RecordArg, Report, Response
from . import wire as _wire

__all__ = [
    "CHRONY_VERSIONS",
    "ChronydProfile",
    "Request",
    "Status",
    "check_reply",
    "decode_reply",
    "decode_request",
    "encode_clients",
    "encode_name",
    "encode_record",
    "encode_status",
    "profile",
]

Status = _wire.Status
#: The client's side of the codec: the same layouts, read the other way.
decode_reply = _wire.decode_reply
check_reply = _wire.check_reply

#: Bytes of the largest request chronyd reads (``sizeof(CMD_Request)``); longer is dropped.
MAX_REQUEST_LENGTH: Final = 860
#: Oldest protocol version chronyd answers with STT_BADPKTVERSION (older: silence).
_VERSION_MISMATCH_COMPAT: Final = 5
#: chronyd versions whose wire behaviour a profile reproduces.
CHRONY_VERSIONS: Final = ("4.3", "4.4", "4.5", "4.6", "4.7", "4.8")

# Commands that are not reports (candm.h REQ_*), by code.
REQ_NULL: Final = 0
REQ_LOGON: Final = 10
REQ_MANUAL_LIST: Final = 41
RPY_NULL: Final = 1
RPY_MANUAL_LIST2: Final = 18
_MANUAL_LIST_LENGTH: Final = 416  # an empty list: the count and 16 zeroed samples

#: Whole request length (data and padding) chronyd 4.3 expects of each command that
#: is not a report request; 0: a command it no longer supports (STT_INVALID).
_CONTROL_LENGTHS_4_3: Final = {
    0: 28, 1: 60, 2: 60, 3: 68, 4: 44, 5: 44, 6: 28, 7: 44, 8: 44, 9: 28, 10: 32,
    11: 40, 12: 0, 13: 28, 16: 28, 17: 44, 18: 44, 19: 44, 20: 44, 21: 44, 22: 44,
    23: 44, 24: 44, 25: 40, 26: 40, 27: 0, 28: 0, 29: 40, 30: 28, 31: 28, 32: 0,
    36: 28, 37: 28, 38: 0, 39: 0, 40: 0, 41: 416, 42: 28, 43: 28, 45: 44, 46: 44,
    47: 44, 48: 28, 49: 28, 50: 28, 52: 28, 53: 28, 55: 0, 56: 36, 58: 0, 59: 0,
    60: 0, 61: 0, 62: 28, 63: 28, 64: 372, 66: 28, 68: 520, 70: 28, 71: 28,
}  # fmt: skip
#: What later versions changed: MODIFY_SELECTOPTS (4.4); MODIFY_OFFSET, LOCAL3 and
#: LOCAL2 withdrawn (4.6).
_CONTROL_CHANGES: Final = {(4, 4): {72: 52}, (4, 6): {73: 48, 74: 48, 56: 0}}
_REQUEST_TYPES: Final = {(4, 3): 72, (4, 4): 73, (4, 6): 75}


def _version_tuple(version: str) -> tuple[int, int]:
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        raise ValueError(f"not a chronyd version: {version!r} (e.g. 4.3)") from None
    return major, minor


def _data_length(arg: RecordArg) -> int:
    return {RecordArg.NONE: 0, RecordArg.INDEX: 4, RecordArg.ADDRESS: reg.Wire.ADDRESS.size}[arg]


@dataclass(frozen=True)
class ChronydProfile:
    """What one chronyd version expects on the wire and which layouts it sends."""

    version: str
    request_types: int
    #: The reply layout it sends per report name.
    layouts: dict[str, Response]
    #: Whole request length per command (0: unsupported).
    lengths: dict[int, int]
    #: Commands answered over UDP (chronyd's PERMIT_OPEN); the rest get STT_UNAUTH.
    open_commands: frozenset[int]

    def layout_codes(self) -> dict[str, int]:
        """Reply code per report name (a ChronyStateConfig's ``layouts``)."""
        return {name: response.code for name, response in self.layouts.items()}


@functools.cache
def profile(version: str = "4.3") -> ChronydProfile:
    """The profile of chronyd ``version`` (4.3 or later)."""
    wanted = _version_tuple(version)
    if wanted < (4, 3):
        raise ValueError(f"the fake plays chronyd 4.3 or later, not {version}")
    layouts = {}
    for report in reg.ALL_REPORTS:
        sent = [r for r in report.responses if _version_tuple(r.since) <= wanted]
        layouts[report.name] = sent[-1]
    lengths = dict(_CONTROL_LENGTHS_4_3)
    request_types = 0
    for since, changes in sorted(_CONTROL_CHANGES.items()):
        if since <= wanted:
            lengths.update(changes)
    for since, count in sorted(_REQUEST_TYPES.items()):
        if since <= wanted:
            request_types = count
    for report in reg.REPORTS:
        length = reg.REQUEST_HEADER_LEN + _data_length(report.record_arg)
        lengths[report.record_request] = max(length, layouts[report.name].length)
    lengths[reg.CLIENTS.record_request] = _clients.REQUEST_LENGTH
    lengths[reg.COUNT_REQUEST] = max(reg.REQUEST_HEADER_LEN, reg.COUNT_RESPONSE.length)
    lengths[reg.SOURCE_NAME_REQUEST] = _wire.NAME_REQUEST_LENGTH
    open_commands = frozenset(
        {r.record_request for r in reg.REPORTS if r.open_over_udp}
        | {reg.COUNT_REQUEST, reg.SOURCE_NAME_REQUEST, REQ_NULL, REQ_LOGON, REQ_MANUAL_LIST}
    )
    return ChronydProfile(version, request_types, layouts, lengths, open_commands)


class Request(NamedTuple):
    """A request as chronyd reads it: header words and the bytes after the header."""

    version: int
    command: int
    attempt: int
    sequence: int
    length: int
    data: bytes

    @property
    def record_index(self) -> int:
        """The record index an index-addressed request carries."""
        return int.from_bytes(self.data[:4], "big")

    @property
    def address(self) -> str | None:
        """The address an address-addressed request carries (None: unspecified)."""
        family = int.from_bytes(self.data[16:18], "big")
        try:
            return _wire.decode_address(self.data[:16], family)
        except ChronyDataError:  # an unknown family: no source has it
            return None


def decode_request(datagram: bytes) -> Request | None:
    """The request in ``datagram``; None for what chronyd drops without a word
    (shorter than a reply header, longer than any request, not a request packet,
    reserved bytes set)."""
    if not reg.RESPONSE_HEADER_LEN <= len(datagram) <= MAX_REQUEST_LENGTH:
        return None
    version, pkt_type, res1, res2, command, attempt, sequence, _, _ = (
        _wire.REQUEST_HEADER.unpack_from(datagram)
    )
    if pkt_type != _wire.PKT_TYPE_REQUEST or res1 or res2:
        return None
    data = bytes(datagram[reg.REQUEST_HEADER_LEN :])
    return Request(version, command, attempt, sequence, len(datagram), data)


def version_reply(request: Request) -> bytes | None:
    """chronyd's answer to a request in another protocol version, or None (silence)."""
    if request.version >= _VERSION_MISMATCH_COMPAT:
        return encode_status(request, Status.BAD_PACKET_VERSION)
    return None


def encode_status(request: Request, status: int) -> bytes:
    """An empty (RPY_NULL) reply with ``status``, as chronyd answers errors."""
    return _wire.encode_error_reply(request.command, request.sequence, status)


def encode_record(request: Request, response: Response, values: Sequence[Any]) -> bytes:
    """The reply carrying a record's raw ``values`` in layout ``response`` (reserved
    words as chronyd fills them)."""
    fill = _RESERVED_FILL.get(response)
    if fill is not None:
        values = tuple(f if f is not None else v for f, v in zip(fill, values, strict=True))
    return _wire.encode_reply(response, values, command=request.command, sequence=request.sequence)


def encode_clients(request: Request, records: Sequence[Sequence[Any]]) -> bytes:
    """The reply to CLIENT_ACCESSES_BY_INDEX3: the page the request asks of ``records``."""
    return _clients.encode_page_reply(
        records, request.data, command=request.command, sequence=request.sequence
    )


def encode_count(request: Request, count: int) -> bytes:
    """The reply to N_SOURCES."""
    return _wire.encode_reply(
        reg.COUNT_RESPONSE, (count,), command=request.command, sequence=request.sequence
    )


def encode_name(request: Request, name: str) -> bytes:
    """The reply to NTP_SOURCE_NAME: the name, NUL-padded (cut at 256 bytes)."""
    raw = name.encode()[: reg.SOURCE_NAME_LENGTH].ljust(reg.SOURCE_NAME_LENGTH, b"\0")
    return _raw_reply(request, reg.SOURCE_NAME_RESPONSE, raw)


def encode_empty_manual_list(request: Request) -> bytes:
    """The reply to MANUAL_LIST with no manual samples."""
    return _raw_reply(request, RPY_MANUAL_LIST2, bytes(_MANUAL_LIST_LENGTH - 28))


def encode_null(request: Request) -> bytes:
    """The plain success reply (RPY_NULL) to REQ_NULL."""
    return _raw_reply(request, RPY_NULL, b"")


def _raw_reply(request: Request, code: int, body: bytes) -> bytes:
    header = _wire.REPLY_HEADER.pack(
        reg.PROTOCOL_VERSION, _wire.PKT_TYPE_REPLY, 0, 0, request.command, code,
        Status.SUCCESS, 0, 0, 0, request.sequence, 0, 0,
    )  # fmt: skip
    return header + body


def garbage(length: int) -> bytes:
    """Random bytes: no reply a client could match."""
    return os.urandom(length)


def _reserved_fill(report: Report) -> dict[Response, tuple[int | None, ...]]:
    """chronyd sets the reserved words of ``report``'s replies to all ones."""
    return {
        response: tuple(
            (1 << (8 * f.wire.size)) - 1
            if f.attr is None and f.name.startswith("reserved")
            else None
            for f in response.fields
        )
        for response in report.responses
    }


_RESERVED_FILL: Final = {**_reserved_fill(reg.NTPDATA), **_reserved_fill(reg.SERVERSTATS)}
