"""chronyc's layouts of the reports, as data over the registry's field names.

Each layout says what chronyc prints for a report: its header and legend, its
label column, and one template per line (a block report such as ``tracking``) or
per record (a table such as ``sources``). Templates name the registry's fields
(for example `current correction`); :func:`values` turns a record into those values
through the registry, so no field is listed here a second time. Names starting
with ``@`` are values chronyc computes from a record (the computations are the
functions at the end). Facts come from chrony's client.c; chronyc 4.3 is the
reference for the layouts it knows, newer client.c for the fields chronyd 4.4+
and 4.6+ added (serverstats' timestamp counters, ntpdata's kernel/HW counters),
which are printed when the chronyd sends them.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..models import AuthMode, SelectOptions, SourceMode, SourceState
from ..registry import REPORTS_BY_NAME, Report
from .printf import Template, parse_template

__all__ = [
    "BLOCKS",
    "LAYOUTS",
    "MODE_CHAR",
    "STATE_CHAR",
    "TABLES",
    "Block",
    "Line",
    "Table",
    "values",
]

#: Extra name-column characters of ``-w`` (wide output).
WIDE = 14


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a block report: ``label : template`` (no label: the template)."""

    label: str | None
    template: Template


@dataclass(frozen=True, slots=True)
class Block:
    """A report chronyc prints as labelled lines, one CSV line per record."""

    report: str
    lines: tuple[Line, ...]
    preamble: str = ""  # text-mode line before the report (activity's "200 OK")
    separated: bool = False  # text mode: a blank line before each record (ntpdata)

    def text(self, values: Mapping[str, Any]) -> str:
        """The record in text mode (lines whose fields the chronyd did not send are left out)."""
        return "".join(line.template.text(values) for line in self.present(values))

    def csv(self, values: Mapping[str, Any]) -> list[str]:
        """The record's CSV fields."""
        return [f for line in self.present(values) for f in line.template.csv(values)]

    def present(self, values: Mapping[str, Any]) -> list[Line]:
        """Lines whose values the chronyd sent (None: a field of a newer layout)."""
        return [ln for ln in self.lines if all(values[n] is not None for n in ln.template.names())]


@dataclass(frozen=True, slots=True)
class Table:
    """A report chronyc prints as a header and one row per record."""

    report: str
    header: str  # "{W}" marks where -w widens it
    row: Template
    name_width: int  # width of the name column ("*" in the row)
    legend: tuple[str, ...] = ()  # -v lines, "{W}" as in the header
    filter_ids: bool = True  # leave out unresolved sources (ID#...) unless -a

    def head(self, verbose: bool, wide: int) -> list[str]:
        """Legend (when verbose), header and its rule of '='."""
        lines = [ln.replace("{W}", " " * wide) for ln in self.legend] if verbose else []
        header = self.header.replace("{W}", " " * wide)
        return [*lines, header, "=" * len(header)]


def _block(report: str, width: int, *lines: str, **kw: Any) -> Block:
    """A block from ``"Label: template"`` lines, labels padded to ``width`` (0: no labels)."""
    built = []
    for line in lines:
        label, text = line.split(": ", 1) if width else (None, line)
        padded = f"{label:<{width}}: {text}" if label else text
        built.append(Line(label, parse_template(padded + "\n")))
    return Block(report, tuple(built), **kw)


# -- block reports ------------------------------------------------------------

TRACKING = _block(
    "tracking",
    16,
    "Reference ID: {reference ID:R} ({@reference name:s})",
    "Stratum: {stratum:u}",
    "Ref time (UTC): {reference time:T}",
    "System time: {current correction:.9O} of NTP time",
    "Last offset: {last offset:+.9f} seconds",
    "RMS offset: {RMS offset:.9f} seconds",
    "Frequency: {frequency offset:.3F}",
    "Residual freq: {residual frequency:+.3f} ppm",
    "Skew: {skew:.3f} ppm",
    "Root delay: {root delay:.9f} seconds",
    "Root dispersion: {root dispersion:.9f} seconds",
    "Update interval: {last update interval:.1f} seconds",
    "Leap status: {leap status:L}",
)

