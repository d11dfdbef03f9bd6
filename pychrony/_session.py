"""The session interface every backend's record source implements.

It is shaped like libchrony's API: ask how many records a report has, request
record ``i`` (it becomes the current record), then read its fields by index with
typed getters after looking the indexes up by name.

Optional capabilities are declared here too, each a Protocol of its own; the
reader asks for them with ``getattr`` (a runtime Protocol check costs ~14 µs a
call): pipelined prefetching, source names, a source list that changed under a
read, and the fast path's raw replies (``single_reply``, ``records_of``,
``current_reply``: pychrony's own client, ``tests/reply_session.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .protocol.wire import Layout
    from .registry import Report

__all__ = [
    "ChangeTellingSession",
    "NamingSession",
    "PrefetchingSession",
    "RawRecordsSession",
    "RecordView",
    "ReplySession",
    "Session",
    "SingleReplySession",
]


@runtime_checkable
class Session(Protocol):
    """A source of chronyd records (real socket, scripted mock, …)."""

    def record_count(self, report: Report) -> int:
        """Number of records of ``report`` (1 for single-record reports)."""

    def request_record(self, report: Report, index: int) -> bool:
        """Make record ``index`` current; False when it has no data (a refclock
        in an address-addressed report such as ntpdata)."""

    def response_code(self) -> int:
        """Reply code of the current record: identifies its field layout."""

    def field_index(self, name: str) -> int:
        """Index of field ``name`` in the current record, or -1."""

    def get_uinteger(self, index: int) -> int:
        """Unsigned integer field."""

    def get_integer(self, index: int) -> int:
        """Signed integer field."""

    def get_float(self, index: int) -> float:
        """Floating-point field."""

    def get_timespec(self, index: int) -> tuple[int, int]:
        """Timespec field as (seconds, nanoseconds)."""

    def get_string(self, index: int) -> str | None:
        """String (address) field; None when unspecified or not a string."""

    def request_address(self) -> str:
        """Address the current record was requested by (address-addressed reports)."""

    def close(self) -> None:
        """Release the session's resources; idempotent."""


@runtime_checkable
class PrefetchingSession(Session, Protocol):
    """A session that can fetch many records at once (pipelined requests)."""

    def prefetch(self, report: Report, count: int) -> None:
        """Fetch records ``0..count-1`` of ``report`` ahead of ``request_record``."""


@runtime_checkable
class NamingSession(Session, Protocol):
    """A session that can tell the configured name of a source (chronyd 4.0+)."""

    def source_name(self) -> str | None:
        """Name the current ``sources`` record was configured with; None when
        unknown (refclocks, older chronyd)."""


class ChangeTellingSession(Session, Protocol):
    """A session that can tell whether a source list changed under a read."""

    def list_changed(self, report: Report, count: int, duplicates: bool) -> bool:
        """Whether the read of ``count`` records of ``report`` must start again
        (``duplicates``: the reader saw a source twice)."""


class SingleReplySession(Session, Protocol):
    """A session handing out a single-record report's reply undecoded (fast path)."""

    def single_reply(self, report: Report) -> tuple[Layout, bytes] | None:
        """The reply's layout and datagram, checked; None when chronyd has no data."""


class ReplySession(Session, Protocol):
    """A session handing out the current record's reply undecoded (fast path)."""

    def current_reply(self) -> tuple[int, bytes]:
        """The current record's reply code and whole datagram."""


class RecordView(Protocol):
    """One record as ``records_of`` hands it out: its reply and the typed getters."""

    @property
    def layout(self) -> Layout:
        """The reply's layout (``.code``: its reply code)."""

    @property
    def datagram(self) -> bytes:
        """The whole reply."""

    def field_index(self, name: str) -> int: ...
    def get_uinteger(self, index: int) -> int: ...
    def get_integer(self, index: int) -> int: ...
    def get_float(self, index: int) -> float: ...
    def get_timespec(self, index: int) -> tuple[int, int]: ...
    def get_string(self, index: int) -> str | None: ...
    def response_code(self) -> int: ...
    def request_address(self) -> str: ...
    def source_name(self) -> str | None: ...


class RawRecordsSession(Session, Protocol):
    """A session handing out many records at once as one-record views (fast path)."""

    def records_of(self, report: Report, count: int) -> Sequence[RecordView | None]:
        """Records ``0..count-1`` of ``report``; None: a record without data."""
