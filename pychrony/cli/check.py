"""``pychrony check``: chronyd's health as a monitoring plugin (docs/cli.md).

Reads tracking and sources, then judges: not synchronised is CRITICAL; a pending
leap second WARNING (``--leap-ok``: OK); offset, root distance, stratum, frequency
skew and the counts of reachable and selectable sources against their thresholds;
chronyd unreachable CRITICAL (``--unreachable-unknown``: UNKNOWN). The whole check
is bounded by ``--timeout`` (default 10 s); a usage error is UNKNOWN, as the
guidelines ask.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..connection import ChronyConnection
from ..exceptions import ChronyConnectionError, ChronyError
from ..models import LeapStatus, Source, SourceState, TrackingStatus
from .common import UsageError
from .options import Parser, address_of
from .plugin import Perf, Range, State, status_line

__all__ = ["Thresholds", "evaluate", "main"]

SERVICE = "CHRONY"
#: check_ntp_time's defaults for the offset (seconds).
DEFAULT_WARNING, DEFAULT_CRITICAL = "60", "120"
DEFAULT_DEADLINE = 10.0
_SELECTABLE = (SourceState.SELECTED, SourceState.UNSELECTED, SourceState.SELECTABLE)

# (option stem, what, unit shown in help): --<stem>-warning / --<stem>-critical
_MEASURES = (
    ("distance", "root distance (root delay / 2 + root dispersion), seconds", None),
    ("stratum", "stratum", None),
    ("skew", "frequency skew, ppm", None),
    ("reachable", "number of reachable sources", "1:"),
    ("selectable", "number of selectable sources", None),
)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Warning/critical ranges per measure (None: not checked)."""

    ranges: dict[str, tuple[Range | None, Range | None]]
    leap_ok: bool = False


def parser() -> Parser:
    """``pychrony check``'s own options."""
    p = Parser(
        prog="pychrony [-h HOST] [-p PORT] check",
        description="Check chronyd as a monitoring plugin: one status line with perfdata, "
        "exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Thresholds use the plugin range "
        "syntax [@][start:][end]; the offset is compared as an absolute value.",
        allow_abbrev=False,
    )
    p.add_argument(
        "-w",
        "--warning",
        default=DEFAULT_WARNING,
        metavar="RANGE",
        help=f"offset (seconds) that warns (default {DEFAULT_WARNING}, as check_ntp_time)",
    )
    p.add_argument(
        "-c",
        "--critical",
        default=DEFAULT_CRITICAL,
        metavar="RANGE",
        help=f"offset (seconds) that is critical (default {DEFAULT_CRITICAL})",
    )
    for stem, what, critical in _MEASURES:
        p.add_argument(f"--{stem}-warning", metavar="RANGE", help=f"{what} that warns")
        default = f" (default {critical})" if critical else ""
        p.add_argument(
            f"--{stem}-critical",
            default=critical,
            metavar="RANGE",
            help=f"{what} that is critical{default}",
        )
    p.add_argument("--leap-ok", action="store_true", help="a pending leap second is OK")
    p.add_argument(
        "-q",
        "--unreachable-unknown",
        action="store_true",
        help="chronyd unreachable is UNKNOWN instead of CRITICAL",
    )
    p.add_argument(
        "-t",
        "--timeout",
        dest="deadline",
        type=float,
        default=DEFAULT_DEADLINE,
        metavar="SECONDS",
        help=f"longest the whole check takes (default {DEFAULT_DEADLINE:g})",
    )
    return p


def thresholds(args: argparse.Namespace) -> Thresholds:
    """The parsed ranges; UsageError for a bad one."""
    texts = {"offset": (args.warning, args.critical)}
    for stem, _, _ in _MEASURES:
        texts[stem] = (getattr(args, f"{stem}_warning"), getattr(args, f"{stem}_critical"))
    ranges: dict[str, tuple[Range | None, Range | None]] = {}
    for name, pair in texts.items():
        try:
            warn, crit = (Range.parse(t) if t else None for t in pair)
        except ValueError as exc:
            raise UsageError(f"{name}: {exc}") from None
        ranges[name] = (warn, crit)
    return Thresholds(ranges, args.leap_ok)