NTPDATA = _block(
    "ntpdata",
    16,
    "Remote address: {remote address:s} ({@remote refid:R})",
    "Remote port: {remote port:u}",
    "Local address: {@local address:s} ({@local refid:R})",
    "Leap status: {leap status:L}",
    "Version: {version:u}",
    "Mode: {mode:M}",
    "Stratum: {stratum:u}",
    "Poll interval: {poll:d} ({@poll seconds:.0f} seconds)",
    "Precision: {precision:d} ({@precision seconds:.9f} seconds)",
    "Root delay: {root delay:.6f} seconds",
    "Root dispersion: {root dispersion:.6f} seconds",
    "Reference ID: {reference ID:R} ({@reference name:s})",
    "Reference time: {reference time:T}",
    "Offset: {offset:+.9f} seconds",
    "Peer delay: {peer delay:.9f} seconds",
    "Peer dispersion: {peer dispersion:.9f} seconds",
    "Response time: {response time:.9f} seconds",
    "Jitter asymmetry: {jitter asymmetry:+.2f}",
    "NTP tests: {flags:.3b>>7} {flags:.3b>>4} {flags:.4b}",
    "Interleaved: {@interleaved:B}",
    "Authenticated: {@authenticated:B}",
    "TX timestamping: {transmit timestamping:N}",
    "RX timestamping: {receive timestamping:N}",
    "Total TX: {transmitted messages:U}",
    "Total RX: {received messages:U}",
    "Total valid RX: {received valid messages:U}",
    "Total good RX: {received good messages:U}",
    "Total kernel TX: {kernel transmit timestamps:U}",
    "Total kernel RX: {kernel receive timestamps:U}",
    "Total HW TX: {hardware transmit timestamps:U}",
    "Total HW RX: {hardware receive timestamps:U}",
    separated=True,
)

SERVERSTATS = _block(
    "serverstats",
    27,
    "NTP packets received: {received NTP requests:Q}",
    "NTP packets dropped: {dropped NTP requests:Q}",
    "Command packets received: {received command requests:Q}",
    "Command packets dropped: {dropped command requests:Q}",
    "Client log records dropped: {dropped client log records:Q}",
    "NTS-KE connections accepted: {accepted NTS-KE connections:Q}",
    "NTS-KE connections dropped: {dropped NTS-KE connections:Q}",
    "Authenticated NTP packets: {received authenticated NTP requests:Q}",
    "Interleaved NTP packets: {received interleaved NTP requests:Q}",
    "NTP timestamps held: {held NTP timestamps:Q}",
    "NTP timestamp span: {NTP timestamp span:Q}",
    "NTP daemon RX timestamps: {served daemon RX timestamps:Q}",
    "NTP daemon TX timestamps: {served daemon TX timestamps:Q}",
    "NTP kernel RX timestamps: {served kernel RX timestamps:Q}",
    "NTP kernel TX timestamps: {served kernel TX timestamps:Q}",
    "NTP hardware RX timestamps: {served hardware RX timestamps:Q}",
    "NTP hardware TX timestamps: {served hardware TX timestamps:Q}",
)

ACTIVITY = _block(
    "activity",
    0,
    "{online sources:U} sources online",
    "{offline sources:U} sources offline",
    "{burst online-return sources:U} sources doing burst (return to online)",
    "{burst offline-return sources:U} sources doing burst (return to offline)",
    "{unresolved sources:U} sources with unknown address",
    preamble="200 OK\n",
)

RTCDATA = _block(
    "rtcdata",
    19,
    "RTC ref time (UTC): {reference time:T}",
    "Number of samples: {samples:u}",
    "Number of runs: {runs:u}",
    "Sample span period: {span:I}",
    "RTC is fast by: {offset:12.6f} seconds",
    "RTC gains time at: {frequency offset:9.3f} ppm",
)

SMOOTHING = _block(
    "smoothing",
    15,
    "Active: {@active:B} {@leap only:s}",
    "Offset: {offset:+.9f} seconds",
    "Frequency: {frequency offset:+.6f} ppm",
    "Wander: {wander:+.6f} ppm per second",
    "Last update: {last update ago:.1f} seconds ago",
    "Remaining time: {remaining time:.1f} seconds",
)

# -- tables -------------------------------------------------------------------

SOURCES = Table(
    "sources",
    header="MS Name/IP address         {W}Stratum Poll Reach LastRx Last sample               ",
    row=parse_template(
        "{@mode char:c}{@state char:c} {@name:*s}  {stratum:2d}  {poll:2d}   "
        "{reachability:3o}  {last sample ago:I}  {adjusted last sample offset:+S}"
        "[{original last sample offset:+S}] +/- {last sample error:S}\n"
    ),
    name_width=27,
    legend=(
        "",
        "  .-- Source mode  '^' = server, '=' = peer, '#' = local clock.",
        " / .- Source state '*' = current best, '+' = combined, '-' = not combined,",
        "| /             'x' = may be in error, '~' = too variable, '?' = unusable.",
        "||  {W}                                               .- xxxx [ yyyy ] +/- zzzz",
        "||  {W}    Reachability register (octal) -.           |  xxxx = adjusted offset,",
        "||  {W}    Log2(Polling interval) --.      |          |  yyyy = measured offset,",
        "||  {W}                              \\     |          |  zzzz = estimated error.",
        "||  {W}                               |    |           \\",
    ),
)

