"""Running report commands: one, several (``-m``, ``all``), once or ``--watch``."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from ..connection import ChronyConnection
from ..display import to_json
from ..exceptions import (
    ChronyConnectionError,
    ChronyDataError,
    ChronyDisabledError,
    ChronyError,
    ChronyPermissionError,
)
from ..models import Source
from ..registry import REPORTS_BY_NAME
from .chronyc import COMMANDS, View, render, select
from .common import EXIT_FAILED, EXIT_OK, EXIT_PERMISSION, error, stamp
from .names import Namer

__all__ = ["exit_code", "run"]

Connect = Callable[[], ChronyConnection]


def exit_code(exc: ChronyError) -> int:
    """The exit code of a failure (see :mod:`pychrony.cli.common`)."""
    return EXIT_PERMISSION if isinstance(exc, ChronyPermissionError) else EXIT_FAILED


def run(
    commands: Sequence[argparse.Namespace],
    options: argparse.Namespace,
    connect: Connect,
    out: TextIO,
    *,
    keep_going: bool = False,
) -> int:
    """Run ``commands`` once, or every ``options.watch`` seconds until Ctrl-C.

    ``keep_going`` (``all``): a report chronyd refuses or lacks is reported and the
    next one printed; otherwise (chronyc's ``-m``) the first failure ends the run.
    """
    conn: ChronyConnection | None = None
    try:
        while True:
            if conn is None:
                conn = connect()
            status, failure = _once(commands, options, conn, out, keep_going)
            out.flush()
            if isinstance(failure, ChronyConnectionError):
                conn.close()  # chronyd restarted or went away: reconnect next tick
                conn = None
            if options.watch is None or (status != EXIT_OK and options.exit_on_error):
                return status
            time.sleep(options.watch)
            if status == EXIT_OK and not options.json and not options.csv:  # a tick apart
                out.write("\n")
    except KeyboardInterrupt:
        return EXIT_OK if options.watch is not None else 130
    finally:
        if conn is not None:
            conn.close()


def _once(
    commands: Sequence[argparse.Namespace],
    options: argparse.Namespace,
    conn: ChronyConnection,
    out: TextIO,
    keep_going: bool,
) -> tuple[int, ChronyError | None]:
    """Print ``commands`` once: (exit status, the failure that ended it)."""
    failure: ChronyError | None = None
    watching = options.watch is not None
    payload: dict[str, Any] = {}
    status = EXIT_OK
    for cmd in commands:
        try:
            text, data = _command(cmd, options, conn)
        except ChronyError as exc:
            failure = exc
            shown = f"{stamp()} {exc}" if watching else str(exc)
            error(f"{cmd.command}: {shown}" if len(commands) > 1 else shown)
            if options.json and len(commands) > 1:
                payload[cmd.line] = {"error": str(exc)}
            refused = isinstance(exc, (ChronyPermissionError, ChronyDisabledError))
            if keep_going and refused:
                continue
            status = exit_code(exc)
            break
        if options.json:
            payload[cmd.line] = data
        else:
            out.write(text)
    if options.json and (payload or status == EXIT_OK):
        document = payload if len(commands) > 1 else next(iter(payload.values()), None)
        if watching:
            out.write(json.dumps(document) + "\n")
        else:
            json.dump(document, out, indent=2)
            out.write("\n")
    return status, failure


def _command(
    cmd: argparse.Namespace, options: argparse.Namespace, conn: ChronyConnection
) -> tuple[str, Any]:
    """(text, JSON) of one command."""
    command = COMMANDS[cmd.command]
    raw = named_sources(conn) if command.name == "sourcename" else conn.report(command.report)
    view = View(
        csv=options.csv,
        wide=options.wide,
        all=cmd.all,
        verbose=cmd.verbose and not options.csv,
        address=cmd.source,
    )
    if options.json and raw is None:
        return "", None  # rtcdata of a chronyd without an RTC: null
    data = select(command, raw, view)
    if options.json:
        return "", data if isinstance(data, str) else to_json(data)
    namer = Namer(
        dns=not (options.no_dns or options.csv),
        source_names=options.source_names,
        timeout=options.timeout,
        configured=lambda: _configured_names(conn),
    )
    return render(command, data, view, namer), None


def named_sources(conn: ChronyConnection) -> list[Source]:
    """The sources with their configured names (chronyc's ``-N``, ``sourcename``).

    libchrony has no request for a source's name, so the native backend's sources
    have none: the names come from a python-backend connection to the same chronyd.
    """
    if conn.backend != "native":
        return conn.get_sources()
    address = conn.open().address  # None until a session is open
    with ChronyConnection(
        address, timeout=conn.timeout, attempts=conn.attempts, backend="python"
    ) as named:
        return named.get_sources()


def _configured_names(conn: ChronyConnection) -> dict[str, str | None]:
    try:
        return {s.address: s.name for s in named_sources(conn)}
    except ChronyDataError:
        return {}


def all_reports() -> list[str]:
    """The command names of libchrony's reports, in the registry's order (``all``).

    ``clients`` is left out: chronyd serves it over its Unix socket only, so ``all``
    over UDP would fail on it; ask for it on its own."""
    by_report = {c.report: c.name for c in COMMANDS.values() if c.name != "sourcename"}
    return [
        by_report[name]
        for name, report in REPORTS_BY_NAME.items()
        if name in by_report and report.libchrony
    ]
