"""The lab directory: where each daemon's config, log, pidfile and socket live."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError

__all__ = ["ROLES", "STATE_FILE", "LabDir", "make_lab_dirs", "remove_lab_files"]

#: Name of the JSON state file the CLI writes into the lab directory.
STATE_FILE = "lab.json"
#: The two daemons of a lab; each has its own config, log, pidfile and socket.
ROLES = ("server", "client")
#: Longest usable ``sun_path`` (108 bytes with the terminating NUL).
_SUN_PATH_MAX = 107
#: Room chronyc needs next to the daemon socket: it binds ``chronyc.<pid>.sock`` there.
_CHRONYC_SOCK_NAME = "chronyc.4194304.sock"


@dataclass(frozen=True)
class LabDir:
    """The files of one lab under ``base`` (one place for every path)."""

    base: Path

    def conf(self, role: str) -> Path:
        """The daemon's chronyd.conf."""
        return self.base / f"{role}.conf"

    def log(self, role: str) -> Path:
        """The daemon's log (its stderr)."""
        return self.base / f"{role}.log"

    def pidfile(self, role: str) -> Path:
        """The daemon's pidfile."""
        return self.base / f"{role}.pid"

    def command_socket(self, role: str) -> Path:
        """The daemon's Unix command socket, in a 0700 directory of its own."""
        return self.base / role / "chronyd.sock"

    @property
    def dump(self) -> Path:
        """dumpdir and ntsdumpdir of both daemons."""
        return self.base / "dump"

    @property
    def drift(self) -> Path:
        """The client's driftfile."""
        return self.base / "client.drift"

    @property
    def state_file(self) -> Path:
        """The CLI's JSON state file."""
        return self.base / STATE_FILE


def make_lab_dirs(layout: LabDir) -> list[Path]:
    """Create the socket and dump directories (mode 0700) in an existing base; list them.

    Raises:
        LabError: the base path is too long for a Unix socket path.
    """
    base = layout.base
    if len(os.fsencode(base / "client" / _CHRONYC_SOCK_NAME)) > _SUN_PATH_MAX:
        raise LabError(f"lab directory path too long for a Unix socket path: {base}")
    created = []
    for name in (*ROLES, "dump"):
        path = base / name
        path.mkdir(mode=0o700, exist_ok=True)
        # chronyd disables a socket whose directory is not 0700/0750 ("Wrong
        # permissions"); mkdir's mode is subject to the umask, so set it again.
        path.chmod(0o700)
        created.append(path)
    return created


def remove_lab_files(base: Path, owns_dir: bool, created: Sequence[Path]) -> None:
    """Remove the lab directory if the lab made it, else only what the lab put there."""
    if owns_dir:
        shutil.rmtree(base, ignore_errors=True)
        return
    for path in [*created, base / STATE_FILE]:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