SOURCESTATS = Table(
    "sourcestats",
    header="Name/IP Address            {W}NP  NR  Span  Frequency  Freq Skew  Offset  Std Dev",
    row=parse_template(
        "{@name:*s} {samples:3U} {runs:3U}  {span:I} {residual frequency:+P} {skew:P}  "
        "{offset:+S}  {standard deviation:S}\n"
    ),
    name_width=25,
    legend=tuple(
        "{W}" + line
        for line in (
            "                             .- Number of sample points in measurement set.",
            "                            /    .- Number of residual runs with same sign.",
            "                           |    /    .- Length of measurement set (time).",
            "                           |   |    /      .- Est. clock freq error (ppm).",
            "                           |   |   |      /           .- Est. error in freq.",
            "                           |   |   |     |           /         .- Est. offset.",
            "                           |   |   |     |          |          |   On the -.",
            "                           |   |   |     |          |          |   samples. \\",
            "                           |   |   |     |          |          |             |",
        )
    ),
)

SELECTDATA = Table(
    "selectdata",
    header="S Name/IP Address        {W}Auth COpts EOpts Last Score     Interval  Leap",
    row=parse_template(
        "{@state char:c} {@name:*s} {@auth:c} "
        "{@conf N:c}{@conf P:c}{@conf T:c}{@conf R:c}{@dash:c} "
        "{@eff N:c}{@eff P:c}{@eff T:c}{@eff R:c}{@dash:c} "
        "{last sample ago:I} {score:5.1f} {low limit:+S} {high limit:+S}  {leap status:1L}\n"
    ),
    name_width=25,
    legend=(
        "  . State: N - noselect, s - unsynchronised, M - missing samples,",
        " /         d/D - large distance, ~ - jittery, w/W - waits for others,",
        "|          S - stale, O - orphan, T - not trusted, P - not preferred,",
        "|          U - waits for update,, x - falseticker, + - combined, * - best.",
        "|{W}   Effective options   ---------.  (N - noselect, P - prefer",
        "|{W}   Configured options  ----.     \\  T - trust, R - require)",
        "|{W}   Auth. enabled (Y/N) -.   \\     \\     Offset interval --.",
        "|{W}                        |    |     |                       |",
    ),
)

AUTHDATA = Table(
    "authdata",
    header="Name/IP address             {W}Mode KeyID Type KLen Last Atmp  NAK Cook CLen",
    row=parse_template(
        "{@name:*s} {@auth mode:4s} {key ID:5U} {@key type:4d} {key length:4d} "
        "{last key establishment ago:I} {key establishment attempts:4d} {@nak:4d} "
        "{cookies:4d} {cookie length:4d}\n"
    ),
    name_width=27,
    legend=tuple(
        "{W}" + line
        for line in (
            "                             .- Auth. mechanism (NTS, SK - symmetric key)",
            "                            |   Key length -.  Cookie length (bytes) -.",
            "                            |       (bits)  |  Num. of cookies --.    |",
            "                            |               |  Key est. attempts  |   |",
            "                            |               |           |         |   |",
        )
    ),
)

CLIENTS = Table(
    "clients",
    header="Hostname                      NTP   Drop Int IntL Last     Cmd   Drop Int  Last",
    row=parse_template(
        "{@name:*s}  {NTP hits:6U}  {NTP drops:5U}  {NTP interval:C}  "
        "{NTP timeout interval:C}  {last NTP hit ago:I}  {command hits:6U}  "
        "{command drops:5U}  {command interval:C}  {last command hit ago:I}\n"
    ),
    name_width=25,
    filter_ids=False,
)

BLOCKS: dict[str, Block] = {
    b.report: b for b in (TRACKING, NTPDATA, SERVERSTATS, ACTIVITY, RTCDATA, SMOOTHING)
}
TABLES: dict[str, Table] = {
    t.report: t for t in (SOURCES, SOURCESTATS, SELECTDATA, AUTHDATA, CLIENTS)
}
LAYOUTS: dict[str, Block | Table] = {**BLOCKS, **TABLES}

# -- values chronyc computes ----------------------------------------------------

