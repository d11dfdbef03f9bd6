"""chronyc's report printer: templates of fields in, text or CSV lines out.

A template is literal text with fields in braces, ``{name:spec}``. ``name`` is a
registry field name of the report (``current correction``) or a value the
layout computes (``"@reference name"``); ``spec`` is chronyc's conversion, as its
``print_report()`` understands it: ``[+|-|*][width][.precision]kind``.

In text mode the literal text and every field, formatted with its width and
unit, are printed. In CSV mode (``chronyc -c``) only the fields are, separated by
commas, with chronyc's plain forms: offsets with 9 decimals and no unit, ppm with
3, intervals as plain integers, times as ``seconds.nanoseconds``, leap status in
words. The kinds follow chronyc (client.c):

====  ================================================================
kind  value
====  ================================================================
S     seconds with a unit chosen per value (``+`` shows the sign)
O     seconds as ``N seconds slow|fast``; F: ppm as ``N ppm slow|fast``
P     ppm, 10 wide
I     interval in seconds, 4 wide: ``35``, ``66m``, ``5h``, ``3d``; ``-``: never
C     client log interval (log2 seconds), 2 wide; `` -``: none (127)
T     UTC date and time
R     reference ID as 8 hex digits
L     leap status (width 1: one character)
M     NTP mode; N: timestamping source; B: ``Yes``/``No``
b     the ``precision`` lowest bits, in binary
U Q   unsigned decimal; d u o c s f: as printf
====  ================================================================
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..display import chronyc_seconds
from ..models import LeapStatus, NTPMode, Timestamping

__all__ = [
    "LEAP_CHAR",
    "LEAP_TEXT",
    "NEVER",
    "NTP_MODE_TEXT",
    "TIMESTAMPING_TEXT",
    "Spec",
    "Template",
    "parse_template",
]

#: chronyc's "never" of an unsigned 32-bit interval (a source never sampled).
NEVER = 0xFFFFFFFF

_FIELD = re.compile(r"\{([^{}:]+):([^{}]+)\}")
_SPEC = re.compile(r"([-+*]?)(\d*)(?:\.(\d+))?([A-Za-z])(?:>>(\d+))?$")

#: chronyc's words for the leap status (``L``), and its characters (``1L``).
LEAP_TEXT = {
    LeapStatus.NORMAL: "Normal",
    LeapStatus.INSERT: "Insert second",
    LeapStatus.DELETE: "Delete second",
    LeapStatus.UNSYNC: "Not synchronised",
}
LEAP_CHAR = {
    LeapStatus.NORMAL: "N",
    LeapStatus.INSERT: "+",
    LeapStatus.DELETE: "-",
    LeapStatus.UNSYNC: "?",
}
#: chronyc's words for an NTP mode (``M``) and a timestamping source (``N``).
NTP_MODE_TEXT = {
    NTPMode.ACTIVE_SYMMETRIC: "Symmetric active",
    NTPMode.PASSIVE_SYMMETRIC: "Symmetric passive",
    NTPMode.SERVER: "Server",
}
TIMESTAMPING_TEXT = {
    Timestamping.DAEMON: "Daemon",
    Timestamping.KERNEL: "Kernel",
    Timestamping.HARDWARE: "Hardware",
}
# CSV mode turns the human kinds into plain ones (and drops sign and width).
_CSV_KIND = {
    "F": ("f", 3),
    "P": ("f", 3),
    "O": ("f", 9),
    "S": ("f", 9),
    "I": ("U", None),
    "C": ("d", None),
}
#: The client log's "no interval" (chronyc prints " -" for it and anything above).
NO_INTERVAL = 127


@dataclass(frozen=True, slots=True)
class Spec:
    """One field of a template: its value's name and chronyc's conversion."""

    name: str
    kind: str
    flag: str = ""  # "+" sign, "-" left-justify, "*" width given by the layout
    width: int = 0
    precision: int | None = None
    shift: int = 0  # for "b": bits of value >> shift

    def text(self, value: Any, width: int = 0) -> str:
        """The field as chronyc prints it in text mode (``width`` fills ``*``)."""
        return _text(self, value, width or self.width)

    def csv(self, value: Any) -> str:
        """The field as chronyc prints it with ``-c``."""
        kind, precision = _CSV_KIND.get(self.kind, (self.kind, self.precision))
        plain = Spec(self.name, kind, "", 0, precision, self.shift)
        if kind == "T":
            return _epoch(value)
        if kind == "L":
            return LEAP_TEXT.get(value, "Invalid")
        return _text(plain, value, 0)


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal pieces between its fields."""

    pieces: tuple[str, ...]  # len(fields) + 1 literal pieces
    fields: tuple[Spec, ...]

    def names(self) -> Iterator[str]:
        """The names of the values the template prints, in order."""
        return (f.name for f in self.fields)

    def text(self, values: Mapping[str, Any], width: int = 0) -> str:
        """Text mode: literals and formatted fields."""
        out = [self.pieces[0]]
        for spec, piece in zip(self.fields, self.pieces[1:], strict=True):
            out.append(spec.text(values[spec.name], width if spec.flag == "*" else 0))
            out.append(piece)
        return "".join(out)

    def csv(self, values: Mapping[str, Any]) -> list[str]:
        """CSV mode: the fields only."""
        return [spec.csv(values[spec.name]) for spec in self.fields]


