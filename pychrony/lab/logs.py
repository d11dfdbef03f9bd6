"""Reading the daemons' logs: their tails for error messages, socket failures."""

from __future__ import annotations

from pathlib import Path

from .directory import ROLES, LabDir
from .errors import PortClash

__all__ = ["check_sockets", "log_tails"]

#: chronyd log lines meaning a socket we configured is not there (it carries on).
_SOCKET_FAILURES = (
    "Could not open NTP socket",
    "Could not open command socket",
    "Disabled command socket",
)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no {path.name})"
    body = "\n".join("    " + line for line in text.splitlines()[-lines:])
    return f"  {path.name}:\n{body}"


def log_tails(layout: LabDir) -> str:
    """The last lines of both daemons' logs, indented, for an error message."""
    return "\n".join(_tail(layout.log(role)) for role in ROLES)


def check_sockets(layout: LabDir) -> None:
    """Raise PortClash if a daemon logged that it could not open a socket."""
    for role in ROLES:
        try:
            log = layout.log(role).read_text(errors="replace")
        except OSError:
            continue
        for line in log.splitlines():
            if any(failure in line for failure in _SOCKET_FAILURES):
                raise PortClash(f"{role} chronyd: {line}\n{log_tails(layout)}")
