"""pychrony's own chronyd client: the command protocol over a Unix or UDP socket.

:func:`open_session` connects to chronyd's command socket (or UDP port) and
returns a :class:`CmdmonSession`, which implements the session interface of
:mod:`pychrony._session` (libchrony-shaped: count, request a record, typed
getters) plus pipelined prefetching and source names. Packets are encoded and
decoded by :mod:`pychrony._wire` from the field registry.

Every wait is bounded: a request waits ``timeout`` seconds for its reply and is
sent at most ``attempts`` times (each time with a new random sequence number;
a late reply to an earlier attempt still counts), so one exchange never takes
much longer than ``timeout * attempts``.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import select
import socket
import stat
import string
import tempfile
import weakref
from collections import deque
from collections.abc import Callable, Generator
from random import getrandbits
from secrets import choice
from time import monotonic
from typing import Any, Final, TypeAlias, TypeVar

from . import _fork
from . import registry as reg
from ._address import Endpoint, candidates, first_reachable
from ._errors import open_error, path_length_error, reply_dir_error, status_error, timeout_error
from ._source_list import LIST_READS, list_changed_error
from ._wire import (
    COUNT_LAYOUT,
    NAME_REQUEST_LENGTH,
    PKT_TYPE_REPLY,
    REPLY_KEY,
    REPORT_LAYOUTS,
    REQUEST_START,
    Layout,
    ReplyHeader,
    ReplyKey,
    Status,
    check_reply,
    decode_name,
    encode_index,
    request_length,
    request_struct,
)
from .exceptions import (
    ChronyConnectionError,
    ChronyError,
    ChronyTimeoutError,
)
from .models import SourceMode
from .registry import RecordArg, Report

__all__ = ["POLLIN", "POLLOUT", "WINDOW", "CmdmonSession", "Steps", "Wait", "open_session"]

_T = TypeVar("_T")
#: What a step of the protocol engine waits for: (poll events, monotonic deadline).
Wait: TypeAlias = tuple[int, float]
#: A run of the engine: yields waits, is sent the events that happened (0: the
#: deadline passed), returns its result.
Steps: TypeAlias = Generator[Wait, int, _T]
#: A request's ``Struct.pack`` (:func:`pychrony._wire.request_struct`).
Pack: TypeAlias = Callable[..., bytes]
POLLIN: Final = select.POLLIN
POLLOUT: Final = select.POLLOUT

#: Most requests in flight at once when prefetching. Linux queues at most
#: ``net.unix.max_dgram_qlen`` (10 by default) datagrams per Unix socket and
#: chronyd drops a reply it cannot queue, so the window stays below that.
WINDOW: Final = 8
#: Datagrams read per wake-up before the deadline is checked again (a flood of
#: stray datagrams cannot hold an exchange past its bound).
_READS_PER_WAKE: Final = 2 * WINDOW
#: Receive buffer: larger than any reply; a datagram filling it is oversized.
_RECV_SIZE: Final = 2048
_DIR_PREFIX: Final = "pychrony."
#: What our reply socket's path adds to the directory of chronyd's socket:
#: ``/pychrony.`` + mkdtemp's 8 random characters + ``/`` + 12 random + ``/sock``.
_REPLY_SUFFIX: Final = 1 + len(_DIR_PREFIX) + 8 + 1 + 12 + len("/sock")
_NAME_ALPHABET: Final = string.ascii_letters + string.digits
_HEADER_LEN: Final = reg.RESPONSE_HEADER_LEN
_unpack_key: Final = REPLY_KEY.unpack_from
#: Source names remembered per session (by address) before starting afresh.
_MAX_KNOWN_NAMES: Final = 4096

# Globals: faster to load than an enum member (in CPython 3.11 an attribute of an
# Enum class goes through EnumType.__getattr__, ~1,000 instructions a time).
_NO_ARG: Final = RecordArg.NONE
_BY_ADDRESS: Final = RecordArg.ADDRESS
#: Request data of the first records, encoded once.
_INDEXES: Final = tuple(encode_index(i) for i in range(256))
_INDEX_LENGTH: Final = len(_INDEXES[0])
_ADDRESS_SLOT: Final = reg.Wire.ADDRESS.size  # IPAddr: 16 bytes, family, padding
_REFCLOCK_MODE: Final = SourceMode.REFCLOCK.value
_UNKNOWN: Any = object()
_SOURCES: Final = reg.SOURCES
_SOURCESTATS: Final = reg.SOURCESTATS
_COUNT_WHAT: Final = "sources count"
#: Bytes of each report's record requests (padded to the longest reply).
_REQUEST_LENGTHS: Final = {r.name: request_length(r) for r in reg.REPORTS}
#: The ``Struct.pack`` of requests without data (each report's, count requests') and
#: of requests by index.
_PLAIN_PACKS: Final = {name: request_struct(n, 0).pack for name, n in _REQUEST_LENGTHS.items()}
_INDEX_PACKS: Final = {
    name: request_struct(n, _INDEX_LENGTH).pack for name, n in _REQUEST_LENGTHS.items()
}
_COUNT_PACK: Final = request_struct(COUNT_LAYOUT.length, 0).pack
_NAME_PACK: Final = request_struct(NAME_REQUEST_LENGTH, _ADDRESS_SLOT).pack
#: send() errors of a Unix socket whose chronyd went away (restarted?).
_PEER_GONE: Final = frozenset({errno.ECONNREFUSED, errno.ENOTCONN})


def _index_data(index: int) -> bytes:
    """The data of a request for record ``index`` (the first 256 encoded once)."""
    return _INDEXES[index] if index < len(_INDEXES) else encode_index(index)


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
        sock, client_dir = _open_unix(endpoint.path)
        window = _unix_window()
    else:
        sock, client_dir = _open_udp(str(endpoint.host), endpoint.port), None
        window = WINDOW
    return CmdmonSession(sock, endpoint, timeout, attempts, client_dir, window)


# -- sockets ------------------------------------------------------------------


class _ClientDir:
    """The directories holding our Unix socket: ``<server dir>/pychrony.XXXXXXXX/<random>/sock``.

    chronyd may run as another user and may write to its own directory, where
    ours is created. So: the outer directory is made by ``mkdtemp`` (mode 0700,
    opened without following symlinks and checked to be ours), the inner one
    has a secret random name, and the socket is made writable while both are
    still 0700; only then are the directories opened to 0711 (enter, not list).
    Everything inside is reached through the outer directory's descriptor.
    """

    def __init__(self, server_path: str) -> None:
        self.pid = os.getpid()
        self.path = ""
        self.fd = -1
        self.inner = "".join(choice(_NAME_ALPHABET) for _ in range(12))
        parent = os.path.dirname(server_path) or "."
        self.path = tempfile.mkdtemp(prefix=_DIR_PREFIX, dir=parent)
        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            st, lst = os.fstat(self.fd), os.lstat(self.path)
            if (
                not stat.S_ISDIR(st.st_mode)
                or st.st_uid != os.geteuid()
                or st.st_mode & 0o077  # nobody else may enter it yet
                or (st.st_dev, st.st_ino) != (lst.st_dev, lst.st_ino)
            ):
                raise OSError(errno.EPROTO, f"{self.path} is not the directory just created")
            os.mkdir(self.inner, 0o700, dir_fd=self.fd)
        except BaseException:
            self.remove()
            raise

    @property
    def socket_path(self) -> str:
        """Where our socket is bound."""
        return f"{self.path}/{self.inner}/sock"

    def open_up(self) -> None:
        """Let chronyd (any user) reach the bound socket: it needs to write to it."""
        os.chmod(f"{self.inner}/sock", 0o666, dir_fd=self.fd, follow_symlinks=False)
        os.chmod(self.inner, 0o711, dir_fd=self.fd)
        os.fchmod(self.fd, 0o711)

    def remove(self) -> None:
        """Remove the socket file and both directories (idempotent, never raises)."""
        fd, self.fd = self.fd, -1
        if self.pid != os.getpid():  # a forked child: the files are its parent's
            if fd >= 0:
                os.close(fd)
            return
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.unlink(f"{self.inner}/sock", dir_fd=fd)
            with contextlib.suppress(OSError):
                os.rmdir(self.inner, dir_fd=fd)
            os.close(fd)
        if self.path:
            with contextlib.suppress(OSError):
                os.rmdir(self.path)
            self.path = ""


def _open_unix(path: str) -> tuple[socket.socket, _ClientDir]:
    too_long = path_length_error(path, _REPLY_SUFFIX)
    if too_long is not None:
        raise too_long
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    client_dir: _ClientDir | None = None
    try:
        try:
            # Fails early (no files created) when the socket is missing, dead or
            # not accessible.
            sock.connect(path)
        except OSError as exc:
            raise open_error(path, -(exc.errno or errno.EIO)) from None
        try:
            client_dir = _ClientDir(path)
        except PermissionError as exc:
            raise reply_dir_error(path) from exc
        sock.bind(client_dir.socket_path)
        client_dir.open_up()
        sock.setblocking(False)
        return sock, client_dir
    except OSError as exc:
        _discard(sock, client_dir)
        raise ChronyConnectionError(
            f"Cannot set up a socket to talk to chronyd at {path}: {exc}", -(exc.errno or 0)
        ) from exc
    except BaseException:
        _discard(sock, client_dir)
        raise


def _open_udp(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    address = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM)
    except OSError as exc:
        raise open_error(address, -(exc.errno or errno.EIO)) from None
    try:
        sock.connect((host, port))
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise open_error(address, -(exc.errno or errno.EIO)) from None
    except BaseException:
        sock.close()
        raise
    return sock


def _discard(sock: socket.socket, client_dir: _ClientDir | None) -> None:
    sock.close()
    if client_dir is not None:
        client_dir.remove()


@functools.cache
def _unix_window() -> int:
    """The pipelining window for Unix sockets: below the datagram queue limit."""
    try:
        with open("/proc/sys/net/unix/max_dgram_qlen") as f:
            qlen = int(f.read())
    except (OSError, ValueError):
        qlen = 10
    return max(1, min(WINDOW, qlen - 2))


# -- the session --------------------------------------------------------------


class _Record:
    """A checked reply and what the session knows besides its fields.

    Also a one-record view for the reader (:meth:`CmdmonSession.records_of`):
    the session's typed getters, ``request_address()`` and ``source_name()``.
    Its fields are decoded only when a getter asks (:attr:`values`): the reader
    builds dataclasses from :attr:`datagram` directly.
    """

    __slots__ = ("_values", "address", "datagram", "layout", "name", "named")

    def __init__(self, layout: Layout, datagram: bytes, address: str = "") -> None:
        self.layout = layout
        self.datagram = datagram
        self.address = address  # the address it was requested by (ntpdata, authdata)
        self.name: str | None = None
        self.named = False  # whether ``name`` was asked of chronyd
        self._values: tuple[Any, ...] | None = None

    @property
    def values(self) -> tuple[Any, ...]:
        """Every field's value (see :meth:`pychrony._wire.Layout.decode`), decoded once."""
        values = self._values
        if values is None:
            values = self._values = self.layout.decode(self.datagram)
        return values

    def response_code(self) -> int:
        """Reply code (its layout)."""
        return self.layout.code

    def field_index(self, name: str) -> int:
        """Index of field ``name``, or -1."""
        return self.layout.index.get(name, -1)

    def get_uinteger(self, index: int) -> int:
        """Unsigned integer field (0 for a field of another type, as libchrony)."""
        value = self.values[index]
        return value if value.__class__ is int else 0

    def get_integer(self, index: int) -> int:
        """Signed integer field (0 for a field of another type)."""
        value = self.values[index]
        return value if value.__class__ is int else 0

    def get_float(self, index: int) -> float:
        """Floating-point field (NaN for a field of another type)."""
        value = self.values[index]
        return value if value.__class__ is float else float("nan")

    def get_timespec(self, index: int) -> tuple[int, int]:
        """Timespec field as (seconds, nanoseconds); (0, 0) for another type."""
        value = self.values[index]
        return value if value.__class__ is tuple else (0, 0)

    def get_string(self, index: int) -> str | None:
        """Address field as text; None when unspecified or not an address."""
        value = self.values[index]
        return value if value.__class__ is str else None

    def request_address(self) -> str:
        """Address the record was requested by (ntpdata, authdata), else ""."""
        return self.address

    def source_name(self) -> str | None:
        """The name the session asked for (sources records it hands out are asked)."""
        return self.name


