"""Source names (chronyd 4.0+): which to ask for, and what the answers say.

Names are remembered by raw address for a session: a source's configured name
does not change while it keeps its address, and asking again would double the
requests of every ``get_sources()``.
"""

from __future__ import annotations

from typing import Any, Final

from .. import registry as reg
from ..models import SourceMode
from .record import Record
from .wire import NAME_REQUEST_LENGTH, ReplyHeader, ReplyKey, Status, decode_name

__all__ = ["SourceNames"]

#: Source names remembered per session (by address) before starting afresh.
_MAX_KNOWN_NAMES: Final = 4096
_ADDRESS_SLOT: Final = reg.Wire.ADDRESS.size  # IPAddr: 16 bytes, family, padding
_REFCLOCK_MODE: Final = SourceMode.REFCLOCK.value
_UNKNOWN: Any = object()


class SourceNames:
    """What a session knows of source names: the known ones, and whether chronyd tells."""

    __slots__ = ("answers", "known")

    def __init__(self) -> None:
        self.answers: bool | None = None  # does chronyd answer source-name requests?
        self.known: dict[bytes, str | None] = {}  # by raw address

    def address_to_ask(self, record: Record) -> bytes | None:
        """Raw address to ask a sources record's name by; None when there is none
        to ask (a refclock, a chronyd without names) or it is known already. The
        record counts as named from now on."""
        record.named = True
        layout = record.layout
        slot = layout.name_slot
        if slot is None or self.answers is False:
            return None
        datagram = record.datagram
        start, mode = slot
        if datagram[mode + 1] == _REFCLOCK_MODE and not datagram[mode]:
            return None  # a refclock: the slot holds its reference ID
        # Known addresses (by their raw slot) first: only ever addresses that
        # source_address() gave, so that check need not run again for them.
        name = self.known.get(datagram[start : start + _ADDRESS_SLOT], _UNKNOWN)
        if name is not _UNKNOWN:
            record.name = name
            return None
        return layout.source_address(datagram, "address")  # None: unspecified

    def decode(self, address: bytes, key: ReplyKey, datagram: bytes) -> str | None:
        """The name in a source-name reply; None (never an error) when there is none."""
        header = ReplyHeader._make(key)
        if header.status in (Status.INVALID, Status.UNAUTHORISED):
            self.answers = False  # chronyd before 4.0, or a closed command: stop asking
            return None
        if (
            header.status != Status.SUCCESS
            or header.version != reg.PROTOCOL_VERSION
            or header.code != reg.SOURCE_NAME_RESPONSE
            or len(datagram) != NAME_REQUEST_LENGTH
        ):
            return None
        self.answers = True
        name = decode_name(datagram[reg.RESPONSE_HEADER_LEN :])
        if len(self.known) >= _MAX_KNOWN_NAMES:
            self.known.clear()
        self.known[address] = name
        return name