#: chronyc's sources columns M and S.
MODE_CHAR = {SourceMode.CLIENT: "^", SourceMode.PEER: "=", SourceMode.REFCLOCK: "#"}
# candm.h: UNSELECTED (4) is printed '+' (combined), SELECTABLE (5) '-' (not combined).
STATE_CHAR = {
    SourceState.SELECTED: "*",
    SourceState.NONSELECTABLE: "?",
    SourceState.FALSETICKER: "x",
    SourceState.JITTERY: "~",
    SourceState.UNSELECTED: "+",
    SourceState.SELECTABLE: "-",
}
_AUTH_MODE = {AuthMode.NONE: "-", AuthMode.SYMMETRIC: "SK", AuthMode.NTS: "NTS"}
_OPTION_CHAR = {
    "N": SelectOptions.NOSELECT,
    "P": SelectOptions.PREFER,
    "T": SelectOptions.TRUST,
    "R": SelectOptions.REQUIRE,
}


def refid_text(ref_id: int) -> str:
    """chronyc's UTI_RefidToString: the printable characters of the reference ID."""
    raw = (ref_id & 0xFFFFFFFF).to_bytes(4, "big")
    return "".join(chr(b) for b in raw if 32 <= b < 127)


def address_refid(address: str) -> int:
    """chronyc's UTI_IPToRefid: IPv4 as is, IPv6 by the first 4 bytes of its MD5."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return 0
    if ip.version == 4:
        return int(ip)
    digest = hashlib.md5(ip.packed, usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big")


def _options(attr: str, char: str) -> Callable[[Any], str]:
    flag = _OPTION_CHAR[char]
    return lambda r: char if getattr(r, attr) & flag else "-"


# Per report: computed name -> function of the record. "@name" (the source's name
# column) and tracking's "@reference name" need the naming options: see names.py.
_COMPUTED: dict[str, dict[str, Callable[[Any], Any]]] = {
    "sources": {
        "@mode char": lambda r: MODE_CHAR.get(r.mode, " "),
        "@state char": lambda r: STATE_CHAR.get(r.state, " "),
    },
    "selectdata": {
        "@state char": lambda r: r.state.char,
        "@auth": lambda r: "Y" if r.authenticated else "N",
        "@dash": lambda r: "-",
        **{f"@conf {c}": _options("configured_options", c) for c in _OPTION_CHAR},
        **{f"@eff {c}": _options("effective_options", c) for c in _OPTION_CHAR},
    },
    "authdata": {
        "@auth mode": lambda r: _AUTH_MODE.get(r.mode, "?"),
        "@key type": lambda r: r.key_type.value,
        "@nak": lambda r: int(r.nak),
    },
    "ntpdata": {
        "@remote refid": lambda r: address_refid(r.remote_address),
        "@local address": lambda r: r.local_address or "[UNSPEC]",
        "@local refid": lambda r: address_refid(r.local_address),
        "@poll seconds": lambda r: 2.0**r.poll,
        "@precision seconds": lambda r: 2.0**r.precision,
        "@reference name": lambda r: refid_text(r.reference_id) if r.stratum <= 1 else "",
        "@interleaved": lambda r: r.flags & 0x4000,
        "@authenticated": lambda r: r.is_authenticated(),
    },
    "smoothing": {
        "@active": lambda r: r.is_active(),
        "@leap only": lambda r: "(leap second only)" if r.is_leap_only() else "",
    },
}


@dataclass(frozen=True, slots=True)
class _Resolver:
    """How a layout's names become a record's values (built once per report)."""

    attrs: dict[str, str] = field(default_factory=dict)  # registry field name -> attr
    computed: dict[str, Callable[[Any], Any]] = field(default_factory=dict)


def _resolver(layout: Block | Table) -> _Resolver:
    report: Report = REPORTS_BY_NAME[layout.report]
    templates = [ln.template for ln in layout.lines] if isinstance(layout, Block) else [layout.row]
    resolver = _Resolver(computed=_COMPUTED.get(layout.report, {}))
    for template in templates:
        for name in template.names():
            if name.startswith("@"):
                continue
            attr = report.field(name).attr  # KeyError: a name the registry lacks
            if attr is None:
                raise KeyError(f"{layout.report} field {name!r} fills no attribute")
            resolver.attrs[name] = attr
    return resolver


_RESOLVERS = {name: _resolver(layout) for name, layout in LAYOUTS.items()}


def values(report: str, record: Any, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The values a layout prints for ``record``; ``extra`` gives the names (``@name``)."""
    resolver = _RESOLVERS[report]
    out: dict[str, Any] = {name: getattr(record, attr) for name, attr in resolver.attrs.items()}
    for name, compute in resolver.computed.items():
        out[name] = compute(record)
    if extra:
        out.update(extra)
    return out
