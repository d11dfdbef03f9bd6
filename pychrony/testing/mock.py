"""The scripted mock session: serves a scenario through the Session interface.

It behaves like a libchrony session over a chronyd in the configured state:
fields are looked up by libchrony's names from the registry's layouts, typed
getters return libchrony's defaults for a field of another type, and injected
errors surface where libchrony would report them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._address import DEFAULT_SOCKETS
from .._errors import LibchronyError, libchrony_error, open_error
from ..exceptions import ChronyConnectionError, ChronyDataError
from ..registry import FieldType, Report
from .config import ChronyStateConfig
from .records import RawRecord, RawValue, resolved_field
from .state import ScriptedState, scripted_state

if TYPE_CHECKING:
    from ..registry import Field

__all__ = ["MockSession"]


class MockSession:
    """A Session serving ``config``'s scripted state (see :mod:`pychrony._session`).

    ``state`` replaces the records derived from ``config`` (e.g. corrupted ones);
    ``address`` is where it pretends to be connected (chronyd's standard socket).
    """

    def __init__(
        self,
        config: ChronyStateConfig,
        state: ScriptedState | None = None,
        address: str = DEFAULT_SOCKETS[0],
    ) -> None:
        self.config = config
        self.address = address
        self.requests: list[tuple[str, int]] = []  # (report, record index) asked for
        self.closed = False
        self._fail("open", None)
        self._fail("init", None)
        self._state: ScriptedState = state or scripted_state(config)
        self._record: RawRecord | None = None
        self._fields: tuple[Field, ...] = ()

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
        self._fail("request", report.name)
        self._fail("response", report.name)
        return len(self._state.records[report.name])

    def request_record(self, report: Report, index: int) -> bool:
        """Make record ``index`` current."""
        self._check_open()
        self.requests.append((report.name, index))
        self._fail("request", report.name)
        self._fail("response", report.name)
        if report.name in self._state.disabled:
            raise libchrony_error(LibchronyError.DISABLED, report.name, "requesting")
        records = self._state.records[report.name]
        if not 0 <= index < len(records):
            raise ChronyDataError(f"{report.name}: no record {index}")
        record = records[index]
        self._record = record
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

    def close(self) -> None:
        """Mark closed."""
        self.closed = True
