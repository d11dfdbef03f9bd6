"""``pychrony lab``: start a throw-away chronyd pair (pychrony.lab) and print its reports."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_FAILED, UsageError, error
from .options import Parser, fill_defaults, long_options, parse_command
from .reports import all_reports

__all__ = ["main", "parser"]


def parser() -> Parser:
    """``pychrony lab``'s own options."""
    p = Parser(
        prog="pychrony lab",
        description="Start a lab chronyd pair on loopback (never touching the clock), "
        "print every report as chronyc would (or -c, --json, --watch), then stop it.",
        allow_abbrev=False,
    )
    p.add_argument("--sources", type=int, default=3, help="NTP sources of the lab (default 3)")
    long_options(p, suppress=True)
    return p


def main(args: argparse.Namespace) -> int:
    """Run the lab until its reports are printed (or Ctrl-C with --watch)."""
    from ..lab import Lab, LabError
    from .main import run_reports

    fill_defaults(parser().parse_args(args.args, namespace=args))
    if args.sources < 1:
        raise UsageError("--sources must be at least 1")
    lab = Lab(sources=args.sources)
    try:
        lab.start()
    except LabError as exc:
        error(f"the lab did not start: {exc}")
        return EXIT_FAILED
    try:
        print(f"# lab chronyd: socket {lab.socket_path}, UDP {lab.udp_address}", file=sys.stderr)
        commands = [parse_command([name], args) for name in all_reports()]
        return run_reports(commands, args, lab.socket_path, keep_going=True)
    finally:
        lab.stop()
