"""Fuzz target: chronyd replies into the pure-Python protocol client (atheris).

Run it (libFuzzer options and corpus directories as usual)::

    python tests/fuzz/fuzz_wire.py -max_total_time=60 NEW_DIR tests/fuzz/corpus/wire
    python tests/fuzz/fuzz_wire.py --make-seeds tests/fuzz/corpus/wire

An input is two control bytes and a datagram. The datagram goes through
``_wire.parse_reply_header`` and ``decode_reply`` for every report it could
answer, then through a whole ``CmdmonSession`` + reader: an in-process fake
chronyd answers every request well (from the registry), except the request the
control bytes pick, which gets the fuzzed datagram (with the request's sequence
and command patched in, or as is). The property: only pychrony's exceptions
(``ChronyError``), never another one, never a hang; decoded values and
dataclasses stay within the wire's and the registry's bounds.

Crashes are saved (``tests/fuzz/regressions/wire/``) and replayed by
``tests/fuzz/test_fuzz.py`` through :func:`check`, with or without atheris.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import ipaddress
import math
import os
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: cmdmon_fake

if __name__ == "__main__" and sys.argv[1:2] != ["--make-seeds"]:
    import atheris

    # Coverage feedback from pychrony's code (and the fake's) guides the mutations.
    _instrumented: contextlib.AbstractContextManager[Any] = atheris.instrument_imports(
        include=["pychrony", "cmdmon_fake"]
    )
else:
    _instrumented = contextlib.nullcontext()

with _instrumented:
    from cmdmon_fake import Sources, default_responder, parse_request, record_values

    from pychrony import _reader_py
    from pychrony import registry as reg
    from pychrony._address import Endpoint
    from pychrony._source_list import LIST_READS
    from pychrony.exceptions import ChronyError
    from pychrony.protocol import wire as _wire
    from pychrony.protocol.session import CmdmonSession
    from pychrony.registry import REPORTS, Field, Report, Wire

#: Seconds the session waits for a reply that never matches (ignored datagrams).
TIMEOUT = 0.002
#: Requests for one report beyond which a session is a runaway: per record at most
#: a record, an address and a name request, plus resends, in each of the reader's
#: LIST_READS reads (a count of ~MAX_RECORDS whose records vanish is read that often).
RUNAWAY = LIST_READS * 4 * reg.MAX_RECORDS
_SOURCES = Sources(count=3, refclocks=frozenset({2}))
_RESPOND = default_responder(_SOURCES)
_INT_LIMITS = {
    Wire.UINT64: 2**64,
    Wire.UINT32: 2**32,
    Wire.UINT16: 2**16,
    Wire.UINT8: 2**8,
}
_SIGNED_LIMITS = {Wire.INT16: 2**15, Wire.INT8: 2**7}
#: Which request of a report's reading gets the fuzzed datagram (second control byte).
_TARGETS: tuple[Callable[[Report], int], ...] = (
    lambda r: r.record_request,
    lambda r: reg.COUNT_REQUEST,
    lambda r: reg.SOURCE_NAME_REQUEST,
    lambda r: reg.SOURCESTATS.record_request,
)


# -- the decoder --------------------------------------------------------------------


def check_decoded(response: reg.Response, values: tuple[Any, ...]) -> None:
    """Decoded values are of their wire types and within the wire's ranges."""
    assert len(values) == len(response.fields)
    for field, value in zip(response.fields, values, strict=True):
        check_raw(field, value)


def check_raw(field: Field, value: Any) -> None:
    wire = field.wire
    if wire in _INT_LIMITS:
        assert type(value) is int, (field, value)
        assert 0 <= value < _INT_LIMITS[wire], (field, value)
    elif wire in _SIGNED_LIMITS:
        limit = _SIGNED_LIMITS[wire]
        assert type(value) is int, (field, value)
        assert -limit <= value < limit, (field, value)
    elif wire is Wire.FLOAT:
        assert type(value) is float, (field, value)
        assert math.isfinite(value), (field, value)
    elif wire is Wire.TIMESPEC:
        sec, nsec = value
        assert type(sec) is int, (field, value)
        assert type(nsec) is int, (field, value)
        assert -(2**63) <= sec < 2**63, (field, value)  # a signed time_t
        assert 0 <= nsec < 2**32, (field, value)
    elif wire is Wire.ADDRESS_OR_REFID and type(value) is int:
        assert 0 <= value < 2**32, (field, value)  # a refclock's reference ID
    else:
        assert value is None or type(value) is str, (field, value)
        if value is not None and not value.startswith("ID#"):
            ipaddress.ip_address(value)


def check_decoder(datagram: bytes) -> None:
    header = _wire.parse_reply_header(datagram)
    if header is None:
        return
    assert len(datagram) >= reg.RESPONSE_HEADER_LEN
    candidates = [r for r in REPORTS if r.record_request == header.command] or list(REPORTS)
    for report in candidates:
        try:
            decoded = _wire.decode_reply(
                report.name, header, datagram, _wire.REPORT_LAYOUTS[report.name]
            )
        except ChronyError:
            continue
        if decoded is None:
            assert header.status == _wire.Status.NO_SUCH_SOURCE
            continue
        layout, values = decoded
        assert len(datagram) == layout.length
        response = report.response(layout.code)
        assert response is not None
        check_decoded(response, values)
    try:
        count = _wire.decode_reply("count", header, datagram, {2: _wire.COUNT_LAYOUT})
    except ChronyError:
        return
    if count is not None:
        check_decoded(reg.COUNT_RESPONSE, count[1])


