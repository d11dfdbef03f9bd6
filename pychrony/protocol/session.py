"""pychrony's own chronyd client session: the command protocol over a Unix or UDP socket.

:func:`open_session` connects to chronyd's command socket (or UDP port) and
returns a :class:`CmdmonSession`, which implements the session interface of
:mod:`pychrony._session` (libchrony-shaped: count, request a record, typed
getters) plus pipelined prefetching and source names. It is a facade: the
requests a read makes are planned in :mod:`.planning`, run by the sans-I/O
engine (:mod:`.engine`) under the blocking driver (:mod:`.sync`) or asyncio's
(:mod:`.aio`), over a :class:`~.transport.Transport`; packets come from
:mod:`.wire`.

Every wait is bounded: a request waits ``timeout`` seconds for its reply and is
sent at most ``attempts`` times, so one exchange never takes much longer than
``timeout * attempts``.

What a session remembers between calls (the socket's life is its ``Link``'s):

* ``_record`` — the current record (``request_record``); ``_single`` — the reply
  ``single_reply`` gave, made the current record only if a getter asks;
* ``_prefetched`` — records fetched ahead (``prefetch``, ``load_steps``), taken by
  ``request_record`` and ``records_of``; ``_loaded`` and ``_verdict`` — what
  ``load_steps`` counted and concluded, answered by the next ``record_count`` and
  ``list_changed`` (``_keep_prefetched``: the reader's ``prefetch`` is then a no-op);
* ``vanished``, ``unordered``, ``_read_mark`` — what the read under way saw, for
  ``list_changed`` (:mod:`pychrony._source_list`);
* ``names`` — the source names known, and whether chronyd tells them.

Closing drops the records; a forked child's first call drops all of them.
"""

from __future__ import annotations

import socket
from collections import deque
from typing import TYPE_CHECKING, Any, TypeVar

from .. import _session
from .. import registry as reg
from .._address import Endpoint, candidates, first_reachable
from .._source_list import list_changed_error
from ..exceptions import ChronyError
from ..registry import Report
from . import planning, sync
from .engine import WINDOW, Handler, Job, Pack, Policy, Requests
from .names import SourceNames
from .planning import BY_ADDRESS, COUNT_PACK, COUNT_WHAT, NO_ARG, PLAIN_PACKS, SOURCES
from .record import Record
from .sync import Steps
from .transport import ClientDir, Link, Transport, open_udp, open_unix, unix_window
from .wire import REPORT_LAYOUTS, Layout, ReplyKey, check_reply

__all__ = ["CmdmonSession", "open_session"]

_T = TypeVar("_T")
_UNKNOWN: Any = object()


def open_session(address: str | None, *, timeout: float, attempts: int) -> CmdmonSession:
    """A session to chronyd at ``address`` (see :func:`pychrony._address.candidates`).

    With ``address`` None every default endpoint is tried in order, as pychrony
    2.x does, by connecting: a socket that is missing or refuses us means the
    next one; a UDP endpoint is taken when it answers.
    """
    endpoints = candidates(address)
    if address:
        return _open(endpoints[0], timeout, attempts)
    return first_reachable(
        endpoints, lambda endpoint: _open(endpoint, timeout, attempts), CmdmonSession.probe
    )


def _open(endpoint: Endpoint, timeout: float, attempts: int) -> CmdmonSession:
    if endpoint.path is not None:
        sock, client_dir = open_unix(endpoint.path)
        window = unix_window()
    else:
        sock, client_dir = open_udp(str(endpoint.host), endpoint.port), None
        window = WINDOW
    return CmdmonSession(sock, endpoint, timeout, attempts, client_dir, window)


