"""An in-memory session over reply datagrams: the Python reader's fast path without I/O.

Used by tests/test_reader_fast.py (fast and generic paths agree) and by
benchmarks/test_bench_convert.py (conversion speed of the fast path).
"""

from __future__ import annotations

import math
import struct
from typing import Any

from pychrony.protocol import wire
from pychrony.registry import Report, Response
from pychrony.testing import ScriptedState

__all__ = ["GenericView", "ReplySession", "reply", "scripted_replies"]


class ReplySession:
    """An in-memory session over reply datagrams, with the fast path's ``current_reply``.

    Its getters answer as :class:`pychrony.protocol.session.CmdmonSession`'s do (the value
    decoded by ``Layout.decode`` when its type matches, else libchrony's default).
    """

    def __init__(self, replies: dict[str, list[tuple[bytes, str]]]) -> None:
        self.replies = replies  # report -> [(datagram, request address)]
        self._layout: wire.Layout | None = None
        self._datagram = b""
        self._address = ""

    def record_count(self, report: Report) -> int:
        return len(self.replies[report.name])

    def request_record(self, report: Report, index: int) -> bool:
        datagram, self._address = self.replies[report.name][index]
        code = struct.unpack_from(">H", datagram, 6)[0]
        self._layout = wire.REPORT_LAYOUTS[report.name][code]
        self._datagram = datagram
        return True

    def current_reply(self) -> tuple[int, bytes]:
        assert self._layout is not None
        return self._layout.code, self._datagram

    def response_code(self) -> int:
        assert self._layout is not None
        return self._layout.code

    def field_index(self, name: str) -> int:
        assert self._layout is not None
        return self._layout.index.get(name, -1)

    def _value(self, index: int) -> Any:
        assert self._layout is not None
        return self._layout.decode(self._datagram)[index]

    def get_uinteger(self, index: int) -> int:
        value = self._value(index)
        return value if value.__class__ is int else 0

    get_integer = get_uinteger

    def get_float(self, index: int) -> float:
        value = self._value(index)
        return value if value.__class__ is float else math.nan

    def get_timespec(self, index: int) -> tuple[int, int]:
        value = self._value(index)
        return value if value.__class__ is tuple else (0, 0)

    def get_string(self, index: int) -> str | None:
        value = self._value(index)
        return value if value.__class__ is str else None

    def request_address(self) -> str:
        return self._address

    def source_name(self) -> str | None:
        return "configured.example.org"

    def close(self) -> None:
        pass


#: The hooks by which pychrony._reader_py takes its fast paths.
FAST_PATH_HOOKS = frozenset({"current_reply", "single_reply", "records_of"})


class GenericView:
    """Any session without its fast-path hooks: the reader takes the generic path."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def __getattr__(self, name: str) -> Any:
        if name in FAST_PATH_HOOKS:
            raise AttributeError(name)
        return getattr(self._session, name)


def reply(response: Response, values: Any) -> bytes:
    return wire.encode_reply(response, values, command=1, sequence=1)


def scripted_replies(state: ScriptedState) -> dict[str, list[tuple[bytes, str]]]:
    return {
        name: [(reply(r.response, r.values), r.request_address) for r in records if r is not None]
        for name, records in state.records.items()
    }