# What a prefetch reply is: a record, a sourcestats record giving an address, a name.
_RECORD, _STATS, _NAME = range(3)


class _Job:
    """One request of a pipelined prefetch and its resends."""

    __slots__ = ("address", "attempt", "command", "data", "index", "kind", "pack")

    def __init__(
        self,
        kind: int,
        index: int,
        command: int,
        data: bytes,
        pack: Pack,
        address: str = "",
    ) -> None:
        self.kind = kind
        self.index = index
        self.command = command
        self.data = data
        self.pack = pack
        self.address = address
        self.attempt = 0


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
        client_dir: _ClientDir | None = None,
        window: int = WINDOW,
    ) -> None:
        self.endpoint = endpoint
        self.address = str(endpoint)
        self.timeout = timeout
        self.attempts = attempts
        self.window = window
        self._attach(sock, client_dir)
        self._inherited = False  # a forked child's copy, until it opens its own socket
        _fork.track(self)
        self._record: _Record | None = None
        #: single_reply()'s reply, made the current record only when a getter asks.
        self._single: tuple[Layout, bytes] | None = None
        self._prefetched: tuple[Report, dict[int, _Record | None]] | None = None
        #: see load_steps(): the report, its count, whether its list kept changing
        self._loaded: tuple[Report, int, bool] | None = None
        self._verdict: bool | None = None  # load_steps()'s, for list_changed()
        # What the read under way saw (see list_changed()).
        self._reconnects = 0  # reconnects of this session, ever
        self._read_mark = 0  # ... when the read began
        self._vanished = False  # a counted record was gone ("no such source")
        self._unordered = False  # records not requested from the last down (resends)
        self._keep_prefetched = False
        self._names: bool | None = None  # does chronyd answer source-name requests?
        self._known_names: dict[bytes, str | None] = {}  # by raw address
        #: False: fetch records one round trip at a time (for comparisons).
        self.pipelining = True

    def _attach(self, sock: socket.socket, client_dir: _ClientDir | None) -> None:
        """Make ``sock`` (bound in ``client_dir``, if a Unix socket) the session's."""
        self._sock = sock
        self._pollers: dict[int, select.poll] = {}
        for events in (POLLIN, POLLOUT, POLLIN | POLLOUT):
            self._pollers[events] = select.poll()
            self._pollers[events].register(sock, events)
        self._poll_in = self._pollers[POLLIN].poll
        self._finalizer = weakref.finalize(self, _discard, sock, client_dir)
        _fork.clean_up_at_exit(self, self._finalizer)
        self._open = True  # until close(): cheaper to ask than the finalizer

    def forked(self) -> None:
        """In a forked child (:mod:`pychrony._fork`): the socket is the parent's, so
        the next call opens one of the child's own (see :meth:`_check_open`)."""
        if self._open:
            self._open = False
            self._inherited = True

    def _reopen_inherited(self) -> None:
        """A forked child's first use: drop the parent's socket, open our own."""
        # Closes the child's copy of the descriptor; the reply socket's files are
        # the parent's and stay (_ClientDir.remove checks the pid).
        self._finalizer()
        self._record = self._prefetched = self._single = self._loaded = None
        endpoint = self.endpoint
        if endpoint.path is not None:
            self._attach(*_open_unix(endpoint.path))
        else:
            self._attach(_open_udp(str(endpoint.host), endpoint.port), None)
        self._inherited = False

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<CmdmonSession {self.address} {state}>"

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return not self._open and not self._inherited

    def close(self) -> None:
        """Close the socket and remove its files; idempotent."""
        self._open = self._inherited = False
        self._finalizer()
        self._record = None
        self._prefetched = None

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
        self._begin_read()
        reply = self._exchange(report.count_request, b"", _COUNT_PACK, _COUNT_WHAT)
        return self._count_of(report, *reply)

    def _count_steps(self, report: Report) -> Steps[int]:
        assert report.count_request is not None
        header, datagram = yield from self._exchange_steps(
            report.count_request, b"", _COUNT_PACK, _COUNT_WHAT
        )
        return self._count_of(report, header, datagram)

    @staticmethod
    def _count_of(report: Report, header: ReplyKey, datagram: bytes) -> int:
        """The record count in a count reply."""
        layout = check_reply(report.name, header, datagram, {COUNT_LAYOUT.code: COUNT_LAYOUT})
        if layout is None:  # "no such source" as the answer to a count: a bad reply
            raise status_error(ReplyHeader._make(header).status, report.name)
        return int(layout.decode(datagram)[0])

    # -- a source list changing under a read (pychrony._source_list) -----------

    def _begin_read(self) -> None:
        self._read_mark = self._reconnects
        self._vanished = self._unordered = False

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
        changed = self._seen_change(count)
        if changed is None:
            assert report.count_request is not None
            reply = self._exchange(report.count_request, b"", _COUNT_PACK, _COUNT_WHAT)
            changed = self._count_of(report, *reply) != count
        return changed

    def _changed_steps(self, report: Report, count: int) -> Steps[bool]:
        """Steps of :meth:`list_changed` (without the duplicates, seen by the reader)."""
        changed = self._seen_change(count)
        if changed is None:
            changed = (yield from self._count_steps(report)) != count
        return changed

    def _seen_change(self, count: int) -> bool | None:
        """Whether the read of ``count`` records saw the list change; None: it cannot
        tell without asking the count again (records read out of order)."""
        if self._vanished or self._reconnects != self._read_mark:
            return True
        if self._unordered and count > 1:
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

    def response_code(self) -> int:
        """Reply code of the current record (its layout)."""
        return self._current().layout.code

    def field_index(self, name: str) -> int:
        """Index of field ``name`` in the current record, or -1."""
        return self._current().field_index(name)

    def get_uinteger(self, index: int) -> int:
        """Unsigned integer field (0 for a field of another type, as libchrony)."""
        return self._current().get_uinteger(index)

    def get_integer(self, index: int) -> int:
        """Signed integer field (0 for a field of another type)."""
        return self._current().get_integer(index)

    def get_float(self, index: int) -> float:
        """Floating-point field (NaN for a field of another type)."""
        return self._current().get_float(index)

    def get_timespec(self, index: int) -> tuple[int, int]:
        """Timespec field as (seconds, nanoseconds); (0, 0) for another type."""
        return self._current().get_timespec(index)

    def get_string(self, index: int) -> str | None:
        """Address field as text; None when unspecified or not an address."""
        return self._current().get_string(index)

    def request_address(self) -> str:
        """Address the current record was requested by (ntpdata, authdata), else ""."""
        return self._current().address

    def records_of(self, report: Report, count: int) -> list[_Record | None]:
        """Records ``0..count-1`` of ``report``, for the reader's fast path: each a
        view with the typed getters (None: a record without data), sources
        records with their names asked. Taken from :meth:`prefetch` where it
        fetched them, else fetched one by one; no record becomes current.
        """
        prefetched = self._prefetched
        records = prefetched[1] if prefetched is not None and prefetched[0] is report else {}
        self._record = self._prefetched = self._single = None
        out: list[_Record | None] = []
        for index in range(count):
            record = records.pop(index, _UNKNOWN)
            if record is _UNKNOWN:
                self._unordered = True  # from the first up (list_changed() asks again)
                record = self._fetch(report, index)
            if record is not None and not record.named and report is _SOURCES:
                self._name(record)
            out.append(record)
        return out

    def single_reply(self, report: Report) -> tuple[Layout, bytes] | None:
        """The reply to a single-record report's request, checked but not decoded:
        its layout (``.code``: the reply code) and datagram; None when chronyd has
        no data.

        The reader's fast path for single-record reports: no record becomes current.
        """
        if report.record_arg is not _NO_ARG:
            raise ChronyError(f"{report.name} is not a single-record report")
        self._record = self._prefetched = self._single = None
        name = report.name
        header, datagram = self._exchange(report.record_request, b"", _PLAIN_PACKS[name], name)
        layout = check_reply(name, header, datagram, REPORT_LAYOUTS[name])
        if layout is None:
            return None
        single = self._single = (layout, datagram)
        return single

    def current_reply(self) -> tuple[int, bytes]:
        """The current record's reply code and whole datagram, checked but not decoded.

        The reader's fast path (:mod:`pychrony._reader_py`) turns it into a
        dataclass in one pass instead of calling the typed getters field by field.
        """
        record = self._record or self._current()
        return record.layout.code, record.datagram

    # -- NamingSession --------------------------------------------------------

    def source_name(self) -> str | None:
        """Name the current sources record was configured with (chronyd 4.0+).

        None for refclocks, for a chronyd that does not tell, and for records of
        other reports. Asked of chronyd unless :meth:`prefetch` already did.
        """
        record = self._record or self._current()
        if not record.named:
            self._name(record)
        return record.name

    def _name(self, record: _Record) -> None:
        """Ask chronyd the name of a sources record, unless it is known."""
        address = self._name_address(record)
        if address is not None:  # no generator for a known name
            self._drive(self._name_steps(record, address))

    def _name_steps(self, record: _Record, address: bytes) -> Steps[None]:
        """Steps that ask chronyd the name of a sources record by ``address``."""
        header, datagram = yield from self._exchange_steps(
            reg.SOURCE_NAME_REQUEST, address, _NAME_PACK, "source name"
        )
        record.name = self._decode_name(address, header, datagram)

    # -- PrefetchingSession ---------------------------------------------------

    def prefetch(self, report: Report, count: int) -> None:
        """Fetch records ``0..count-1`` of ``report`` with pipelined requests.

        Up to :attr:`window` requests are in flight; replies are matched by
        sequence number, missing ones resent after ``timeout``. Address-addressed
        reports first ask sourcestats for each source's address; sources records
        also get their names. The records then serve :meth:`request_record`.
        """
        if self._keep_prefetched:
            self._keep_prefetched = False
            prefetched = self._prefetched
            if prefetched is not None and prefetched[0] is report:
                return
        self._drive(self._prefetch_steps(report, count))

    def _prefetch_steps(self, report: Report, count: int) -> Steps[None]:
        """Steps of :meth:`prefetch`."""
        self._prefetched = None
        if report.record_arg is _NO_ARG or count <= 0 or not self.pipelining:
            return
        records: dict[int, _Record | None] = {}
        jobs: deque[_Job] = deque()
        first = _SOURCESTATS if report.record_arg is _BY_ADDRESS else report
        kind = _STATS if report.record_arg is _BY_ADDRESS else _RECORD
        command = first.record_request
        pack = _INDEX_PACKS[first.name]
        for index in range(count - 1, -1, -1):  # the last first: pychrony._source_list
            jobs.append(_Job(kind, index, command, _index_data(index), pack))
        layouts = REPORT_LAYOUTS[report.name]

        def handle(job: _Job, header: ReplyKey, datagram: bytes) -> None:
            if job.kind == _NAME:
                record = records[job.index]
                assert record is not None
                record.name = self._decode_name(job.data, header, datagram)
                return
            if job.kind == _STATS:
                stats = self._decode_record(_SOURCESTATS, header, datagram)
                found = self._stats_address(stats)
                if found is None:  # a refclock (or a source gone): no record
                    records[job.index] = None
                else:
                    command, length = report.record_request, _REQUEST_LENGTHS[report.name]
                    pack = request_struct(length, len(found[0])).pack
                    jobs.append(_Job(_RECORD, job.index, command, found[0], pack, found[1]))
                return
            # _decode_record(), inlined (~800 instructions per record less)
            layout = check_reply(report.name, header, datagram, layouts)
            if layout is None:
                self._vanished = True  # the source went away after it was counted
                record = None
            else:
                record = _Record(layout, datagram, job.address)
            records[job.index] = record
            if record is not None and report is _SOURCES:
                address = self._name_address(record)
                if address is not None:
                    name_job = _Job(_NAME, job.index, reg.SOURCE_NAME_REQUEST, address, _NAME_PACK)
                    jobs.append(name_job)

        yield from self._pipeline_steps(jobs, handle, report.name)
        self._prefetched = (report, records)

    def load_steps(self, report: Report) -> Steps[None]:
        """Steps that fetch every record of ``report`` ahead of a reader.

        For a driver other than poll() (pychrony.aio): once they ran, reading
        the report makes no I/O — :meth:`record_count`, :meth:`prefetch`,
        :meth:`request_record`, :meth:`source_name` and :meth:`list_changed`
        answer from memory. A list that changed under the read is read again
        here, as the reader would.
        """
        self._loaded = None
        self._prefetched = None
        records: dict[int, _Record | None] = {}
        changed = False
        if report.count_request is None:
            count = 1
            records[0] = yield from self._fetch_steps(report, 0)
        else:
            for _ in range(LIST_READS):
                self._begin_read()
                count = yield from self._count_steps(report)
                if not 0 <= count <= reg.MAX_RECORDS:
                    self._loaded = (report, count, False)  # the reader rejects it
                    return
                records = {}
                if count > 0 and self.pipelining:
                    yield from self._prefetch_steps(report, count)
                    assert self._prefetched is not None
                    records = self._prefetched[1]
                else:  # one at a time, the last first: in order
                    for index in range(count - 1, -1, -1):
                        records[index] = yield from self._fetch_steps(report, index)
                changed = yield from self._changed_steps(report, count)
                if not changed:
                    break
        if report is _SOURCES:
            for record in records.values():
                if record is not None and not record.named:
                    address = self._name_address(record)
                    if address is not None:
                        yield from self._name_steps(record, address)
        self._prefetched = (report, records)
        self._loaded = (report, count, changed)

    def fileno(self) -> int:
        """The socket's descriptor (for an event loop's reader)."""
        return self._check_open().fileno()

    def probe(self) -> None:
        """Check that chronyd answers (any reply counts); raise if it does not."""
        self._exchange(reg.COUNT_REQUEST, b"", _COUNT_PACK, _COUNT_WHAT)

    # -- records --------------------------------------------------------------

    def _current(self) -> _Record:
        record = self._record
        if record is None:
            if self._single is not None:  # single_reply()'s, asked by a getter
                record = self._record = _Record(*self._single)
                return record
            raise ChronyError("No current record: request_record() did not make one current")
        return record

    def _fetch(self, report: Report, index: int) -> _Record | None:
        """One record, requested and awaited on its own."""
        if report.record_arg is _BY_ADDRESS:
            return self._drive(self._fetch_steps(report, index))
        # The steps of _fetch_steps without a generator.
        data, pack = self._record_request(report, index)
        header, datagram = self._exchange(report.record_request, data, pack, report.name)
        return self._decode_record(report, header, datagram)

    def _fetch_steps(self, report: Report, index: int) -> Steps[_Record | None]:
        """Steps of :meth:`_fetch`."""
        address = ""
        if report.record_arg is _BY_ADDRESS:
            stats = yield from self._fetch_steps(_SOURCESTATS, index)
            found = self._stats_address(stats)
            if found is None:
                return None
            data, address = found
            pack = request_struct(_REQUEST_LENGTHS[report.name], len(data)).pack
        else:
            data, pack = self._record_request(report, index)
        header, datagram = yield from self._exchange_steps(
            report.record_request, data, pack, report.name
        )
        return self._decode_record(report, header, datagram, address)

    @staticmethod
    def _record_request(report: Report, index: int) -> tuple[bytes, Pack]:
        """Data and packer of the request for record ``index`` of a report asked by
        index (or of its only one)."""
        if report.record_arg is _NO_ARG:
            if index != 0:
                raise ChronyError(f"{report.name} has a single record, not record {index}")
            return b"", _PLAIN_PACKS[report.name]
        return _index_data(index), _INDEX_PACKS[report.name]

    def _decode_record(
        self, report: Report, header: ReplyKey, datagram: bytes, address: str = ""
    ) -> _Record | None:
        layout = check_reply(report.name, header, datagram, REPORT_LAYOUTS[report.name])
        if layout is None:
            self._vanished = True  # the source went away after it was counted
            return None
        return _Record(layout, datagram, address)

    @staticmethod
    def _stats_address(stats: _Record | None) -> tuple[bytes, str] | None:
        """Raw address and text of a sourcestats record; None for refclocks."""
        if stats is None:
            return None
        text = stats.layout.field_value(stats.datagram, "address")
        if text is None:
            return None
        return stats.layout.address_bytes(stats.datagram, "address"), text

    def _name_address(self, record: _Record) -> bytes | None:
        """Raw address to ask a sources record's name by; None when there is none
        to ask (a refclock, a chronyd without names) or it is known already. The
        record counts as named from now on."""
        record.named = True
        layout = record.layout
        slot = layout.name_slot
        if slot is None or self._names is False:
            return None
        datagram = record.datagram
        start, mode = slot
        if datagram[mode + 1] == _REFCLOCK_MODE and not datagram[mode]:
            return None  # a refclock: the slot holds its reference ID
        # Known addresses (by their raw slot) first: only ever addresses that
        # source_address() gave, so that check need not run again for them.
        name = self._known_names.get(datagram[start : start + _ADDRESS_SLOT], _UNKNOWN)
        if name is not _UNKNOWN:
            record.name = name
            return None
        address = layout.source_address(datagram, "address")
        if address is None:
            return None  # an unspecified address
        return address

    def _decode_name(self, address: bytes, key: ReplyKey, datagram: bytes) -> str | None:
        """The name in a source-name reply; None (never an error) when there is none.

        Names are remembered by address for the session: a source's configured
        name does not change while it keeps its address, and asking again would
        double the requests of every ``get_sources()``.
        """
        header = ReplyHeader._make(key)
        if header.status in (Status.INVALID, Status.UNAUTHORISED):
            self._names = False  # chronyd before 4.0, or a closed command: stop asking
            return None
        if (
            header.status != Status.SUCCESS
            or header.version != reg.PROTOCOL_VERSION
            or header.code != reg.SOURCE_NAME_RESPONSE
            or len(datagram) != NAME_REQUEST_LENGTH
        ):
            return None
        self._names = True
        name = decode_name(datagram[reg.RESPONSE_HEADER_LEN :])
        if len(self._known_names) >= _MAX_KNOWN_NAMES:
            self._known_names.clear()
        self._known_names[address] = name
        return name

    # -- exchanges ------------------------------------------------------------
    #
    # The protocol engine is sans-I/O: each ``*_steps`` generator sends and
    # receives without blocking and yields a wait, ``(poll events, deadline)``;
    # its driver waits for those events (or the deadline) and sends back the
    # events that happened (0: the deadline passed). :meth:`_drive` waits with
    # poll(); pychrony.aio waits with the event loop's reader and writer.

    def _drive(self, steps: Steps[_T]) -> _T:
        """Run ``steps`` to completion, waiting with poll()."""
        pollers = self._pollers
        try:
            events, deadline = next(steps)
            while True:
                remaining = deadline - monotonic()
                ready = 0
                if remaining > 0:
                    # poll() rounds the timeout up to whole milliseconds: it never ends early.
                    polled = pollers[events].poll(remaining * 1000.0)
                    if polled:
                        ready = polled[0][1]
                events, deadline = steps.send(ready)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _exchange(self, command: int, data: bytes, pack: Pack, what: str) -> tuple[ReplyKey, bytes]:
        """Send one request (resending on timeout) and return the matching reply.

        The common case, the first datagram read being the answer to the first
        request, runs here without a generator; anything else continues in
        :meth:`_exchange_steps` with that attempt counted as made.
        """
        if not self._open:
            self._check_open()  # raises (or opens a forked child's own socket)
        sock = self._sock
        sequence = getrandbits(32)
        deadline = monotonic() + self.timeout
        packet = pack(REQUEST_START, command, 0, sequence, data)
        try:
            sock.send(packet)
            sent = True
        except OSError as exc:
            sent = self._send_failed(packet, exc)
        if sent and self._poll_in(self.timeout * 1000.0):
            reply = self._read_reply()
            if reply.__class__ is tuple:
                key, datagram = reply
                if key[6] == sequence and key[3] == command:
                    return key, datagram
        first = (sequence, deadline, packet, sent)
        return self._drive(self._exchange_steps(command, data, pack, what, first))

    def _exchange_steps(
        self,
        command: int,
        data: bytes,
        pack: Pack,
        what: str,
        first: tuple[int, float, bytes, bool] | None = None,
    ) -> Steps[tuple[ReplyKey, bytes]]:
        """Steps of :meth:`_exchange`; ``first``: the first attempt, already made
        (its sequence, deadline, packet and whether it left)."""
        self._check_open()
        timeout = self.timeout
        sequences: list[int] = []
        for attempt in range(self.attempts):
            if attempt == 0 and first is not None:
                sequence, deadline, packet, sent = first
            else:
                sequence = getrandbits(32)
                deadline = monotonic() + timeout
                packet = pack(REQUEST_START, command, attempt, sequence, data)
                sent = self._send_now(packet)
            sequences.append(sequence)
            # While chronyd's queue is full, wait for room until the deadline;
            # a request that never left counts as lost and is sent again.
            while not sent and (yield POLLOUT, deadline):
                sent = self._send_now(packet)
            # Bounded even if datagrams keep coming: each wait checks the deadline.
            while (yield POLLIN, deadline):
                for _ in range(_READS_PER_WAKE):
                    reply = self._read_reply()
                    if reply is False:
                        break
                    if reply is not True:
                        key, datagram = reply
                        if key[6] in sequences and key[3] == command:
                            return key, datagram
        raise self._timeout_error(what)

    def _pipeline_steps(
        self, jobs: deque[_Job], handle: Callable[[_Job, ReplyKey, bytes], None], what: str
    ) -> Steps[None]:
        """Run ``jobs`` (which ``handle`` may extend) with a window of requests in flight.

        Never waits past the earliest expiry of a request in flight, so the
        bound of :meth:`_exchange` holds for each request; requests that find
        chronyd's queue full wait for it to drain within the same bound.
        """
        self._check_open()
        timeout, window = self.timeout, self.window
        reads = 2 * window  # per wake-up: a flood cannot hold the loop past an expiry
        pending: dict[int, _Job] = {}  # every sequence sent, and its job
        # Jobs in flight and their expiry, in the order they expire: every job is
        # (re)sent with the same timeout and appended, so the first one expires first.
        waiting: dict[_Job, float] = {}
        unsent: deque[tuple[_Job, bytes]] = deque()  # refused by a full queue, in order
        if self._pollers[POLLIN].poll(0):
            for _ in range(64):  # late replies to abandoned requests: drop them
                if self._read_reply() is False:
                    break
        while jobs or waiting:
            if jobs and len(waiting) < window:
                expires = monotonic() + timeout
                while jobs and len(waiting) < window:
                    job = jobs.popleft()
                    self._send_job(job, pending, unsent)
                    waiting[job] = expires
            ready = yield (POLLIN | POLLOUT if unsent else POLLIN), next(iter(waiting.values()))
            if ready & POLLOUT:
                while unsent and self._send_now(unsent[0][1]):
                    unsent.popleft()
            if ready & POLLIN or not ready:  # not ready: the wait expired, read what came
                for _ in range(reads):
                    reply = self._read_reply()
                    if reply is False:
                        break
                    if reply is True:
                        continue
                    key, datagram = reply
                    job = pending.get(key[6])  # type: ignore[assignment]
                    # A job no longer waiting was answered already (a late reply
                    # to one of its earlier attempts): its sequences stay pending.
                    if job is None or key[3] != job.command or waiting.pop(job, None) is None:
                        continue
                    handle(job, key, datagram)
                if ready == POLLIN:
                    continue  # expiries are checked when a wait ends without a reply
            if not waiting:
                continue
            now = monotonic()
            expired = [job for job, expires in waiting.items() if expires <= now]
            if not expired:
                continue
            expires = now + timeout
            self._unordered = True
            for job in expired:
                job.attempt += 1
                if job.attempt >= self.attempts:
                    raise self._timeout_error(what)
                if unsent:  # its earlier attempt never left: replace it
                    unsent = deque(item for item in unsent if item[0] is not job)
                self._send_job(job, pending, unsent)
                del waiting[job]
                waiting[job] = expires  # to the end: the order of expiry holds

    def _send_job(
        self, job: _Job, pending: dict[int, _Job], unsent: deque[tuple[_Job, bytes]]
    ) -> None:
        """Send ``job`` as a new attempt (queued behind ``unsent`` ones if any)."""
        sequence = getrandbits(32)
        while sequence in pending:
            sequence = getrandbits(32)
        pending[sequence] = job
        packet = job.pack(REQUEST_START, job.command, job.attempt, sequence, job.data)
        if unsent:
            unsent.append((job, packet))
            return
        if not self._send_now(packet):
            unsent.append((job, packet))

    def _send_now(self, packet: bytes) -> bool:
        """Send ``packet`` if chronyd's queue has room (False when it is full)."""
        try:
            self._sock.send(packet)
            return True
        except OSError as exc:
            return self._send_failed(packet, exc)

    def _send_failed(self, packet: bytes, exc: OSError) -> bool:
        """After send() raised ``exc``: False for a full queue; a Unix socket whose
        chronyd went away (restarted?) is connected again and ``packet`` resent."""
        if isinstance(exc, BlockingIOError):
            return False
        if exc.errno not in _PEER_GONE or self.endpoint.path is None:
            raise self._io_error(exc) from exc
        self._reconnect(exc)
        try:
            self._sock.send(packet)
            return True
        except BlockingIOError:
            return False
        except OSError as again:
            raise self._io_error(again) from again

    def _read_reply(self) -> tuple[ReplyKey, bytes] | bool:
        """Read one queued datagram without waiting: a reply's REPLY_KEY fields and
        bytes, True for a datagram that is not a reply, False when none is queued."""
        try:
            datagram = self._sock.recv(_RECV_SIZE)
        except BlockingIOError:
            return False
        except OSError as exc:
            raise self._io_error(exc) from exc
        if not _HEADER_LEN <= len(datagram) < _RECV_SIZE:
            return True  # not a reply (oversized ones fill the buffer)
        key = _unpack_key(datagram)
        if key[1] != PKT_TYPE_REPLY or key[2]:
            return True
        return key, datagram

    def _check_open(self) -> socket.socket:
        if self._inherited:
            self._reopen_inherited()
        if not self._open:
            raise ChronyConnectionError(f"The session to chronyd at {self.address} is closed")
        return self._sock

    def _reconnect(self, exc: OSError) -> None:
        """chronyd's socket went away (a restart?): connect to its path again."""
        path = self.endpoint.path
        assert path is not None
        try:
            self._sock.connect(path)
        except OSError as again:
            raise open_error(path, -(again.errno or errno.EIO)) from exc
        self._reconnects += 1  # records read before may be another chronyd's

    def _io_error(self, exc: OSError) -> ChronyConnectionError:
        if isinstance(exc, ConnectionRefusedError):
            return ChronyConnectionError(
                f"Failed to process the response: chronyd at {self.address} refused the "
                "request. Is chronyd running and listening there (cmdport, bindcmdaddress)?",
                -errno.ECONNREFUSED,
            )
        return ChronyConnectionError(
            "Failed to process the response: lost the connection to chronyd at "
            f"{self.address} ({exc.strerror or exc})",
            -(exc.errno or errno.EIO),
        )

    def _timeout_error(self, what: str) -> ChronyTimeoutError:
        return timeout_error(self.address, what, self.timeout, self.attempts)