class CmdmonSession:
    """A session to chronyd over one connected datagram socket.

    Implements :class:`pychrony._session.Session`, ``PrefetchingSession`` and
    ``NamingSession``. Not thread-safe: one session per thread.
    """

    def __init__(
        self,
        sock: socket.socket,
        endpoint: Endpoint,
        timeout: float,
        attempts: int,
        client_dir: ClientDir | None = None,
        window: int = WINDOW,
    ) -> None:
        self.endpoint = endpoint
        self.address = str(endpoint)
        self.timeout = timeout
        self.attempts = attempts
        self.window = window
        self.policy = Policy(timeout, attempts, window, address=self.address)
        self._link = Link(sock, endpoint, client_dir)
        self._record: Record | None = None
        #: single_reply()'s reply, made the current record only when a getter asks.
        self._single: tuple[Layout, bytes] | None = None
        self._prefetched: tuple[Report, dict[int, Record | None]] | None = None
        #: see load_steps(): the report, its count, whether its list kept changing
        self._loaded: tuple[Report, int, bool] | None = None
        self._verdict: bool | None = None  # load_steps()'s, for list_changed()
        # What the read under way saw (see list_changed()).
        self._read_mark = 0  # the transport's reconnects when the read began
        self.vanished = False  # a counted record was gone ("no such source")
        self.unordered = False  # records not requested from the last down (resends)
        self._keep_prefetched = False
        self.names = SourceNames()
        #: False: fetch records one round trip at a time (for comparisons).
        self.pipelining = True

    # -- lifecycle ------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<CmdmonSession {self.address} {'closed' if self.closed else 'open'}>"

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._link.closed

    def close(self) -> None:
        """Close the socket and remove its files; idempotent."""
        self._link.close()
        self._record = self._prefetched = None

    def transport(self) -> Transport:
        """The open transport (a forked child's own: the parent's records are
        dropped); raises once closed."""
        if self._link.inherited:
            self._record = self._prefetched = self._single = self._loaded = None
        return self._link.transport()

    def fileno(self) -> int:
        """The socket's descriptor (for an event loop's reader)."""
        return self.transport().fileno()

    def probe(self) -> None:
        """Check that chronyd answers (any reply counts); raise if it does not."""
        self._exchange(reg.COUNT_REQUEST, b"", COUNT_PACK, COUNT_WHAT)

    # -- engines and drivers --------------------------------------------------

    def request(self, command: int, data: bytes, pack: Pack, what: str) -> Requests:
        """An engine for one exchange under the session's policy."""
        return Requests.exchange(command, data, pack, self.policy, what)

    def pipeline(self, jobs: deque[Job], handle: Handler, what: str) -> Requests:
        """An engine running ``jobs`` with the session's window in flight."""
        return Requests(jobs, handle, self.policy, what)

    def drive(self, steps: Steps[_T]) -> _T:
        """Run a plan's steps with the blocking driver."""
        return sync.drive(self.transport, steps)

    def _exchange(self, command: int, data: bytes, pack: Pack, what: str) -> tuple[ReplyKey, bytes]:
        link = self._link
        transport = link.current if link.open else self.transport()
        return sync.exchange(transport, self.policy, command, data, pack, what)

    # -- Session --------------------------------------------------------------

    def record_count(self, report: Report) -> int:
        """Records of ``report``: asked of chronyd for per-source reports, else 1."""
        loaded, self._loaded = self._loaded, None
        if loaded is not None and loaded[0] is report:
            self._keep_prefetched = True  # the reader's prefetch() has nothing to do
            self._verdict = loaded[2]
            return loaded[1]
        self._keep_prefetched = False
        self._verdict = None
        if report.count_request is None:
            return 1
        self.begin_read()
        reply = self._exchange(report.count_request, b"", COUNT_PACK, COUNT_WHAT)
        return planning.count_of(report, *reply)

    def begin_read(self) -> None:
        """A read of a source list begins (see :meth:`list_changed`)."""
        self._read_mark = self._link.reconnects
        self.vanished = self.unordered = False

    def list_changed(self, report: Report, count: int, duplicates: bool) -> bool:
        """Whether chronyd's source list changed under the read of ``report`` that
        began at :meth:`record_count` and counted ``count`` records (``duplicates``:
        the reader found a source listed twice): True means read again. After
        :meth:`load_steps`, which read again itself, a change raises instead."""
        verdict, self._verdict = self._verdict, None
        if verdict is not None:
            if verdict or duplicates:
                raise list_changed_error(report.name)
            return False
        if duplicates:
            return True
        changed = self.seen_change(count)
        if changed is None:
            assert report.count_request is not None
            reply = self._exchange(report.count_request, b"", COUNT_PACK, COUNT_WHAT)
            changed = planning.count_of(report, *reply) != count
        return changed

    def seen_change(self, count: int) -> bool | None:
        """Whether the read of ``count`` records saw the list change; None: it cannot
        tell without asking the count again (records read out of order)."""
        if self.vanished or self._link.reconnects != self._read_mark:
            return True
        if self.unordered and count > 1:
            return None
        return False

    def request_record(self, report: Report, index: int) -> bool:
        """Make record ``index`` current; False when it has no data (a refclock in
        ntpdata/authdata, or a source removed meanwhile)."""
        prefetched = self._prefetched
        if prefetched is not None and prefetched[0] is report and index in prefetched[1]:
            record = prefetched[1].pop(index)
        else:
            self._prefetched = None
            record = self._fetch(report, index)
        self._record = record
        self._single = None
        return record is not None

    # The typed getters read the current record (see Record).
    def response_code(self) -> int:
        return self._current().layout.code

    def field_index(self, name: str) -> int:
        return self._current().field_index(name)

    def get_uinteger(self, index: int) -> int:
        return self._current().get_uinteger(index)

    def get_integer(self, index: int) -> int:
        return self._current().get_integer(index)

    def get_float(self, index: int) -> float:
        return self._current().get_float(index)

    def get_timespec(self, index: int) -> tuple[int, int]:
        return self._current().get_timespec(index)

    def get_string(self, index: int) -> str | None:
        return self._current().get_string(index)

    def request_address(self) -> str:
        return self._current().address

    def records_of(self, report: Report, count: int) -> list[Record | None]:
        """Records ``0..count-1`` of ``report``, for the reader's fast path: each a
        view with the typed getters (None: a record without data), sources
        records with their names asked. Taken from :meth:`prefetch` where it
        fetched them, else fetched one by one; no record becomes current.
        """
        prefetched = self._prefetched
        records = prefetched[1] if prefetched is not None and prefetched[0] is report else {}
        self._record = self._prefetched = self._single = None
        out: list[Record | None] = []
        for index in range(count):
            record = records.pop(index, _UNKNOWN)
            if record is _UNKNOWN:
                self.unordered = True  # from the first up (list_changed() asks again)
                record = self._fetch(report, index)
            if record is not None and not record.named and report is SOURCES:
                self._name(record)
            out.append(record)
        return out

    def single_reply(self, report: Report) -> tuple[Layout, bytes] | None:
        """The reply to a single-record report's request, checked but not decoded:
        its layout (``.code``: the reply code) and datagram; None when chronyd has
        no data. The reader's fast path: no record becomes current."""
        if report.record_arg is not NO_ARG:
            raise ChronyError(f"{report.name} is not a single-record report")
        self._record = self._prefetched = self._single = None
        name = report.name
        header, datagram = self._exchange(report.record_request, b"", PLAIN_PACKS[name], name)
        layout = check_reply(name, header, datagram, REPORT_LAYOUTS[name])
        if layout is None:
            return None
        single = self._single = (layout, datagram)
        return single

    def current_reply(self) -> tuple[int, bytes]:
        """The current record's reply code and whole datagram, checked but not decoded
        (the reader's fast path turns it into a dataclass in one pass)."""
        record = self._record or self._current()
        return record.layout.code, record.datagram

    def source_name(self) -> str | None:
        """Name the current sources record was configured with (chronyd 4.0+); None
        for refclocks, a chronyd that does not tell, and other reports' records."""
        record = self._record or self._current()
        if not record.named:
            self._name(record)
        return record.name

    def _name(self, record: Record) -> None:
        address = self.names.address_to_ask(record)
        if address is not None:  # no engine for a known name
            self.drive(planning.name_steps(self, record, address))

    # -- PrefetchingSession ---------------------------------------------------

    def prefetch(self, report: Report, count: int) -> None:
        """Fetch records ``0..count-1`` of ``report`` with pipelined requests (up to
        :attr:`window` in flight); they then serve :meth:`request_record`."""
        if self._keep_prefetched:
            self._keep_prefetched = False
            prefetched = self._prefetched
            if prefetched is not None and prefetched[0] is report:
                return
        self._prefetched = None
        records = self.drive(planning.prefetch_steps(self, report, count))
        if records is not None:
            self._prefetched = (report, records)

    def load_steps(self, report: Report) -> Steps[None]:
        """Steps that fetch every record of ``report`` ahead of a reader.

        For a driver other than poll() (pychrony.aio): once they ran, reading
        the report makes no I/O — :meth:`record_count`, :meth:`prefetch`,
        :meth:`request_record`, :meth:`source_name` and :meth:`list_changed`
        answer from memory. A list that changed under the read is read again
        here, as the reader would.
        """
        self._loaded = self._prefetched = None
        return planning.load_steps(self, report)

    def loaded(
        self, report: Report, records: dict[int, Record | None] | None, count: int, changed: bool
    ) -> None:
        """What :meth:`load_steps` read (``records`` None: a count the reader rejects)."""
        self._prefetched = None if records is None else (report, records)
        self._loaded = (report, count, changed)

    # -- records --------------------------------------------------------------

    def _current(self) -> Record:
        record = self._record
        if record is None:
            if self._single is not None:  # single_reply()'s, asked by a getter
                record = self._record = Record(*self._single)
                return record
            raise ChronyError("No current record: request_record() did not make one current")
        return record

    def _fetch(self, report: Report, index: int) -> Record | None:
        """One record, requested and awaited on its own."""
        if report.record_arg is BY_ADDRESS:
            return self.drive(planning.fetch_steps(self, report, index))
        # The steps of fetch_steps without a generator.
        data, pack = planning.record_request(report, index)
        header, datagram = self._exchange(report.record_request, data, pack, report.name)
        return planning.decode_record(self, report, header, datagram)


if TYPE_CHECKING:  # mypy checks that the session offers every optional capability

    def _capabilities(
        s: CmdmonSession,
    ) -> tuple[
        _session.PrefetchingSession,
        _session.NamingSession,
        _session.ChangeTellingSession,
        _session.SingleReplySession,
        _session.ReplySession,
        _session.RawRecordsSession,
    ]:
        return s, s, s, s, s, s
