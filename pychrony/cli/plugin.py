"""The monitoring-plugins interface: states, threshold ranges, perfdata, the status line.

Follows the Monitoring Plugins Development Guidelines (Nagios, Icinga, Sensu,
Zabbix's external checks): exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; one line
``SERVICE STATE - text | perfdata``; perfdata items ``'label'=value[UOM];warn;crit;min;max``
with values in plain decimal notation; thresholds in the range syntax
``[@][start:][end]`` (``10`` alerts outside 0..10, ``10:`` below 10, ``~:10`` above
10, ``10:20`` outside 10..20, ``@10:20`` inside it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum

__all__ = ["Perf", "Range", "State", "number", "status_line"]


class State(IntEnum):
    """A plugin's result; the value is its exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


@dataclass(frozen=True, slots=True)
class Range:
    """A threshold range; :meth:`alerts` says whether a value raises the alert."""

    text: str
    start: float
    end: float
    inside: bool = False  # "@": alert inside the range instead of outside

    @classmethod
    def parse(cls, text: str) -> Range:
        """Parse the range syntax; ValueError says what is wrong."""
        body = text.strip()
        inside = body.startswith("@")
        if inside:
            body = body[1:]
        low, colon, high = body.partition(":")
        if not colon:
            low, high = "0", body
        start = -math.inf if low == "~" else _bound(low or "0", text)
        end = math.inf if high == "" else _bound(high, text)
        if not body or start > end:
            raise ValueError(f"invalid threshold range {text!r} (start above end, or empty)")
        return cls(text.strip(), start, end, inside)

    def alerts(self, value: float) -> bool:
        """True when ``value`` raises this threshold's alert."""
        within = self.start <= value <= self.end
        return within if self.inside else not within


def _bound(text: str, whole: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"invalid threshold range {whole!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"invalid threshold range {whole!r}: {text!r} is not finite")
    return value


def number(value: float) -> str:
    """A perfdata value: plain decimal notation, no exponent, no needless zeros."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return format(Decimal(repr(float(value))), "f")  # the shortest repr, in fixed notation


@dataclass(frozen=True, slots=True)
class Perf:
    """One perfdata item."""

    label: str
    value: float
    uom: str = ""
    warn: Range | None = None
    crit: Range | None = None
    low: float | None = None
    high: float | None = None

    def __str__(self) -> str:
        label = self.label
        if any(c in label for c in " '="):
            label = "'" + label.replace("'", "''") + "'"
        fields = [
            f"{label}={number(self.value)}{self.uom}",
            self.warn.text if self.warn else "",
            self.crit.text if self.crit else "",
            "" if self.low is None else number(self.low),
            "" if self.high is None else number(self.high),
        ]
        while fields[-1] == "":
            fields.pop()
        return ";".join(fields)


def status_line(service: str, state: State, text: str, perfdata: list[Perf]) -> str:
    """``SERVICE STATE - text | perf1 perf2``; the text's ``|`` would start perfdata."""
    line = f"{service} {state.name} - {text.replace('|', '/')}"
    if perfdata:
        line += " | " + " ".join(str(p) for p in perfdata)
    return line
