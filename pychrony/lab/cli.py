"""``python3 ci/chrony_lab.py start|status|stop|run``: the lab's command line."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .directory import STATE_FILE
from .errors import LabError
from .pair import Lab
from .saved import status_lab_dir, stop_lab_dir

__all__ = ["main"]

_DEFAULT_CLI_DIR = os.path.join(tempfile.gettempdir(), "pychrony-lab")


def _add_lab_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sources",
        type=int,
        default=3,
        help="total NTP sources in the client (1 reachable + N-1 unreachable; default 3)",
    )
    parser.add_argument(
        "--no-refclock", action="store_true", help="leave out the noselect SHM refclock"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for sync (default 30)"
    )


def _print_shell(env: dict[str, str]) -> None:
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")


def _cmd_start(args: argparse.Namespace) -> int:
    lab = Lab(
        args.dir,
        sources=args.sources,
        refclock=not args.no_refclock,
        sync_timeout=args.timeout,
        die_with_parent=False,
    )
    lab.start()
    lab.detach()
    state = lab.state()
    (Path(lab.base_dir) / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
    if args.shell:
        _print_shell(lab.env())
    else:
        print(json.dumps(state, indent=2))
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    try:
        state = stop_lab_dir(args.dir)
    except LabError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"stopped lab in {state['base_dir']}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    try:
        state = status_lab_dir(args.dir)
    except LabError as exc:
        print(exc, file=sys.stderr)
        return 3
    print(json.dumps(state, indent=2))
    return 0 if state["server_running"] and state["client_running"] else 3


def _raise_system_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _cmd_run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("run: give a command after --", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_system_exit)
    with Lab(
        args.dir, sources=args.sources, refclock=not args.no_refclock, sync_timeout=args.timeout
    ) as lab:
        print(
            f"chrony lab: socket {lab.socket_path}, udp {lab.udp_address}, "
            f"{lab.sources} sources, synced in {lab.startup_seconds or 0:.2f} s",
            file=sys.stderr,
        )
        env = {**os.environ, **lab.env()}
        try:
            return subprocess.call(command, env=env)
        except KeyboardInterrupt:
            return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python3 ci/chrony_lab.py``."""
    parser = argparse.ArgumentParser(
        prog="chrony_lab.py", description="Throw-away chronyd server+client pair on loopback."
    )
    sub = parser.add_subparsers(dest="action", required=True)

    start = sub.add_parser("start", help="start a lab in --dir, write lab.json, print it")
    start.add_argument("--dir", default=_DEFAULT_CLI_DIR, help=f"(default {_DEFAULT_CLI_DIR})")
    start.add_argument("--shell", action="store_true", help="print 'export VAR=...' lines")
    _add_lab_options(start)
    start.set_defaults(func=_cmd_start)

    for name, func, text in (
        ("stop", _cmd_stop, "stop the lab in --dir and remove its files"),
        ("status", _cmd_status, "print the lab state; exit 3 if not running"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--dir", default=_DEFAULT_CLI_DIR, help=f"(default {_DEFAULT_CLI_DIR})")
        cmd.set_defaults(func=func)

    run = sub.add_parser("run", help="start a lab, run CMD with PYCHRONY_LAB_* set, stop")
    run.add_argument("--dir", default=None, help="lab directory (default: a fresh temp dir)")
    _add_lab_options(run)
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    run.set_defaults(func=_cmd_run)

    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except LabError as exc:
        print(f"chrony_lab: {exc}", file=sys.stderr)
        return 1
    return result