def evaluate(tracking: TrackingStatus, sources: Sequence[Source], limits: Thresholds) -> str:
    """The status line of a reading (its state is the line's second word)."""
    reachable = sum(1 for s in sources if s.is_reachable())
    selectable = sum(1 for s in sources if s.state in _SELECTABLE)
    measures: dict[str, tuple[float, str]] = {
        "offset": (abs(tracking.offset), "s"),
        "distance": (tracking.root_delay / 2 + tracking.root_dispersion, "s"),
        "stratum": (tracking.stratum, ""),
        "skew": (tracking.skew, ""),
        "reachable": (reachable, ""),
        "selectable": (selectable, ""),
    }
    state, problems = State.OK, []
    synced = tracking.is_synchronized() and tracking.leap_status is not LeapStatus.UNSYNC
    if not synced:
        state, problems = State.CRITICAL, ["not synchronised"]
    elif tracking.is_leap_pending() and not limits.leap_ok:
        state = State.WARNING
        problems.append(f"leap second pending ({tracking.leap_status.name.lower()})")
    for name, (value, _) in measures.items():
        warn, crit = limits.ranges[name]
        for level, limit in ((State.CRITICAL, crit), (State.WARNING, warn)):
            if limit is not None and limit.alerts(value):
                state = max(state, level)
                problems.append(f"{_LABEL[name]} {_shown(name, value)} outside {limit.text}")
                break
    summary = (
        f"offset {tracking.offset:+.9f} s, stratum {tracking.stratum}, "
        f"{reachable}/{len(sources)} sources reachable, {selectable} selectable"
    )
    if synced:
        summary += f", synchronised to {tracking.reference_ip or tracking.reference_id_name}"
    text = "; ".join([*problems, summary]) if problems else summary
    signed = {"offset": tracking.offset}
    perf = [
        Perf(
            _PERF[name],
            signed.get(name, value),
            uom,
            *limits.ranges[name],
            low=0 if name in ("reachable", "selectable") else None,
            high=len(sources) if name in ("reachable", "selectable") else None,
        )
        for name, (value, uom) in measures.items()
    ]
    return status_line(SERVICE, state, text, perf)


_LABEL = {
    "offset": "offset",
    "distance": "root distance",
    "stratum": "stratum",
    "skew": "skew",
    "reachable": "reachable sources",
    "selectable": "selectable sources",
}
_PERF = {
    "offset": "offset",
    "distance": "root_distance",
    "stratum": "stratum",
    "skew": "skew_ppm",
    "reachable": "sources_reachable",
    "selectable": "sources_selectable",
}


def _shown(name: str, value: float) -> str:
    if name in ("offset", "distance"):
        return f"{value:.9f} s"
    if name == "skew":
        return f"{value:.3f} ppm"
    return str(int(value))


def main(args: argparse.Namespace) -> int:
    """Run the check (``args``: the global options and the words after ``check``)."""
    try:
        opts = parser().parse_args(args.args)
        limits = thresholds(opts)
        if not opts.deadline > 0:
            raise UsageError("--timeout must be a positive number of seconds")
        address = address_of(args.host, args.port, args.family)
    except UsageError as exc:
        print(status_line(SERVICE, State.UNKNOWN, f"usage: {exc}", []))
        return int(State.UNKNOWN)
    unreachable = State.UNKNOWN if opts.unreachable_unknown else State.CRITICAL

    def read() -> tuple[TrackingStatus, list[Source]]:
        with ChronyConnection(
            address, timeout=args.timeout, attempts=args.attempts, backend=args.backend
        ) as conn:
            return conn.get_tracking(), conn.get_sources()

    outcome = _bounded(read, opts.deadline)
    if isinstance(outcome, TimeoutError):
        line = status_line(
            SERVICE, unreachable, f"chronyd did not answer within {opts.deadline:g} s", []
        )
    elif isinstance(outcome, ChronyConnectionError):
        line = status_line(SERVICE, unreachable, f"chronyd unreachable: {outcome}", [])
    elif isinstance(outcome, BaseException):
        line = status_line(SERVICE, State.UNKNOWN, f"cannot check chronyd: {outcome}", [])
    else:
        tracking, sources = outcome
        line = evaluate(tracking, sources, limits)
    print(line)
    sys.stdout.flush()
    return int(State[line.split(" ", 2)[1]])


def _bounded(work: Callable[[], Any], deadline: float) -> Any:
    """``work()``'s result or exception, or TimeoutError after ``deadline`` seconds
    (the worker is a daemon thread: a hung chronyd cannot hold the process)."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(work())
        except (ChronyError, OSError) as exc:
            box.append(exc)

    worker = threading.Thread(target=run, name="pychrony-check", daemon=True)
    worker.start()
    worker.join(deadline)
    return box[0] if box else TimeoutError()
