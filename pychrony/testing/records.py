"""Raw records: dataclasses encoded field by field as chronyd would send them.

The inverse of the readers, walking the same registry: the mock session and the
C test double serve these values, and the readers must turn them back into the
dataclasses they came from.
"""

import ipaddress
import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .._convert import name_to_refid
from ..models import SourceMode
from ..registry import Conv, Field, FieldType, Report, Response, Wire

__all__ = ["RawRecord", "encode_record", "resolved_field", "timespec"]

#: A raw value: int, float, (seconds, nanoseconds), address string or None.
RawValue = int | float | tuple[int, int] | str | None


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record of a report: the reply layout, its raw values, and the address
    it was requested by (address-addressed reports)."""

    response: Response
    values: tuple[RawValue, ...]
    request_address: str = ""


def timespec(value: float) -> tuple[int, int]:
    """(seconds, nanoseconds) whose ``sec + nsec * 1e-9`` gives ``value`` back."""
    sec = math.floor(value)
    base = round((value - sec) * 1e9)
    for nsec in (base, base - 1, base + 1, base - 2, base + 2):
        if 0 <= nsec < 1_000_000_000 and sec + nsec * 1e-9 == value:
            return sec, nsec
    return sec, min(max(base, 0), 999_999_999)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def resolved_field(response: Response, values: tuple[RawValue, ...], index: int) -> Field:
    """The field at ``index`` as libchrony resolves it for this record.

    A sources address slot holds a reference ID for refclocks: it is then named
    by ``alt_name`` and read as an unsigned integer.
    """
    field = response.fields[index]
    if field.wire is Wire.ADDRESS_OR_REFID:
        mode = values[_mode_index(response)]
        if mode == SourceMode.REFCLOCK.value:
            return Field(field.alt_name or field.name, Wire.UINT32, field.content)
    return field


def _mode_index(response: Response) -> int:
    return next(i for i, f in enumerate(response.fields) if f.attr == "mode")


def encode_record(
    report: Report, model: Any, response: Response | None = None, request_address: str = ""
) -> RawRecord:
    """Encode dataclass ``model`` as a record of ``report`` in layout ``response``."""
    response = response or report.latest
    values = [_encode(report, response, field, model) for field in response.fields]
    return RawRecord(response, tuple(values), request_address)


def _encode(report: Report, response: Response, field: Field, model: Any) -> RawValue:
    if field.attr is None:
        return 0
    value = getattr(model, field.attr)
    if field.wire is Wire.ADDRESS_OR_REFID:
        if getattr(model, "mode", None) is SourceMode.REFCLOCK:
            return name_to_refid(value)
        return value or None
    conv = field.conversion
    if value is None:  # an optional counter the layout carries anyway
        return 0
    if conv is Conv.TIME:
        return timespec(value)
    if conv in (Conv.ADDRESS, Conv.ADDRESS_OR_NAME):
        # Unspecified addresses (refclocks) are named by their reference ID.
        return value if value and (conv is Conv.ADDRESS or _is_ip(value)) else None
    if isinstance(value, Enum):
        return int(value.value)
    if field.field_type is FieldType.FLOAT:
        return float(value)
    return int(value)
