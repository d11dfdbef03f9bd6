"""``main()``: parse the command line, run the command, turn failures into exit codes."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

from .._version import __version__
from ..connection import ChronyConnection
from ..exceptions import ChronyError
from .chronyc import COMMANDS
from .common import (
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    error,
    quiet_broken_pipe,
    robust_streams,
)
from .options import (
    SUBCOMMANDS,
    address_of,
    check_applies,
    command_parser,
    fill_defaults,
    global_parser,
    parse_command,
)
from .reports import all_reports, exit_code, run

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    robust_streams()
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(words)
    except UsageError as exc:
        error(f"{exc} (pychrony --help)")
        return EXIT_USAGE
    except ChronyError as exc:
        error(str(exc))
        return exit_code(exc)
    except BrokenPipeError:
        quiet_broken_pipe()
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


def _dispatch(words: list[str]) -> int:
    parser = global_parser()
    args = parser.parse_args(words)
    if args.help:
        parser.print_help()
        return EXIT_OK
    if args.version:
        print(f"pychrony version {__version__}")
        return EXIT_OK
    if args.command is None:
        raise UsageError("no command given (chronyc's interactive mode is not supported)")
    if args.command in SUBCOMMANDS:
        check_applies(args, args.command)
        return _subcommand(fill_defaults(args))
    if args.exit_on_error and args.watch is None:
        raise UsageError("--exit-on-error needs --watch")
    commands = _commands(args)
    address = address_of(args.host, args.port, args.family)
    return run_reports(commands, args, address, keep_going=args.command == "all")


def _commands(args: argparse.Namespace) -> list[argparse.Namespace]:
    if args.multi:
        lines = [shlex.split(word) for word in [args.command, *args.args]]
    elif args.command == "all":
        command_parser("all").parse_args(args.args, namespace=args)  # long options only
        lines = [[name] for name in all_reports()]
    else:
        lines = [[args.command, *args.args]]
    commands = []
    for line in lines:
        if not line or line[0] not in COMMANDS:
            shown = line[0] if line else "''"
            raise UsageError(f"unknown command {shown}; commands: {' '.join(COMMANDS)}")
        commands.append(parse_command(line, args))
    # Long options after a report command (tracking --json) apply to the run.
    for name in ("timeout", "attempts", "backend", "json", "watch", "exit_on_error"):
        setattr(args, name, getattr(commands[-1], name))
    if args.json and args.csv:
        raise UsageError("--json and -c are two output formats: choose one")
    fill_defaults(args)
    return [fill_defaults(c) for c in commands]


def run_reports(
    commands: list[argparse.Namespace],
    args: argparse.Namespace,
    address: str | None,
    *,
    keep_going: bool,
) -> int:
    def connect() -> ChronyConnection:
        return ChronyConnection(
            address, timeout=args.timeout, attempts=args.attempts, backend=args.backend
        )

    return run(commands, args, connect, sys.stdout, keep_going=keep_going)


def _subcommand(args: argparse.Namespace) -> int:
    if args.command == "check":
        from .check import main as check

        return check(args)
    if args.command == "serve":
        from .serve import main as serve

        return serve(args)
    if args.command == "exporter":  # chrony_exporter's flags: python -m pychrony.exporter
        from ..exporter import main as exporter

        return exporter(args.args)
    if args.command == "lab":
        from .lab import main as lab

        return lab(args)
    from .schema import main as schema

    return schema(args)
