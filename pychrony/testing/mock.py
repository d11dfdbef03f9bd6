"""The scripted mock session: serves a scenario through the Session interface.

It behaves like a libchrony session over a chronyd in the configured state:
fields are looked up by libchrony's names from the registry's layouts, typed
getters return libchrony's defaults for a field of another type, and injected
errors surface where libchrony would report them.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from .._address import DEFAULT_SOCKETS
from .._errors import LibchronyError, libchrony_error, open_error, timeout_error
from ..exceptions import ChronyConnectionError, ChronyDataError
from ..models import SourceMode
from ..registry import SOURCES, FieldType, Report
from .config import ChronyStateConfig
from .faults import FaultKind
from .records import RawRecord, RawValue, resolved_field
from .state import ScriptedState
from .timeline import REAL_CLOCK, Clock, Phase, Timeline, TimelineCursor

#: The connection's defaults (pychrony.connection's DEFAULT_TIMEOUT, DEFAULT_ATTEMPTS).
_TIMEOUT = 1.0
_ATTEMPTS = 3
#: A reply cut shorter than a reply header is not a reply: the client ignores it.
_REPLY_HEADER_LEN = 28

if TYPE_CHECKING:
    from ..registry import Field

__all__ = ["MockSession"]


class MockSession:
    """A Session serving ``config``'s scripted state (see :mod:`pychrony._session`).

    ``config`` may be a :class:`Timeline` (or ``cursor`` a position in one, shared
    by several sessions): each request counts, and the phase in
    force answers, faults included — a hung or garbling chronyd raises
    ChronyTimeoutError once ``timeout * attempts`` seconds passed on ``clock``
    (a :class:`FakeClock` passes them at once), a late one answers after its
    delay, a lost reply costs one ``timeout``. ``state`` replaces the records
    derived from the first phase (e.g. corrupted ones); ``address`` is where it
    pretends to be connected (chronyd's standard socket).
    """

    def __init__(
        self,
        config: ChronyStateConfig | Timeline,
        state: ScriptedState | None = None,
        address: str = DEFAULT_SOCKETS[0],
        *,
        timeout: float = _TIMEOUT,
        attempts: int = _ATTEMPTS,
        clock: Clock = REAL_CLOCK,
        cursor: TimelineCursor | None = None,
    ) -> None:
        self.timeline = cursor.timeline if cursor is not None else Timeline.of(config)
        self.config = self.timeline.configs[0]
        self.address = address
        self.timeout = timeout
        self.attempts = attempts
        self._now, self._sleep = clock
        # Sessions of one patched block share a cursor: the timeline runs across
        # connections, as a chronyd's does across its clients.
        self._cursor = cursor or self.timeline.cursor(start=self._now())
        self.requests: list[tuple[str, int]] = []  # (report, record index) asked for
        self.closed = False
        self._replies = 0
        self._override = state
        self._fail("open", None)
        self._fail("init", None)
        self._phase_index = 0
        self._state: ScriptedState = state or self._cursor.phase(self._now()).state
        self._record: RawRecord | None = None
        self._fields: tuple[Field, ...] = ()
        self._source = -1  # index of the current sources record, for source_name()

    def _exchange(self, report: Report) -> None:
        """One request to the scripted chronyd: move along the timeline, act out faults."""
        waited = 0.0
        bound = self.timeout * self.attempts
        for _ in range(self.attempts):
            phase = self._cursor.request(self._now())
            self._enter(phase)
            if (
                phase.fault(FaultKind.PERMISSION)
                and not int(
                    phase.fault(FaultKind.PERMISSION).value  # type: ignore[union-attr]
                )
                & 0o002
            ):
                raise open_error(self.address, -errno.EACCES)
            silent = phase.fault(FaultKind.HUNG) or phase.fault(FaultKind.GARBAGE)
            truncated = phase.fault(FaultKind.TRUNCATED)
            if truncated is not None and truncated.value < _REPLY_HEADER_LEN:
                silent = truncated
            late = phase.fault(FaultKind.LATE)
            if late is not None and late.value >= bound - waited:
                silent = late
            drop = phase.fault(FaultKind.DROP_EVERY)
            if drop is not None and not silent:
                self._replies += 1
                if self._replies % int(drop.value) == 0:
                    silent = drop
            if not silent:
                if late is not None:
                    self._sleep(late.value)
                if truncated is not None:
                    raise ChronyDataError(
                        f"{report.name}: reply truncated to {int(truncated.value)} bytes "
                        "(truncated or corrupted)",
                        LibchronyError.INVALID_RESPONSE,
                    )
                return
            self._sleep(self.timeout)
            waited += self.timeout
        raise timeout_error(self.address, report.name, self.timeout, self.attempts)

    def _enter(self, phase: Phase) -> None:
        if phase.index != self._phase_index:
            self._phase_index = phase.index
            self.config = phase.config
            self._state = phase.state
            self._record = None

    def _fail(self, operation: str, report: str | None) -> None:
        errors = self.config.error_injection
        code = errors.get(f"{operation}:{report}") if report else None
        if code is None:
            code = errors.get(operation)
        if code is None:
            return
        if operation == "open":
            raise open_error(self.address, code)
        if operation == "init":
            raise ChronyConnectionError(f"Failed to initialize chrony session ({code})", code)
        if code == -errno.ETIMEDOUT:
            raise timeout_error(self.address, report or "?", self.timeout, self.attempts)
        if LibchronyError.NO_MEMORY <= code <= LibchronyError.INVALID_RESPONSE:
            raise libchrony_error(code, report or "?", f"{operation}ing")
        raise ChronyDataError(f"Failed {operation} of {report} (injected)", code)

    def _check_open(self) -> None:
        if self.closed:
            raise ChronyConnectionError("mock session is closed")

    # -- Session --------------------------------------------------------------

    def record_count(self, report: Report) -> int:
        """Records of ``report`` in the scenario."""
        self._check_open()
        if not report.multi:
            return 1
        self._exchange(report)
        self._fail("request", report.name)
        self._fail("response", report.name)
        return len(self._state.records[report.name])

    def request_record(self, report: Report, index: int) -> bool:
        """Make record ``index`` current."""
        self._check_open()
        self.requests.append((report.name, index))
        self._exchange(report)
        self._fail("request", report.name)
        self._fail("response", report.name)
        if report.name in self._state.disabled:
            raise libchrony_error(LibchronyError.DISABLED, report.name, "requesting")
        records = self._state.records[report.name]
        if not 0 <= index < len(records):
            raise ChronyDataError(f"{report.name}: no record {index}")
        record = records[index]
        self._record = record
        self._source = index if report is SOURCES else -1
        if record is None:
            self._fields = ()
            return False
        self._fields = tuple(
            resolved_field(record.response, record.values, i)
            for i in range(len(record.response.fields))
        )
        return True

    def response_code(self) -> int:
        """Reply code of the current record's layout."""
        return self._record.response.code if self._record else 0

    def field_index(self, name: str) -> int:
        """Index of ``name`` in the current record, or -1."""
        for i, field in enumerate(self._fields):
            if field.name == name:
                return i
        return -1

    def _value(self, index: int, kind: FieldType) -> RawValue:
        if self._record is None or not 0 <= index < len(self._fields):
            return None
        if self._fields[index].field_type is not kind:
            return None
        return self._record.values[index]

    def get_uinteger(self, index: int) -> int:
        """Unsigned field (0 when not one)."""
        value = self._value(index, FieldType.UINTEGER)
        return value if isinstance(value, int) else 0

    def get_integer(self, index: int) -> int:
        """Signed field (0 when not one)."""
        value = self._value(index, FieldType.INTEGER)
        return value if isinstance(value, int) else 0

    def get_float(self, index: int) -> float:
        """Float field (NaN when not one)."""
        value = self._value(index, FieldType.FLOAT)
        return float(value) if isinstance(value, (int, float)) else float("nan")

    def get_timespec(self, index: int) -> tuple[int, int]:
        """Timespec field ((0, 0) when not one)."""
        value = self._value(index, FieldType.TIMESPEC)
        return value if isinstance(value, tuple) else (0, 0)

    def get_string(self, index: int) -> str | None:
        """Address field (None when unspecified or not one)."""
        value = self._value(index, FieldType.STRING)
        return value if isinstance(value, str) else None

    def request_address(self) -> str:
        """Address the current record was requested by."""
        return self._record.request_address if self._record else ""

    def source_name(self) -> str | None:
        """The current sources record's configured name (``SourceConfig.name``);
        None when the scenario gives none, and for refclocks."""
        sources = self.config.sources
        if not 0 <= self._source < len(sources):
            return None
        source = sources[self._source]
        return None if source.mode is SourceMode.REFCLOCK else source.name

    def close(self) -> None:
        """Mark closed."""
        self.closed = True
