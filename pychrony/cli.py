"""The ``pychrony`` command: chronyc-like reports, JSON, a lab and a dashboard.

Exit codes: 0 ok, 1 chronyd unreachable, timed out or sent bad data,
2 usage, 3 permission denied.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from .connection import DEFAULT_ATTEMPTS, DEFAULT_TIMEOUT, ChronyConnection
from .display import format_duration, format_offset, format_reachability, format_value, to_json
from .exceptions import (
    ChronyConnectionError,
    ChronyDisabledError,
    ChronyError,
    ChronyPermissionError,
)
from .models import SourceMode, SourceState
from .registry import REPORTS_BY_NAME, Report

__all__ = ["main"]

EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, EXIT_PERMISSION = 0, 1, 2, 3
_COMMANDS = (*REPORTS_BY_NAME, "all", "lab", "serve")
_MODE_CHAR = {SourceMode.CLIENT: "^", SourceMode.PEER: "=", SourceMode.REFCLOCK: "#"}
_STATE_CHAR = {
    SourceState.SELECTED: "*",
    SourceState.NONSELECTABLE: "?",
    SourceState.FALSETICKER: "x",
    SourceState.JITTERY: "~",
    SourceState.UNSELECTED: "-",
    SourceState.SELECTABLE: "+",
}
_WIDE = 12  # records with more attributes print as blocks, not table rows


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pychrony",
        description="Read chronyd's state. Options may come before or after the command.",
        epilog="Exit codes: 0 ok, 1 unreachable/timeout/bad data, 2 usage, 3 permission denied.",
    )
    parser.add_argument(
        "command",
        choices=_COMMANDS,
        metavar="COMMAND",
        help=f"a report ({', '.join(REPORTS_BY_NAME)}), 'all', 'lab' or 'serve'",
    )
    parser.add_argument("-a", "--address", help="socket path or IP[:port] (default: auto)")
    parser.add_argument("-t", "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds")
    parser.add_argument("--attempts", type=int, default=DEFAULT_ATTEMPTS, help="requests sent")
    parser.add_argument("-b", "--backend", choices=("auto", "native", "python"), default="auto")
    parser.add_argument("-j", "--json", action="store_true", help="JSON output")
    parser.add_argument("-w", "--watch", type=float, metavar="SECONDS", help="repeat every S s")
    parser.add_argument("--bits", action="store_true", help="reachability as bits, not octal")
    parser.add_argument("--host", default="127.0.0.1", help="serve: address to bind")
    parser.add_argument("--port", type=int, default=8323, help="serve: port")
    parser.add_argument("--sources", type=int, default=3, help="lab: NTP sources of the lab")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_intermixed_args(argv)
    if args.watch is not None and not args.watch > 0:
        parser.error("--watch needs a positive number of seconds")
    if args.timeout <= 0 or args.attempts < 1:
        parser.error("--timeout and --attempts must be positive")
    try:
        if args.command == "lab":
            return _lab(args)
        if args.command == "serve":
            return _serve(args)
        return _reports(args, sys.stdout)
    except ChronyPermissionError as exc:
        print(f"pychrony: {exc}", file=sys.stderr)
        return EXIT_PERMISSION
    except ChronyError as exc:
        print(f"pychrony: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`pychrony all | head`): not an error
        # Python would report the pipe again when flushing stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _reports(args: argparse.Namespace, out: TextIO) -> int:
    names = list(REPORTS_BY_NAME) if args.command == "all" else [args.command]
    with ChronyConnection(
        args.address, timeout=args.timeout, attempts=args.attempts, backend=args.backend
    ) as conn:
        while True:
            status = _print_reports(conn, names, args, out)
            if args.watch is None:
                return status
            out.flush()
            time.sleep(args.watch)
            if not args.json:
                out.write("\n")


def _print_reports(
    conn: ChronyConnection, names: list[str], args: argparse.Namespace, out: TextIO
) -> int:
    results: dict[str, Any] = {}
    status = EXIT_OK
    for name in names:
        try:
            results[name] = conn.report(name)
        except ChronyConnectionError:
            raise
        except (ChronyPermissionError, ChronyDisabledError) as exc:
            if len(names) == 1:
                raise
            results[name] = exc  # 'all' goes on with the reports that answer
    if args.json:
        payload = {
            n: {"error": str(v)} if isinstance(v, ChronyError) else to_json(v)
            for n, v in results.items()
        }
        json.dump(payload if len(names) > 1 else payload[names[0]], out, indent=2)
        out.write("\n")
        return status
    for i, (name, value) in enumerate(results.items()):
        if len(names) > 1:
            out.write(f"{'' if i == 0 else chr(10)}== {name}\n")
        if isinstance(value, ChronyError):
            out.write(f"  ({value})\n")
            continue
        out.write(render(REPORTS_BY_NAME[name], value, bits=args.bits))
    return status


def render(report: Report, value: Any, *, bits: bool = False) -> str:
    """A report as chronyc-like text."""
    if value is None:
        return "  (not available: chronyd does not track the RTC)\n"
    if report.name == "sources":
        return _sources_table(value, bits)
    if isinstance(value, list):
        if not value:
            return "  (none)\n"
        if len(dataclasses.fields(value[0])) > _WIDE:
            return "\n".join(_block(v) for v in value)
        return _table(value)
    return _block(value)


def _label(attr: str) -> str:
    return attr.replace("_", " ").capitalize()


def _block(record: Any) -> str:
    model = type(record)
    pairs = [
        (_label(f.name), format_value(model, f.name, getattr(record, f.name)))
        for f in dataclasses.fields(record)
    ]
    width = max(len(k) for k, _ in pairs)
    return "".join(f"{k:<{width}} : {v}\n" for k, v in pairs)


def _table(records: list[Any]) -> str:
    model = type(records[0])
    attrs = [f.name for f in dataclasses.fields(model)]
    rows = [[format_value(model, a, getattr(r, a)) for a in attrs] for r in records]
    return _align([attrs, *rows])


def _align(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.rjust(w) if j else cell.ljust(w)
            for j, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "=" * len(lines[0]))
    return "\n".join(lines) + "\n"


def _sources_table(sources: list[Any], bits: bool) -> str:
    if not sources:
        return "  (no sources)\n"
    header = ["MS Name/IP address", "Stratum", "Poll", "Reach", "LastRx", "Last sample"]
    rows = [header]
    for s in sources:
        sample = (
            f"{format_offset(s.orig_latest_meas)}[{format_offset(s.latest_meas)}] "
            f"+/- {format_offset(s.latest_meas_err, signed=False)}"
            if s.is_sampled()
            else "-"
        )
        name = s.name if s.name and s.name != s.address else s.address
        rows.append(
            [
                f"{_MODE_CHAR[s.mode]}{_STATE_CHAR[s.state]} {name}",
                str(s.stratum),
                str(s.poll),
                format_reachability(s.reachability, "bits" if bits else "octal"),
                format_duration(s.last_sample_ago),
                sample,
            ]
        )
    return _align(rows)


def _lab(args: argparse.Namespace) -> int:
    from .lab import Lab

    with Lab(sources=args.sources) as lab:
        print(f"# lab chronyd: socket {lab.socket_path}, UDP {lab.udp_address}", file=sys.stderr)
        args.address = args.address or lab.socket_path
        args.command = "all"
        return _reports(args, sys.stdout)


def _serve(args: argparse.Namespace) -> int:
    try:
        from .dashboard import serve
    except ImportError as exc:
        print(
            f"pychrony: the dashboard needs its extra: pip install 'pychrony[dashboard]' ({exc})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    serve(
        args.address,
        host=args.host,
        port=args.port,
        timeout=args.timeout,
        attempts=args.attempts,
        backend=args.backend,
    )
    return EXIT_OK
