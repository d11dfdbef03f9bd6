"""A strict reader of monitoring-plugin output, as the Development Guidelines define it.

``SERVICE STATE - text | 'label'=value[UOM];[warn];[crit];[min];[max] ...``: labels
quoted with single quotes when they hold spaces, ``=`` or quotes (a quote doubled);
values in plain decimal notation; UOM one of s, ms, us, %, B, KB, MB, TB, c (or none);
warn/crit in the range syntax ``[@][start:][end]`` (``~`` for minus infinity);
min/max plain numbers. Anything else is a ValueError: the test is that monitoring
systems can read what ``pychrony check`` prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Check", "PerfItem", "parse_check"]

_NUMBER = r"-?(?:\d+(?:\.\d*)?|\.\d+)"
_UOMS = ("s", "ms", "us", "%", "B", "KB", "MB", "TB", "c", "")
_VALUE = re.compile(rf"({_NUMBER})([a-zA-Z%]*)")
_RANGE = re.compile(rf"@?(?:(?:~|{_NUMBER})?:)?(?:{_NUMBER})?")
_STATUS = re.compile(r"(\S+) (OK|WARNING|CRITICAL|UNKNOWN) - (.*)")


@dataclass(frozen=True)
class PerfItem:
    """One parsed perfdata item (warn/crit as the range texts)."""

    label: str
    value: float
    uom: str
    warn: str
    crit: str
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Check:
    """A parsed plugin output line."""

    service: str
    state: str
    text: str
    perf: dict[str, PerfItem]


def parse_check(output: str) -> Check:
    """Parse one line of plugin output (a trailing newline allowed)."""
    lines = output.split("\n")
    if len(lines) > 2 or (len(lines) == 2 and lines[1]):
        raise ValueError(f"expected one line, got {output!r}")
    status, bar, perf = lines[0].partition("|")
    match = _STATUS.fullmatch(status.rstrip() if bar else status)
    if match is None:
        raise ValueError(f"not a plugin status line: {status!r}")
    items = _items(perf.strip()) if bar else []
    by_label = {i.label: i for i in items}
    if len(by_label) != len(items):
        raise ValueError(f"duplicate perfdata labels in {perf!r}")
    return Check(match.group(1), match.group(2), match.group(3), by_label)


def _items(text: str) -> list[PerfItem]:
    items, rest = [], text
    while rest:
        label, rest = _label(rest)
        data, _, rest = rest.partition(" ")
        rest = rest.lstrip(" ")
        items.append(_item(label, data))
    return items


def _label(text: str) -> tuple[str, str]:
    if text.startswith("'"):
        i, label = 1, []
        while i < len(text):
            if text[i] == "'":
                if text[i + 1 : i + 2] == "'":
                    label.append("'")
                    i += 2
                    continue
                if text[i + 1 : i + 2] != "=":
                    raise ValueError(f"quoted label not followed by '=': {text!r}")
                return "".join(label), text[i + 2 :]
            label.append(text[i])
            i += 1
        raise ValueError(f"unterminated quoted label: {text!r}")
    label, eq, rest = text.partition("=")
    if not eq or not label or any(c in label for c in " '"):
        raise ValueError(f"bad perfdata label in {text!r}")
    return label, rest


def _item(label: str, data: str) -> PerfItem:
    fields = data.split(";")
    if len(fields) > 5:
        raise ValueError(f"{label}: more than 5 fields: {data!r}")
    fields += [""] * (5 - len(fields))
    value = _VALUE.fullmatch(fields[0])
    if value is None or value.group(2) not in _UOMS:
        raise ValueError(f"{label}: bad value or unit of measure: {fields[0]!r}")
    for threshold in fields[1:3]:
        if not _RANGE.fullmatch(threshold):
            raise ValueError(f"{label}: bad threshold range {threshold!r}")
    for bound in fields[3:5]:
        if bound and not re.fullmatch(_NUMBER, bound):
            raise ValueError(f"{label}: bad min/max {bound!r}")
    return PerfItem(
        label,
        float(value.group(1)),
        value.group(2),
        fields[1],
        fields[2],
        float(fields[3]) if fields[3] else None,
        float(fields[4]) if fields[4] else None,
    )
