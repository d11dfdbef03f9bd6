"""chronyc's command line: ``pychrony [OPTION]... [COMMAND]...``.

chronyc's options keep chronyc's meanings (``-h HOST``, ``-p PORT``, ``-n``, ``-N``,
``-c``, ``-m``, ``-w``, ``-4``/``-6``, ``-v``/``--version``, ``--help``); pychrony's own
are long options. Options come before the command, as with chronyc; the long ones
may follow a report command too (``pychrony tracking --json``). A report command
takes chronyc's arguments (``sources -a -v``, ``ntpdata ADDRESS``); ``check``,
``serve``, ``exporter``, ``lab`` and ``schema`` are subcommands with options of their own.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
from collections.abc import Sequence
from typing import NoReturn

from .._address import DEFAULT_PORT
from ..connection import DEFAULT_ATTEMPTS, DEFAULT_TIMEOUT
from .chronyc import COMMANDS
from .common import UsageError

__all__ = [
    "SUBCOMMANDS",
    "address_of",
    "check_applies",
    "fill_defaults",
    "global_parser",
    "long_options",
    "parse_command",
]

#: Subcommands: not chronyc's; each has its own options (``pychrony check --help``).
SUBCOMMANDS = ("check", "serve", "exporter", "lab", "schema")
#: Options of the report output, which no subcommand but ``lab`` takes.
_OUTPUT_OPTIONS = ("csv", "multi", "no_dns", "source_names", "wide", "json", "watch")
_CONNECTION_OPTIONS = ("host", "port", "family")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are :class:`UsageError` (the caller prints them)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer: {text!r}")
    return int(text)


def port_number(text: str) -> int:
    """A UDP/TCP port, 1-65535."""
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"not a port (1-65535): {text!r}")
    return int(text)


def long_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """pychrony's own options (``suppress``: leave unset ones out of the namespace).

    Unset connection options are None until :func:`fill_defaults`, so a subcommand
    they do not apply to can tell they were given.
    """

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--timeout",
        type=_positive,
        default=default(None),
        metavar="SECONDS",
        help=f"wait for each reply (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--attempts",
        type=_count,
        default=default(None),
        metavar="N",
        help=f"requests sent before giving up (default {DEFAULT_ATTEMPTS})",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "native", "python"),
        default=default(None),
        help="libchrony extension, pychrony's own protocol client, or native where built",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print reports as JSON (schemas: pychrony schema REPORT)",
    )
    parser.add_argument(
        "--watch",
        type=_positive,
        default=default(None),
        metavar="SECONDS",
        help="repeat every SECONDS; failures are reported and retried (Ctrl-C stops)",
    )
    parser.add_argument(
        "--exit-on-error",
        action="store_true",
        default=default(False),
        help="with --watch: stop at the first failure, with its exit code",
    )


def global_parser() -> Parser:
    """The parser of the options before the command."""
    parser = Parser(
        prog="pychrony",
        usage="pychrony [OPTION]... [COMMAND]...",
        description="Read chronyd's state as chronyc prints it, as JSON or as a monitoring check.",
        epilog=(
            f"Commands: {' '.join(COMMANDS)}, all (every report); subcommands: "
            f"{', '.join(SUBCOMMANDS)} (pychrony SUBCOMMAND --help). Exit codes: 0 ok, "
            "1 chronyd unreachable, timed out, bad data or no such report/source, "
            "2 usage, 3 permission denied, 4 serve could not bind; "
            "check: 0-3 as monitoring plugins."
        ),
        add_help=False,
        allow_abbrev=False,
    )
    family = parser.add_mutually_exclusive_group()
    family.add_argument("-4", dest="family", action="store_const", const=4, help="IPv4 only")
    family.add_argument("-6", dest="family", action="store_const", const=6, help="IPv6 only")
    parser.add_argument("-n", dest="no_dns", action="store_true", help="don't resolve hostnames")
    parser.add_argument(
        "-N", dest="source_names", action="store_true", help="print original source names"
    )
    parser.add_argument("-c", dest="csv", action="store_true", help="CSV format")
    parser.add_argument("-m", dest="multi", action="store_true", help="accept multiple commands")
    parser.add_argument("-w", dest="wide", action="store_true", help="wide output")
    parser.add_argument(
        "-h",
        "--address",
        dest="host",
        metavar="HOST",
        help="chronyd's socket path or address: /path, unix:///path, IP, IP:PORT, [IPv6]:PORT "
        "(default: /run/chrony/chronyd.sock, 127.0.0.1, ::1)",
    )
    parser.add_argument(
        "-p", dest="port", type=port_number, metavar="PORT", help=f"UDP port ({DEFAULT_PORT})"
    )
    parser.add_argument("-v", "--version", action="store_true", help="print version and exit")
    parser.add_argument("--help", action="store_true", help="print usage and exit")
    long_options(parser)
    parser.add_argument("command", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


_DEFAULTS = {"timeout": DEFAULT_TIMEOUT, "attempts": DEFAULT_ATTEMPTS, "backend": "auto"}


def fill_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Give the connection options left unset their defaults."""
    for name, value in _DEFAULTS.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    return args