# -- the session and the reader -------------------------------------------------------


class FakeSocket:
    """A connected datagram socket with chronyd inside: ``send`` queues the replies.

    ``fileno`` is a pipe that is readable while replies are queued, so the
    session's ``poll()`` works as on a real socket.
    """

    def __init__(self, respond: Callable[[bytes], list[bytes]]) -> None:
        self._respond = respond
        self._queue: deque[bytes] = deque()
        self._r, self._w = os.pipe()
        self.sent = 0

    def fileno(self) -> int:
        return self._r

    def send(self, packet: bytes) -> int:
        self.sent += 1
        assert self.sent < RUNAWAY, "a runaway session"
        for reply in self._respond(packet):
            self._queue.append(reply)
            os.write(self._w, b"x")
        return len(packet)

    def recv(self, size: int) -> bytes:
        if not self._queue:
            raise BlockingIOError
        os.read(self._r, 1)
        return self._queue.popleft()[:size]

    def close(self) -> None:
        os.close(self._r)
        os.close(self._w)


def _responder(command: int, datagram: bytes, patch: bool) -> Callable[[bytes], list[bytes]]:
    def respond(packet: bytes) -> list[bytes]:
        request = parse_request(packet)
        if request.command != command:
            return _RESPOND(request)
        reply = datagram
        if patch and len(reply) >= 20:  # the request's command and sequence: a match
            reply = (
                reply[:4]
                + command.to_bytes(2, "big")
                + reply[6:16]
                + request.sequence.to_bytes(4, "big")
                + reply[20:]
            )
        return [reply]

    return respond


def check_model(report: Report, value: Any) -> None:
    """A reader's result: the report's dataclasses, every attribute within bounds."""
    if report.multi:
        assert type(value) is list
        records = value
    elif value is None:
        assert report.name == "rtcdata"
        return
    else:
        records = [value]
    fields = {}
    for response in reversed(report.responses):  # the newest layout bounds (as the readers)
        for f in response.fields:
            if f.attr:
                fields.setdefault(f.attr, f)
    for record in records:
        assert type(record) is report.model
        for attr in dataclasses.fields(record):
            v = getattr(record, attr.name)
            field = fields.get(attr.name)
            if field is None or v is None:
                continue
            if field.enum is not None:
                assert isinstance(v, field.enum), (attr.name, v)
            elif isinstance(v, (int, float)) and not isinstance(v, bool | enum.Enum):
                assert math.isfinite(v), (attr.name, v)
                low, high = field.bounds
                assert low is None or v >= low, (attr.name, v)
                assert high is None or v <= high, (attr.name, v)
            else:
                assert isinstance(v, str | bool), (attr.name, v)


def check_session(selector: int, flags: int, datagram: bytes) -> None:
    report = REPORTS[selector % len(REPORTS)]
    command = _TARGETS[(selector // len(REPORTS)) % len(_TARGETS)](report)
    sock = FakeSocket(_responder(command, datagram, patch=bool(flags & 1)))
    session = CmdmonSession(sock, Endpoint(path="/fuzz"), TIMEOUT, 2)  # type: ignore[arg-type]
    session.pipelining = bool(flags & 2)
    try:
        value = _reader_py.read_report(session, report)
    except ChronyError:
        return
    finally:
        session.close()
    check_model(report, value)


def check(data: bytes) -> None:
    """One input: raises (anything but ChronyError escaping is a bug) on a failure."""
    if len(data) < 2:
        return
    datagram = data[2:]
    check_decoder(datagram)
    check_session(data[0], data[1], datagram)


# -- seeds ----------------------------------------------------------------------------


def seeds() -> dict[str, bytes]:
    """A valid reply for every report layout (and count, name, error), with control bytes
    aiming it at the request it answers."""
    out: dict[str, bytes] = {}
    for i, report in enumerate(REPORTS):
        for response in report.responses:
            reply = _wire.encode_reply(
                response,
                record_values(report, response, 1),
                command=report.record_request,
                sequence=0,
            )
            out[f"{report.name}-{response.code}"] = bytes([i, 3]) + reply
    sources = REPORTS.index(reg.SOURCES)
    count = _wire.encode_reply(reg.COUNT_RESPONSE, [2], command=reg.COUNT_REQUEST, sequence=0)
    out["count"] = bytes([sources + len(REPORTS), 1]) + count
    name = _wire.REPLY_HEADER.pack(
        6, 2, 0, 0, reg.SOURCE_NAME_REQUEST, reg.SOURCE_NAME_RESPONSE, 0, 0, 0, 0, 0, 0, 0
    ) + b"ntp.example.org".ljust(reg.SOURCE_NAME_LENGTH, b"\0")
    out["name"] = bytes([sources + 2 * len(REPORTS), 1]) + name
    out["error-no-rtc"] = bytes([REPORTS.index(reg.RTCDATA), 1]) + _wire.encode_error_reply(
        reg.RTCDATA.record_request, 0, _wire.Status.NO_RTC
    )
    return out


def make_seeds(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        (directory / name).write_bytes(data)


def main() -> None:
    if sys.argv[1:2] == ["--make-seeds"]:
        make_seeds(Path(sys.argv[2]))
        return
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
