"""chronyd's client access log (``chronyc clients``), read with pychrony's own client.

The request is ``REQ_CLIENT_ACCESSES_BY_INDEX3`` (registry: :data:`~pychrony.registry.CLIENTS`):
first index, how many clients (at most 8 per reply), minimum hits and reset, which
pychrony always sends as 0 (reading never clears chronyd's counters). The reply
``RPY_CLIENT_ACCESSES_BY_INDEX3`` holds the size of chronyd's table, the index after
the last one it looked at, the number of valid records and 8 record slots. As
chronyc does, pages are asked until the next index reaches the table's size or a
reply holds fewer than 8 clients; :data:`MAX_PAGES` bounds a call, each page is one
exchange bounded by ``timeout * attempts``, and the next index must grow.

libchrony has no such report, so the native backend reads it through a
:class:`~pychrony.protocol.session.CmdmonSession` of its own (``ChronyConnection.backend_of``
says so). chronyd answers it over the Unix socket only (it needs the command
socket's authority): over UDP pychrony refuses at once with ChronyPermissionError.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import Any, Final, cast

from . import registry as reg
from ._errors import LibchronyError
from ._reader_py import read_records
from ._session import Session
from .exceptions import ChronyDataError, ChronyDisabledError, ChronyPermissionError
from .models import Client
from .protocol.record import Record as _Record
from .protocol.session import CmdmonSession
from .protocol.sync import Steps
from .protocol.wire import (
    PKT_TYPE_REPLY,
    REPLY_HEADER,
    Layout,
    ReplyHeader,
    Status,
    check_status,
    encode_reply,
    request_struct,
)

__all__ = [
    "MAX_PAGES",
    "PAGE_LENGTH",
    "RECORD_LAYOUT",
    "UDP_REFUSAL",
    "clients_steps",
    "encode_page",
    "encode_page_reply",
    "read_clients",
]

_REPORT: Final = reg.CLIENTS


def _page() -> reg.Page:
    page = _REPORT.page
    assert page is not None
    return page


_PAGE: Final = _page()
#: Request data: first index, clients wanted, minimum hits, reset (u32 each).
PAGE_REQUEST: Final = struct.Struct(">" + "I" * len(_PAGE.request))
#: The start of a reply's data: table size, next index, valid records (u32 each).
PAGE_HEADER: Final = struct.Struct(">" + "I" * len(_PAGE.header))
#: One record, as the reader decodes it: a reply header and the record's fields.
RECORD_LAYOUT: Final = Layout(_REPORT.name, _REPORT.latest)
RECORD_SIZE: Final = RECORD_LAYOUT.length - reg.RESPONSE_HEADER_LEN
#: Bytes of a whole reply (chronyd always sends every slot).
PAGE_LENGTH: Final = reg.RESPONSE_HEADER_LEN + PAGE_HEADER.size + _PAGE.records * RECORD_SIZE
#: Requests are padded to the reply's length, as chronyd requires.
REQUEST_LENGTH: Final = max(reg.REQUEST_HEADER_LEN + PAGE_REQUEST.size, PAGE_LENGTH)
#: Most pages one call reads: 8 clients each, 65,536 clients in all (chronyd's
#: default ``clientloglimit`` holds a few thousand). A reply asking for more is a
#: corrupt or hostile chronyd.
MAX_PAGES: Final = 8192
#: chronyd's STT_INACTIVE: it keeps no client log (``noclientlog``).
_INACTIVE: Final = 15
_FAMILY_OFFSET: Final = 16  # of the IPAddr: 16 address bytes, then the family
UDP_REFUSAL: Final = (
    "clients: chronyd serves its client log over the Unix command socket only "
    "(over UDP it answers 'Not authorised'); connect to its socket, e.g. "
    "/run/chrony/chronyd.sock, as root or the chrony user"
)
_pack: Final = request_struct(REQUEST_LENGTH, PAGE_REQUEST.size).pack
#: Positions of the three services' hits in a record (a page's minimum-hits filter).
_HITS: Final = tuple(
    RECORD_LAYOUT.index[name] for name in ("NTP hits", "NTS-KE hits", "command hits")
)


def encode_page(first_index: int, min_hits: int = 0) -> bytes:
    """Request data for the page starting at ``first_index`` (reset is always 0)."""
    return PAGE_REQUEST.pack(first_index, _PAGE.records, min_hits, 0)


def read_clients(session: Any) -> list[Client]:
    """Every client in chronyd's access log, through ``session``.

    A :class:`CmdmonSession` pages through chronyd's table; any other session (the
    scripted mock) serves the report's records through the Session interface.
    """
    if isinstance(session, CmdmonSession):
        return session.drive(clients_steps(session))
    return read_records(session, _REPORT)


def clients_steps(session: CmdmonSession, min_hits: int = 0) -> Steps[list[Client]]:
    """Steps (see :mod:`pychrony.protocol.planning`) reading every page of the client log."""
    if session.endpoint.path is None:
        raise ChronyPermissionError(UDP_REFUSAL, LibchronyError.UNAUTHORIZED)
    records: list[_Record] = []
    next_index = 0
    for _ in range(MAX_PAGES):
        header, datagram = yield session.request(
            _REPORT.record_request, encode_page(next_index, min_hits), _pack, _REPORT.name
        )
        _check_page(header, datagram)
        indices, following, count = PAGE_HEADER.unpack_from(datagram, reg.RESPONSE_HEADER_LEN)
        if count > _PAGE.records:
            raise ChronyDataError(
                f"clients: chronyd sent {count} records in a reply of {_PAGE.records} slots",
                LibchronyError.INVALID_RESPONSE,
            )
        records.extend(_page_records(datagram, count))
        if following >= indices or count < _PAGE.records:
            return read_records(cast(Session, _Records(records)), _REPORT)
        if following <= next_index:
            raise ChronyDataError(
                f"clients: chronyd's next index {following} does not follow {next_index}",
                LibchronyError.INVALID_RESPONSE,
            )
        next_index = following
    raise ChronyDataError(
        f"clients: chronyd's client log needs more than {MAX_PAGES} replies "
        f"({MAX_PAGES * _PAGE.records} clients); pychrony reads at most that many",
        LibchronyError.INVALID_RESPONSE,
    )


def _check_page(header: tuple[int, ...], datagram: bytes) -> None:
    reply = ReplyHeader._make(header)
    if reply.status == _INACTIVE and reply.version == reg.PROTOCOL_VERSION:
        raise ChronyDisabledError(
            "clients: chronyd keeps no client log (noclientlog in chrony.conf)",
            LibchronyError.DISABLED,
        )
    check_status(reply, _REPORT.name, _REPORT.latest.since)
    if reply.code != _REPORT.latest.code:
        raise ChronyDataError(
            f"clients: chronyd is newer than pychrony supports (unknown reply layout {reply.code})",
            LibchronyError.NEW_SERVER,
        )
    if len(datagram) != PAGE_LENGTH:
        raise ChronyDataError(
            f"clients: reply of {len(datagram)} bytes, expected {PAGE_LENGTH} "
            "(truncated or corrupted)",
            LibchronyError.INVALID_RESPONSE,
        )


def _page_records(datagram: bytes, count: int) -> Iterator[_Record]:
    """The valid records of a page, each as a datagram of the record layout."""
    head = datagram[: reg.RESPONSE_HEADER_LEN]
    start = reg.RESPONSE_HEADER_LEN + PAGE_HEADER.size
    for i in range(count):
        body = datagram[start + i * RECORD_SIZE : start + (i + 1) * RECORD_SIZE]
        family = int.from_bytes(body[_FAMILY_OFFSET : _FAMILY_OFFSET + 2], "big")
        if family == 0:
            continue  # chronyc skips an unspecified address: a record chronyd lost
        yield _Record(RECORD_LAYOUT, head + body)


class _Records:
    """The records read, offered to the reader as a prefetched session."""

    def __init__(self, records: list[_Record]) -> None:
        self._records = records

    def record_count(self, report: reg.Report) -> int:
        return len(self._records)

    def records_of(self, report: reg.Report, count: int) -> list[_Record]:
        return self._records[:count]


def encode_page_reply(
    records: Sequence[Sequence[Any]], data: bytes, *, command: int, sequence: int
) -> bytes:
    """chronyd's reply to the page request ``data`` over a log of ``records`` (each
    its raw field values, as a session returns them): the server side of
    :func:`clients_steps`, for fake chronyds. Records with fewer hits of every
    service than the request's minimum are skipped, as chronyd skips them."""
    first, wanted, min_hits, _ = PAGE_REQUEST.unpack_from(data.ljust(PAGE_REQUEST.size, b"\0"))
    wanted = min(wanted, _PAGE.records)
    bodies: list[bytes] = []
    index = first
    while index < len(records) and len(bodies) < wanted:
        values = records[index]
        index += 1
        if min_hits and all(values[i] < min_hits for i in _HITS):
            continue
        reply = encode_reply(_REPORT.latest, values, command=command, sequence=sequence)
        bodies.append(reply[reg.RESPONSE_HEADER_LEN :])
    head = REPLY_HEADER.pack(
        reg.PROTOCOL_VERSION, PKT_TYPE_REPLY, 0, 0, command, _REPORT.latest.code,
        Status.SUCCESS, 0, 0, 0, sequence, 0, 0,
    )  # fmt: skip
    page = PAGE_HEADER.pack(len(records), max(index, first), len(bodies))
    slots = b"".join(bodies).ljust(_PAGE.records * RECORD_SIZE, b"\0")
    return head[: reg.RESPONSE_HEADER_LEN] + page + slots


_EMPTY: Final = tuple(None if f.wire is reg.Wire.ADDRESS else 0 for f in _REPORT.latest.fields)