def check_applies(args: argparse.Namespace, subcommand: str) -> None:
    """UsageError when an option before a subcommand does not apply to it."""
    given = [name for name in _OUTPUT_OPTIONS if getattr(args, name)]
    if subcommand == "lab":
        given = [name for name in _CONNECTION_OPTIONS if getattr(args, name) is not None]
    elif args.exit_on_error:
        given.append("exit_on_error")
    if subcommand in ("schema", "exporter"):  # the exporter has its own --chrony.* flags
        given += [
            name for name in (*_CONNECTION_OPTIONS, *_DEFAULTS) if getattr(args, name) is not None
        ]
    if given:
        shown = ", ".join(_OPTION_NAMES.get(name, name) for name in given)
        raise UsageError(f"{shown} does not apply to {subcommand}")


_OPTION_NAMES = {
    "csv": "-c",
    "multi": "-m",
    "no_dns": "-n",
    "source_names": "-N",
    "wide": "-w",
    "json": "--json",
    "watch": "--watch",
    "exit_on_error": "--exit-on-error",
    "host": "-h",
    "port": "-p",
    "family": "-4/-6",
    "timeout": "--timeout",
    "attempts": "--attempts",
    "backend": "--backend",
}


def address_of(host: str | None, port: int | None, family: int | None) -> str | None:
    """ChronyConnection's address for chronyc's ``-h``, ``-p``, ``-4``/``-6``.

    Accepts chronyc's forms (a socket path, an address) and the exporters'
    (``unix:///path``, ``IP:PORT``, ``[IPv6]:PORT``). None: chronyc's defaults.
    """
    if host is None:
        if port is None and family is None:
            return None
        return _join("::1" if family == 6 else "127.0.0.1", port or DEFAULT_PORT)
    text = host.strip()
    if text.startswith("unix://"):
        text = text[len("unix://") :]
        if not text.startswith("/"):
            raise UsageError(f"-h {host}: unix:// needs an absolute path (unix:///run/...)")
    if text.startswith("/"):
        if port is not None or family is not None:
            raise UsageError(f"-p and -4/-6 do not apply to a socket path (-h {host})")
        return text
    ip, embedded = _split_port(text, host)
    if embedded is not None and port is not None and embedded != port:
        raise UsageError(f"-h {host} has a port; -p {port} contradicts it")
    try:
        version = ipaddress.ip_address(ip).version
    except ValueError:
        raise UsageError(
            f"-h {host}: expected a socket path, unix:///path or an IP address "
            "(pychrony does not resolve host names)"
        ) from None
    if family is not None and family != version:
        raise UsageError(f"-{family} contradicts -h {host} (an IPv{version} address)")
    return _join(ip, embedded or port or DEFAULT_PORT)


def _split_port(text: str, host: str) -> tuple[str, int | None]:
    if text.startswith("["):
        close = text.find("]")
        rest = text[close + 1 :] if close > 0 else "?"
        if close < 0 or (rest and not rest.startswith(":")):
            raise UsageError(f"-h {host}: expected [IPv6] or [IPv6]:PORT")
        return text[1:close], _port(rest[1:], host) if rest else None
    if text.count(":") == 1:
        ip, _, port = text.partition(":")
        return ip, _port(port, host)
    return text, None


def _port(text: str, host: str) -> int:
    try:
        return port_number(text)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"-h {host}: {exc}") from None


def _join(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def command_parser(name: str) -> Parser:
    """The parser of a report command's arguments (chronyc's, plus the long options)."""
    command = COMMANDS.get(name)
    parser = Parser(prog=f"pychrony {name}", add_help=False, allow_abbrev=False)
    if command is not None and command.source_options:
        parser.add_argument("-a", dest="all", action="store_true", default=argparse.SUPPRESS)
        parser.add_argument("-v", dest="verbose", action="store_true", default=argparse.SUPPRESS)
    if command is not None and command.address:
        nargs = "?" if command.address == "optional" else None
        parser.add_argument("source", nargs=nargs, metavar="ADDRESS", default=argparse.SUPPRESS)
    long_options(parser, suppress=True)
    return parser


def parse_command(words: Sequence[str], namespace: argparse.Namespace) -> argparse.Namespace:
    """Parse one command line (``["sources", "-a"]``) into a copy of ``namespace``."""
    parsed = argparse.Namespace(**vars(namespace))
    parsed.command, parsed.all, parsed.verbose, parsed.source = words[0], False, False, None
    parsed.line = " ".join(words)
    command_parser(words[0]).parse_args(list(words[1:]), namespace=parsed)
    if parsed.source is not None:
        try:
            parsed.source = str(ipaddress.ip_address(parsed.source))
        except ValueError:
            raise UsageError(f"{words[0]}: not an IP address: {parsed.source!r}") from None
    return parsed
