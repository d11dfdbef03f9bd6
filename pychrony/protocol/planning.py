"""Request planning: which requests a read makes, in which order, and what each reply means.

Each plan is a generator of :data:`~.sync.Steps`: it yields engines
(:class:`~.engine.Requests`, built by the session with its policy) and is sent
each one's reply when its driver has run it, so a plan does no I/O and runs
under the blocking driver (:func:`.sync.drive`) and asyncio's (:mod:`.aio`)
alike. :func:`prefetch_steps` is the pipelined read of many records (sources,
with their names; address-addressed reports by way of sourcestats);
:func:`load_steps` reads a whole report ahead of the reader.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final

from .. import registry as reg
from .._errors import status_error
from .._source_list import LIST_READS
from ..exceptions import ChronyError
from ..registry import RecordArg, Report
from .engine import Job, Pack
from .record import Record
from .sync import Steps
from .wire import (
    COUNT_LAYOUT,
    NAME_REQUEST_LENGTH,
    REPORT_LAYOUTS,
    ReplyHeader,
    ReplyKey,
    check_reply,
    encode_index,
    request_length,
    request_struct,
)

if TYPE_CHECKING:
    from .session import CmdmonSession

__all__ = ["count_steps", "fetch_steps", "load_steps", "name_steps", "prefetch_steps"]

# Globals: faster to load than an enum member (in CPython 3.11 an attribute of an
# Enum class goes through EnumType.__getattr__, ~1,000 instructions a time).
NO_ARG: Final = RecordArg.NONE
BY_ADDRESS: Final = RecordArg.ADDRESS
SOURCES: Final = reg.SOURCES
SOURCESTATS: Final = reg.SOURCESTATS
COUNT_WHAT: Final = "sources count"
#: Request data of the first records, encoded once.
_INDEXES: Final = tuple(encode_index(i) for i in range(256))
_INDEX_LENGTH: Final = len(_INDEXES[0])
_ADDRESS_SLOT: Final = reg.Wire.ADDRESS.size
#: Bytes of each report's record requests (padded to the longest reply).
REQUEST_LENGTHS: Final = {r.name: request_length(r) for r in reg.REPORTS}
#: The ``Struct.pack`` of requests without data (each report's, count requests') and
#: of requests by index.
PLAIN_PACKS: Final = {name: request_struct(n, 0).pack for name, n in REQUEST_LENGTHS.items()}
INDEX_PACKS: Final = {
    name: request_struct(n, _INDEX_LENGTH).pack for name, n in REQUEST_LENGTHS.items()
}
COUNT_PACK: Final = request_struct(COUNT_LAYOUT.length, 0).pack
NAME_PACK: Final = request_struct(NAME_REQUEST_LENGTH, _ADDRESS_SLOT).pack
# What a prefetch reply is: a record, a sourcestats record giving an address, a name.
_RECORD, _STATS, _NAME = range(3)


def index_data(index: int) -> bytes:
    """The data of a request for record ``index`` (the first 256 encoded once)."""
    return _INDEXES[index] if index < len(_INDEXES) else encode_index(index)


def record_request(report: Report, index: int) -> tuple[bytes, Pack]:
    """Data and packer of the request for record ``index`` of a report asked by
    index (or of its only one)."""
    if report.record_arg is NO_ARG:
        if index != 0:
            raise ChronyError(f"{report.name} has a single record, not record {index}")
        return b"", PLAIN_PACKS[report.name]
    return index_data(index), INDEX_PACKS[report.name]


def count_of(report: Report, header: ReplyKey, datagram: bytes) -> int:
    """The record count in a count reply."""
    layout = check_reply(report.name, header, datagram, {COUNT_LAYOUT.code: COUNT_LAYOUT})
    if layout is None:  # "no such source" as the answer to a count: a bad reply
        raise status_error(ReplyHeader._make(header).status, report.name)
    return int(layout.decode(datagram)[0])


def decode_record(
    session: CmdmonSession, report: Report, header: ReplyKey, datagram: bytes, address: str = ""
) -> Record | None:
    """The record in a reply; None: the source went away after it was counted."""
    layout = check_reply(report.name, header, datagram, REPORT_LAYOUTS[report.name])
    if layout is None:
        session.vanished = True
        return None
    return Record(layout, datagram, address)


def stats_address(stats: Record | None) -> tuple[bytes, str] | None:
    """Raw address and text of a sourcestats record; None for refclocks."""
    if stats is None:
        return None
    text = stats.layout.field_value(stats.datagram, "address")
    if text is None:
        return None
    return stats.layout.address_bytes(stats.datagram, "address"), text


def count_steps(session: CmdmonSession, report: Report) -> Steps[int]:
    """Ask the record count of a per-source report."""
    assert report.count_request is not None
    header, datagram = yield session.request(report.count_request, b"", COUNT_PACK, COUNT_WHAT)
    return count_of(report, header, datagram)


def changed_steps(session: CmdmonSession, report: Report, count: int) -> Steps[bool]:
    """Steps of ``list_changed`` (without the duplicates, seen by the reader)."""
    changed = session.seen_change(count)
    if changed is None:
        changed = (yield from count_steps(session, report)) != count
    return changed


def fetch_steps(session: CmdmonSession, report: Report, index: int) -> Steps[Record | None]:
    """One record, requested and awaited on its own (by way of sourcestats for an
    address-addressed report)."""
    address = ""
    if report.record_arg is BY_ADDRESS:
        stats = yield from fetch_steps(session, SOURCESTATS, index)
        found = stats_address(stats)
        if found is None:
            return None
        data, address = found
        pack = request_struct(REQUEST_LENGTHS[report.name], len(data)).pack
    else:
        data, pack = record_request(report, index)
    header, datagram = yield session.request(report.record_request, data, pack, report.name)
    return decode_record(session, report, header, datagram, address)


def name_steps(session: CmdmonSession, record: Record, address: bytes) -> Steps[None]:
    """Ask chronyd the name of a sources record by ``address``."""
    header, datagram = yield session.request(
        reg.SOURCE_NAME_REQUEST, address, NAME_PACK, "source name"
    )
    record.name = session.names.decode(address, header, datagram)


def prefetch_steps(
    session: CmdmonSession, report: Report, count: int
) -> Steps[dict[int, Record | None] | None]:
    """Records ``0..count-1`` of ``report`` in one pipelined run (None: nothing to
    prefetch). Address-addressed reports first ask sourcestats for each source's
    address; sources records also get their names."""
    if report.record_arg is NO_ARG or count <= 0 or not session.pipelining:
        return None
    records: dict[int, Record | None] = {}
    jobs: deque[Job] = deque()
    first = SOURCESTATS if report.record_arg is BY_ADDRESS else report
    kind = _STATS if report.record_arg is BY_ADDRESS else _RECORD
    command = first.record_request
    pack = INDEX_PACKS[first.name]
    for index in range(count - 1, -1, -1):  # the last first: pychrony._source_list
        jobs.append(Job(kind, index, command, index_data(index), pack))
    layouts = REPORT_LAYOUTS[report.name]
    names = session.names

    def handle(job: Job, header: ReplyKey, datagram: bytes) -> None:
        if job.kind == _NAME:
            record = records[job.index]
            assert record is not None
            record.name = names.decode(job.data, header, datagram)
            return
        if job.kind == _STATS:
            found = stats_address(decode_record(session, SOURCESTATS, header, datagram))
            if found is None:  # a refclock (or a source gone): no record
                records[job.index] = None
            else:
                command, length = report.record_request, REQUEST_LENGTHS[report.name]
                pack = request_struct(length, len(found[0])).pack
                jobs.append(Job(_RECORD, job.index, command, found[0], pack, found[1]))
            return
        # decode_record(), inlined (~800 instructions per record less)
        layout = check_reply(report.name, header, datagram, layouts)
        if layout is None:
            session.vanished = True  # the source went away after it was counted
            record = None
        else:
            record = Record(layout, datagram, job.address)
        records[job.index] = record
        if record is not None and report is SOURCES:
            address = names.address_to_ask(record)
            if address is not None:
                jobs.append(Job(_NAME, job.index, reg.SOURCE_NAME_REQUEST, address, NAME_PACK))

    run = session.pipeline(jobs, handle, report.name)
    yield run
    if run.resent:
        session.unordered = True  # records not requested from the last down
    return records


def load_steps(session: CmdmonSession, report: Report) -> Steps[None]:
    """Every record of ``report``, read again while its list keeps changing, into
    the session's memory (see ``CmdmonSession.load_steps``)."""
    records: dict[int, Record | None] | None = {}
    changed = False
    if report.count_request is None:
        count = 1
        records = {0: (yield from fetch_steps(session, report, 0))}
    else:
        for _ in range(LIST_READS):
            session.begin_read()
            count = yield from count_steps(session, report)
            if not 0 <= count <= reg.MAX_RECORDS:
                session.loaded(report, None, count, False)  # the reader rejects it
                return
            records = yield from prefetch_steps(session, report, count)
            if records is None:  # one at a time, the last first: in order
                records = {}
                for index in range(count - 1, -1, -1):
                    records[index] = yield from fetch_steps(session, report, index)
            changed = yield from changed_steps(session, report, count)
            if not changed:
                break
    assert records is not None
    if report is SOURCES:
        for record in records.values():
            if record is not None and not record.named:
                address = session.names.address_to_ask(record)
                if address is not None:
                    yield from name_steps(session, record, address)
    session.loaded(report, records, count, changed)
