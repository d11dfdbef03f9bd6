"""The session interface every backend's record source implements.

It is shaped like libchrony's API: ask how many records a report has, request
record ``i`` (it becomes the current record), then read its fields by index with
typed getters after looking the indexes up by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .registry import Report

__all__ = ["NamingSession", "PrefetchingSession", "Session"]


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
