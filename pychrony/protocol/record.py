"""A checked reply as a record: the one-record view the reader and getters use."""

from __future__ import annotations

from typing import Any

from .wire import Layout

__all__ = ["Record"]


class Record:
    """A checked reply and what the session knows besides its fields.

    Also a one-record view for the reader (``CmdmonSession.records_of``): the
    session's typed getters, ``request_address()`` and ``source_name()``. Its
    fields are decoded only when a getter asks (:attr:`values`): the reader
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
        """Every field's value (see :meth:`pychrony.protocol.wire.Layout.decode`), decoded once."""
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
