"""chronyc's monitoring commands: which report each reads, what it takes, how it prints.

The layouts (:mod:`.layouts`) say what a line looks like; this module applies
chronyc's rules around them: ``-a`` (also unresolved sources), ``-v`` (legends),
``-w`` (wide name column), ``-c`` (CSV), the name column (:mod:`.names`), a blank
line before each ntpdata record, ``ntpdata ADDRESS`` and ``sourcename ADDRESS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..exceptions import ChronyDataError, ChronyDisabledError
from .layouts import BLOCKS, TABLES, WIDE, refid_text, values
from .names import Namer

__all__ = ["COMMANDS", "Command", "NoSuchSource", "View", "render", "select"]


@dataclass(frozen=True, slots=True)
class Command:
    """A chronyc monitoring command: the report it reads and the arguments it takes."""

    name: str
    report: str
    source_options: bool = False  # takes -a and -v
    address: str = ""  # "optional" / "required": takes an ADDRESS


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("tracking", "tracking"),
        Command("sources", "sources", source_options=True),
        Command("sourcestats", "sourcestats", source_options=True),
        Command("selectdata", "selectdata", source_options=True),
        Command("ntpdata", "ntpdata", address="optional"),
        Command("serverstats", "serverstats"),
        Command("activity", "activity"),
        Command("authdata", "authdata", source_options=True),
        Command("rtcdata", "rtcdata"),
        Command("smoothing", "smoothing"),
        Command("clients", "clients"),
        Command("sourcename", "sources", address="required"),
    )
}


class NoSuchSource(ChronyDataError):
    """``ntpdata``/``sourcename`` of an address that is not a source (chronyc: 503)."""


@dataclass(frozen=True, slots=True)
class View:
    """How one command prints: chronyc's options and the command's own."""

    csv: bool = False
    wide: bool = False
    all: bool = False  # -a
    verbose: bool = False  # -v
    address: str | None = None  # ntpdata/sourcename ADDRESS


def select(command: Command, data: Any, view: View) -> Any:
    """The records the command prints: ``-a``, ``ADDRESS`` and a missing RTC applied."""
    if data is None:
        raise ChronyDisabledError("513 RTC driver not running: chronyd does not track the RTC")
    if command.name == "sourcename":
        match = [s for s in data if s.address == view.address]
        if not match or match[0].name is None:
            raise NoSuchSource(f"503 No such source: {view.address}")
        return match[0].name
    if command.name == "ntpdata" and view.address is not None:
        data = [r for r in data if r.remote_address == view.address]
        if not data:
            raise NoSuchSource(f"503 No such source: {view.address}")
    if command.report in TABLES and not view.all and TABLES[command.report].filter_ids:
        data = [r for r in data if not r.address.startswith("ID#")]
    return data


def render(command: Command, data: Any, view: View, namer: Namer) -> str:
    """What chronyc prints for ``data`` (the output of :func:`select`)."""
    if command.name == "sourcename":
        return f"{data}\n"
    wide = WIDE if view.wide else 0
    if command.report in TABLES:
        return _table(command.report, data, view, namer, wide)
    block = BLOCKS[command.report]
    records: Sequence[Any] = data if isinstance(data, list) else [data]
    out = [] if view.csv else [block.preamble]
    for record in records:
        extra = {}
        if command.report == "tracking":
            extra["@reference name"] = _reference_name(record, namer)
        row = values(command.report, record, extra)
        if view.csv:
            out.append(",".join(block.csv(row)) + "\n")
        else:
            if block.separated and view.address is None:
                out.append("\n")
            out.append(block.text(row))
    return "".join(out)


def _table(report: str, records: list[Any], view: View, namer: Namer, wide: int) -> str:
    table = TABLES[report]
    width = table.name_width + wide
    namer.prepare(r.address for r in records)
    out = [] if view.csv else [line + "\n" for line in table.head(view.verbose, wide)]
    for record in records:
        row = values(report, record, {"@name": namer.name(record.address, 25 + wide)})
        if view.csv:
            out.append(",".join(table.row.csv(row)) + "\n")
        else:
            out.append(table.row.text(row, width))
    return "".join(out)


def _reference_name(tracking: Any, namer: Namer) -> str:
    if not tracking.reference_ip:
        return refid_text(tracking.reference_id)
    namer.prepare([tracking.reference_ip])
    return namer.name(tracking.reference_ip)