def parse_template(template: str) -> Template:
    """Parse ``"Stratum : {stratum:u}"``; ValueError names a bad spec."""
    pieces: list[str] = []
    fields: list[Spec] = []
    start = 0
    for match in _FIELD.finditer(template):
        pieces.append(template[start : match.start()])
        fields.append(_parse_spec(match.group(1), match.group(2)))
        start = match.end()
    pieces.append(template[start:])
    return Template(tuple(pieces), tuple(fields))


def _parse_spec(name: str, spec: str) -> Spec:
    match = _SPEC.match(spec)
    if match is None or match.group(4) not in _FORMATTERS:
        raise ValueError(f"bad chronyc field spec {spec!r} for {name!r}")
    flag, width, precision, kind, shift = match.groups()
    return Spec(
        name,
        kind,
        flag,
        int(width or 0),
        None if precision is None else int(precision),
        int(shift or 0),
    )


def _text(spec: Spec, value: Any, width: int) -> str:
    text = _FORMATTERS[spec.kind](spec, value)
    if spec.kind in "sdUQuo" and width:
        return text.ljust(width) if spec.flag == "-" or spec.flag == "*" else text.rjust(width)
    return text


def _interval(value: int) -> str:
    if value == NEVER:
        return "   -"
    if value < 1200:
        return f"{value:4d}"
    if value < 36000:
        return f"{value // 60:3d}m"
    if value < 345600:
        return f"{value // 3600:3d}h"
    days = value // 86400
    return f"{days // 365:3d}y" if days > 999 else f"{days:3d}d"


def _ppm(value: float, signed: bool) -> str:
    decimals = 3 if abs(value) < 99999.5 else 0
    return f"{value:{'+' if signed else ''}10.{decimals}f}"


def _slow_fast(spec: Spec, value: float) -> str:
    offset = spec.kind == "O"
    unit = "seconds" if offset else "ppm"
    slow = (value > 0.0) != (not offset)
    number = f"{abs(value):{spec.width}.{5 if spec.precision is None else spec.precision}f}"
    return f"{number} {unit} {'slow' if slow else 'fast'}"


def _float(spec: Spec, value: float) -> str:
    precision = 5 if spec.precision is None else spec.precision
    if not math.isfinite(value):
        return str(value)
    return f"{value:{'+' if spec.flag == '+' else ''}{spec.width or ''}.{precision}f}"


def _date(value: float) -> str:
    return time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(math.floor(value)))


def _epoch(value: float) -> str:
    seconds = math.floor(value)
    nanoseconds = round((value - seconds) * 1e9)
    if nanoseconds >= 1_000_000_000:
        seconds, nanoseconds = seconds + 1, nanoseconds - 1_000_000_000
    return f"{seconds}.{nanoseconds:09d}"


def _bits(spec: Spec, value: int) -> str:
    bits = 5 if spec.precision is None else spec.precision
    shifted = int(value) >> spec.shift
    return "".join("1" if shifted & (1 << i) else "0" for i in range(bits - 1, -1, -1))


_FORMATTERS: dict[str, Callable[[Spec, Any], str]] = {
    "B": lambda s, v: "Yes" if v else "No",
    "C": lambda s, v: " -" if int(v) >= NO_INTERVAL else f"{int(v):2d}",
    "F": _slow_fast,
    "O": _slow_fast,
    "I": lambda s, v: _interval(int(v)),
    "L": lambda s, v: LEAP_CHAR.get(v, "?") if s.width == 1 else LEAP_TEXT.get(v, "Invalid"),
    "M": lambda s, v: NTP_MODE_TEXT.get(v, "Invalid"),
    "N": lambda s, v: TIMESTAMPING_TEXT.get(v, "Invalid"),
    "P": lambda s, v: _ppm(v, s.flag == "+"),
    "R": lambda s, v: f"{int(v) & 0xFFFFFFFF:08X}",
    "S": lambda s, v: chronyc_seconds(v, s.flag == "+"),
    "T": lambda s, v: _date(v),
    "U": lambda s, v: str(int(v)),
    "Q": lambda s, v: str(int(v)),
    "b": _bits,
    "c": lambda s, v: str(v),
    "d": lambda s, v: str(int(v)),
    "f": _float,
    "o": lambda s, v: f"{int(v):o}",
    "s": lambda s, v: str(v),
    "u": lambda s, v: str(int(v)),
}
