"""Readable values for people and stable JSON for scripts (CLI, dashboard).

Units come from the field registry's content types, so every report is shown
the same way: offsets as chronyc prints them (ns/us/ms/s chosen per value), rates
in ppm, intervals as durations, reachability as octal and as the last eight polls.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timezone
from enum import Enum, IntFlag
from typing import Any

from .models import NEVER_SAMPLED
from .registry import REPORTS, Content, Field, Report

__all__ = [
    "NEVER_ATTRS",
    "chronyc_seconds",
    "field_of",
    "format_duration",
    "format_offset",
    "format_ppm",
    "format_reachability",
    "format_time",
    "format_value",
    "to_json",
]

_SECONDS = (Content.OFFSET_SECONDS, Content.MEASURE_SECONDS)
_PPM = (Content.OFFSET_PPM, Content.MEASURE_PPM)
#: Attributes whose NEVER_SAMPLED value means "never" (JSON: null, text: "-").
NEVER_ATTRS = ("last_sample_ago",)


def _fields_by_attr() -> dict[tuple[type, str], Field]:
    table: dict[tuple[type, str], Field] = {}
    for report in REPORTS:
        for response in report.responses:
            for field in response.fields:
                if field.attr:
                    table.setdefault((report.model, field.attr), field)
    return table


_FIELDS = _fields_by_attr()


def field_of(model: type, attr: str) -> Field | None:
    """The registry field that fills ``model.attr`` (None for derived attributes)."""
    return _FIELDS.get((model, attr))


# chronyc's print_nanoseconds() and print_signed_nanoseconds() (client.c): by
# magnitude, (below this, unit, "width.precision" without the sign's column, then
# value * multiplier / divisor: client.c multiplies for ns/us/ms and divides for
# m/h/d/y, and the last bit of that product decides a rounding tie).
_SCALES = (
    (9999.5e-9, "ns", "4.0f", 1e9, 1.0),
    (9999.5e-6, "us", "4.0f", 1e6, 1.0),
    (9999.5e-3, "ms", "4.0f", 1e3, 1.0),
    (999.5, "s", "5.1f", 1.0, 1.0),
    (99999.5, "s", "5.0f", 1.0, 1.0),
    (99999.5 * 60, "m", "5.0f", 1.0, 60.0),
    (99999.5 * 3600, "h", "5.0f", 1.0, 3600.0),
    (99999.5 * 3600 * 24, "d", "5.0f", 1.0, 3600.0 * 24),
)
_YEARS = ("y", "5.0f", 1.0, 3600.0 * 24 * 365)


def chronyc_seconds(value: float, signed: bool) -> str:
    """Seconds as chronyc prints them, padded: ``" +123us"``, ``"  12ms"``, ``"  -0ns"``.

    The unit keeps at most four digits; rounding is C's (half to even on the binary
    value, as ``printf``). Signed, the sign is the value's, so a negative offset that
    rounds to zero is ``-0ns``, as in chronyc; unsigned, the magnitude is printed.
    """
    magnitude = abs(value)
    unit, spec, multiplier, divisor = next(
        ((u, f, m, d) for limit, u, f, m, d in _SCALES if magnitude < limit), _YEARS
    )
    number = (value if signed else magnitude) * multiplier / divisor
    width, decimals = spec.split(".")
    return f"{number:{'+' if signed else ''}{int(width) + signed}.{decimals}}{unit}"


def format_offset(seconds: float, signed: bool = True) -> str:
    """``+124us``: chronyc's text for these seconds, without its padding."""
    if not math.isfinite(seconds):
        return str(seconds)
    return chronyc_seconds(seconds, signed).lstrip()


def format_ppm(value: float, signed: bool = True) -> str:
    """``+1.234 ppm``."""
    return f"{value:+.3f} ppm" if signed else f"{value:.3f} ppm"


def format_duration(seconds: float) -> str:
    """``45s``, ``17m``, ``5h``, ``3d`` like chronyc's LastRx; ``-`` for never."""
    if seconds == NEVER_SAMPLED or not math.isfinite(seconds):
        return "-"
    seconds = abs(seconds)
    for unit, scale in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 10 * scale:
            return f"{seconds / scale:.0f}{unit}"
    if 0 < seconds < 1:
        return format_offset(seconds, signed=False)
    return f"{seconds:.0f}s"


def format_reachability(reach: int, style: str = "octal") -> str:
    """``377`` (octal, as chronyc) or ``11111111`` (oldest poll first)."""
    return f"{reach:o}" if style == "octal" else f"{reach & 0xFF:08b}"


def format_time(epoch: float) -> str:
    """ISO 8601 UTC, or ``-`` for zero (chronyd's "never")."""
    if epoch == 0:
        return "-"
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat().replace("+00:00", "Z")


def format_value(model: type, attr: str, value: Any) -> str:
    """A dataclass attribute for people, in its unit."""
    if value is None:
        return "-"
    if attr in NEVER_ATTRS and value == NEVER_SAMPLED:
        return "-"
    if isinstance(value, IntFlag):
        return ",".join(m.name or "?" for m in type(value) if m in value) or "-"
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, bool):
        return "yes" if value else "no"
    field = field_of(model, attr)
    content = field.content if field else Content.NONE
    if content in _SECONDS:
        return format_offset(value, signed=content is Content.OFFSET_SECONDS)
    if content in _PPM:
        return format_ppm(value, signed=content is Content.OFFSET_PPM)
    if content is Content.OFFSET_PPM_PER_SECOND:
        return f"{value:+.3f} ppm/s"
    if content is Content.INTERVAL_SECONDS:
        return format_duration(value)
    if content is Content.TIME:
        return format_time(value)
    if content is Content.BITS:
        return format_reachability(value)
    if content is Content.REFERENCE_ID:
        return f"{value:08X}"
    if content is Content.INTERVAL_LOG2_SECONDS:
        return f"{value} ({format_duration(2.0**value)})"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def to_json(value: Any) -> Any:
    """JSON-ready form: enums as names, flags as lists of names, times as epoch
    floats plus ``<attr>_iso`` strings, never-sampled ages as null."""
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return value
    out: dict[str, Any] = {}
    model = type(value)
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        if isinstance(item, IntFlag):
            item = [m.name for m in type(item) if m in item]
        elif isinstance(item, Enum):
            item = item.name
        elif f.name in NEVER_ATTRS and item == NEVER_SAMPLED:
            item = None
        out[f.name] = item
        field = field_of(model, f.name)
        if field is not None and field.content is Content.TIME:
            out[f"{f.name}_iso"] = format_time(item) if item else None
    return out


def report_of(model: type) -> Report:
    """The registry report whose records are ``model`` instances."""
    return next(r for r in REPORTS if r.model is model)
