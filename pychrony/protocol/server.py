"""A chronyd's command server as a pure function: datagram in, datagram out.

:class:`ServerCore` answers each request as chronyd 4.3+ does — the framing and
version checks, the request length rule (``STT_BADPKTLENGTH``), the open-command
set for callers that are not trusted (``STT_UNAUTH`` over UDP), ``STT_NORTC``,
``STT_NOTENABLED`` and ``STT_NOSUCHSOURCE`` where chronyd sends them, and a
refusal for every command that would change chronyd (never a fake that accepts a
write) — from the phase of a :class:`~pychrony.testing.Timeline` in force. It
never touches a socket or reads a clock: the caller says when each datagram came
(``now``), and gets back the reply and how long to hold it (a late fault). The
socket driver is :mod:`pychrony.protocol.driver`.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

from .. import registry as reg
from ..models import SourceMode
from ..registry import RecordArg
from ..testing.config import ChronyStateConfig
from ..testing.faults import Fault, FaultKind
from ..testing.state import ScriptedState
from ..testing.timeline import Phase, Timeline
from . import codec
from .codec import Request, Status

__all__ = ["Answer", "ServerCore"]

_REPORTS_BY_COMMAND = {r.record_request: r for r in reg.REPORTS}
# Byte offsets: a request's attempt (then its sequence) and data; a reply's sequence.
_ATTEMPT, _DATA, _SEQUENCE = 6, reg.REQUEST_HEADER_LEN, 16
_KEPT_REPLIES = 4096
_UNKNOWN = object()
#: Faults a driver acts out on its sockets when a phase starts.
SOCKET_FAULTS = (FaultKind.RESTART, FaultKind.PERMISSION)


class Answer(NamedTuple):
    """A datagram to send back and the seconds to hold it after the request came."""

    datagram: bytes
    delay: float = 0.0


class ServerCore:
    """Answers requests from a scenario or timeline as chronyd ``version`` would."""

    def __init__(
        self,
        scenario: ChronyStateConfig | Timeline,
        *,
        version: str = "4.3",
        start: float = 0.0,
    ) -> None:
        self.profile = codec.profile(version)
        self.timeline = Timeline.of(scenario)
        self.cursor = self.timeline.cursor(layouts=self.profile.layout_codes(), start=start)
        self.replies = 0  # replies made (a drop-every-k fault counts them)
        self._templates: dict[tuple[int, bool, bytes, bytes], bytes | None] = {}
        self._acted = -1  # the last phase whose socket faults were handed out
        self._lock = threading.Lock()

    @property
    def requests(self) -> int:
        """Datagrams received so far."""
        return self.cursor.requests

    # -- the I/O-free interface -----------------------------------------------

    def receive(self, datagram: bytes, now: float, *, trusted: bool) -> Answer | None:
        """The answer to ``datagram`` received at ``now``; None: no reply.

        ``trusted`` is True for the Unix socket (every command allowed) and False
        over UDP (only chronyd's open commands).
        """
        phase = self.cursor.request(now)
        if phase.fault(FaultKind.HUNG):
            return None
        # A phase answers the same request the same way: replies are kept without
        # their sequence number, which is spliced in (a fleet asks the same things).
        key = (phase.index, trusted, bytes(datagram[:_ATTEMPT]), bytes(datagram[_DATA:]))
        template = self._templates.get(key, _UNKNOWN)
        if template is _UNKNOWN:
            request = codec.decode_request(datagram)
            template = None if request is None else self.answer(request, phase, trusted=trusted)
            if len(self._templates) >= _KEPT_REPLIES:
                self._templates.clear()
            self._templates[key] = template
        if template is None:
            return None
        assert isinstance(template, bytes)
        reply = (
            template[:_SEQUENCE] + datagram[_ATTEMPT + 2 : _DATA - 8] + template[_SEQUENCE + 4 :]
        )
        return self._with_faults(phase, reply)

    def socket_faults(self, now: float) -> list[Fault]:
        """Socket faults (restart, permission) of a phase that started since last asked;
        a driver calls this after each datagram and at :meth:`next_change`. A phase
        without a permission fault gives ``Fault.permission(0o666)`` back once after
        one that had it (the socket's mode is restored)."""
        phase = self.cursor.phase(now)
        with self._lock:
            if phase.index == self._acted:
                return []
            previous = self._acted
            self._acted = phase.index
        faults = [f for f in phase.config.faults if f.kind in SOCKET_FAULTS]
        had_mode = previous >= 0 and any(
            f.kind is FaultKind.PERMISSION for f in self.timeline.configs[previous].faults
        )
        if had_mode and not phase.fault(FaultKind.PERMISSION):
            faults.append(Fault.permission(0o666))
        return faults

    def next_change(self, now: float) -> float | None:
        """Clock time at which the next timed step starts (None: no timed step next)."""
        after = self.timeline.next_start(self.cursor.phase(now).index)
        return None if after is None else self.cursor.start + after

    # -- chronyd's logic --------------------------------------------------------

    def answer(self, request: Request, phase: Phase, *, trusted: bool) -> bytes | None:
        """chronyd's reply to ``request`` in ``phase`` (None: it sends nothing)."""
        if request.version != reg.PROTOCOL_VERSION:
            return codec.version_reply(request)
        command = request.command
        expected = self.profile.lengths.get(command, 0)
        if command >= self.profile.request_types or expected < reg.REQUEST_HEADER_LEN:
            reply = codec.encode_status(request, Status.INVALID)
        elif request.length < expected:
            reply = codec.encode_status(request, Status.BAD_PACKET_LENGTH)
        elif not trusted and command not in self.profile.open_commands:
            reply = codec.encode_status(request, Status.UNAUTHORISED)
        else:
            reply = self._dispatch(request, phase)
        # chronyd never sends a reply longer than the request (no amplification).
        return reply if len(reply) <= request.length else None

    def _dispatch(self, request: Request, phase: Phase) -> bytes:
        command = request.command
        state = phase.state
        if command == reg.COUNT_REQUEST:
            return codec.encode_count(request, len(state.records["sources"]))
        if command == reg.SOURCE_NAME_REQUEST:
            return self._source_name(request, phase.config)
        if command == reg.CLIENTS.record_request:
            return self._clients(request, state)
        report = _REPORTS_BY_COMMAND.get(command)
        if report is not None:
            return self._record(request, report, state)
        if command == codec.REQ_NULL:
            return codec.encode_null(request)
        if command == codec.REQ_LOGON:  # authentication is gone: logon always fails
            return codec.encode_status(request, Status.FAILED)
        if command == codec.REQ_MANUAL_LIST:
            return codec.encode_empty_manual_list(request)
        # A command that would change chronyd: refused, as to a caller that may not.
        return codec.encode_status(request, Status.UNAUTHORISED)

    def _record(self, request: Request, report: reg.Report, state: ScriptedState) -> bytes:
        if report.name in state.disabled:
            status = Status.NO_RTC if report is reg.RTCDATA else Status.NOT_ENABLED
            return codec.encode_status(request, status)
        records = state.records[report.name]
        if report.record_arg is RecordArg.NONE:
            if not records:
                return codec.encode_status(request, Status.NO_RTC)
            record = records[0]
        elif report.record_arg is RecordArg.INDEX:
            index = request.record_index
            record = records[index] if index < len(records) else None
        else:
            address = request.address
            record = next(
                (r for r in records if r is not None and r.request_address == address), None
            )
        if record is None:
            return codec.encode_status(request, Status.NO_SUCH_SOURCE)
        return codec.encode_record(request, record.response, record.values)

    def _clients(self, request: Request, state: ScriptedState) -> bytes:
        """The client log's page; a reset (which would clear chronyd's counters) is
        refused like every command that changes chronyd."""
        if int.from_bytes(request.data[12:16], "big"):
            return codec.encode_status(request, Status.UNAUTHORISED)
        records = [r.values for r in state.records.get("clients", []) if r is not None]
        return codec.encode_clients(request, records)

    def _source_name(self, request: Request, config: ChronyStateConfig) -> bytes:
        address = request.address
        for source in config.sources:
            if source.mode is not SourceMode.REFCLOCK and source.address == address:
                return codec.encode_name(request, source.name or source.address)
        return codec.encode_status(request, Status.NO_SUCH_SOURCE)

    def _with_faults(self, phase: Phase, reply: bytes) -> Answer | None:
        drop = phase.fault(FaultKind.DROP_EVERY)
        with self._lock:
            self.replies += 1
            dropped = drop is not None and self.replies % int(drop.value) == 0
        if dropped:
            return None
        if phase.fault(FaultKind.GARBAGE):
            reply = codec.garbage(len(reply))
        truncated = phase.fault(FaultKind.TRUNCATED)
        if truncated is not None:
            reply = reply[: int(truncated.value)]
        late = phase.fault(FaultKind.LATE)
        return Answer(reply, late.value if late else 0.0)
