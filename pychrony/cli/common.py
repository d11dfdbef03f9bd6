"""What every part of the command line shares: exit codes, usage errors, output."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from typing import TextIO

__all__ = [
    "EXIT_BIND",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_PERMISSION",
    "EXIT_USAGE",
    "UsageError",
    "error",
    "quiet_broken_pipe",
    "robust_streams",
    "stamp",
]

#: The command did what it was asked.
EXIT_OK = 0
#: chronyd unreachable, timed out, sent bad data, or has no such report/source.
EXIT_FAILED = 1
#: A usage error: unknown command or option, an option that does not apply, a bad value.
EXIT_USAGE = 2
#: chronyd refused us: socket permissions, or a command it answers only on its Unix socket.
EXIT_PERMISSION = 3
#: ``serve`` could not bind its address (in use, not allowed, not local).
EXIT_BIND = 4


class UsageError(Exception):
    """The command line is wrong; the message says how (exit 2)."""


def error(message: str, out: TextIO | None = None) -> None:
    """``pychrony: message`` on stderr."""
    print(f"pychrony: {message}", file=out or sys.stderr, flush=True)


def stamp() -> str:
    """Now in UTC, to the second, for messages of a long-running command."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def robust_streams() -> None:
    """Make stdout and stderr print anything on any encoding (PYTHONIOENCODING=ascii,
    LC_ALL=C): reports are ASCII already; a character the encoding lacks (in a
    name or a message) becomes an escape instead of a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def quiet_broken_pipe() -> None:
    """The reader went away (``pychrony sources | head -1``): exit without a traceback.

    Python would report the broken pipe again when it flushes stdout at exit.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
