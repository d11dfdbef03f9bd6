"""What a lab is once started: its directory, sockets, ports, pids and logs (read-only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .directory import LabDir
from .errors import LabError
from .network import LOOPBACK
from .processes import Daemons

__all__ = ["ENV_DIR", "ENV_SOCKET", "ENV_UDP", "LabView"]

#: Environment variable holding the client's Unix command socket path.
ENV_SOCKET = "PYCHRONY_LAB_SOCKET"
#: Environment variable holding the client's UDP command address, ``"127.0.0.1:PORT"``.
ENV_UDP = "PYCHRONY_LAB_UDP"
#: Environment variable holding the lab directory.
ENV_DIR = "PYCHRONY_LAB_DIR"


class LabView:
    """The read-only side of :class:`~pychrony.lab.Lab`: where everything of it is."""

    def __init__(self, sources: int, refclock: bool, daemons: Daemons) -> None:
        self._sources = sources
        self._refclock = refclock
        self._daemons = daemons
        self._layout: LabDir | None = None
        self._owns_dir = False
        self._created: list[Path] = []
        self._server_port = 0
        self._cmd_port = 0
        self._shm_unit: int | None = None
        self._startup_seconds: float | None = None

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        base = None if self._layout is None else self._layout.base
        name = type(self).__name__
        return f"<{name} {state} dir={base} sources={self._sources} udp={self.udp_address}>"

    @property
    def base_dir(self) -> str:
        """The lab directory (valid once started)."""
        return str(self._dir().base)

    @property
    def socket_path(self) -> str:
        """Path of the client's Unix command socket (``chronyc -h PATH``)."""
        return str(self._dir().command_socket("client"))

    @property
    def server_socket_path(self) -> str:
        """Path of the server's Unix command socket: its client log holds the client
        chronyd (127.0.0.1) and the NTP requests it sent."""
        return str(self._dir().command_socket("server"))

    @property
    def udp_host(self) -> str:
        """Address of the client's UDP command port."""
        return LOOPBACK

    @property
    def cmd_port(self) -> int:
        """The client's UDP command port (``chronyc -h 127.0.0.1 -p PORT``)."""
        return self._cmd_port

    @property
    def udp_address(self) -> str:
        """The client's UDP command address as ``"127.0.0.1:PORT"``."""
        return f"{LOOPBACK}:{self._cmd_port}"

    @property
    def server_ntp_port(self) -> int:
        """UDP port on 127.0.0.1 where the server chronyd answers NTP."""
        return self._server_port

    @property
    def server_pid(self) -> int | None:
        """Pid of the server chronyd, or None if not running."""
        return self._daemons.pid("server")

    @property
    def client_pid(self) -> int | None:
        """Pid of the client chronyd, or None if not running."""
        return self._daemons.pid("client")

    @property
    def sources(self) -> int:
        """Number of NTP sources (``server`` lines) in the client config."""
        return self._sources

    @property
    def refclock(self) -> bool:
        """Whether the client has the noselect SHM refclock."""
        return self._refclock

    @property
    def shm_unit(self) -> int | None:
        """SHM unit of the refclock, or None without one."""
        return self._shm_unit

    @property
    def startup_seconds(self) -> float | None:
        """Seconds from launching the client to it selecting the server (last start)."""
        return self._startup_seconds

    @property
    def client_log(self) -> str:
        """Path of the client's log (its stderr)."""
        return str(self._dir().log("client"))

    @property
    def server_log(self) -> str:
        """Path of the server's log (its stderr)."""
        return str(self._dir().log("server"))

    def is_running(self) -> bool:
        """True while both daemons are alive."""
        return self.server_pid is not None and self.client_pid is not None

    def env(self) -> dict[str, str]:
        """The ``PYCHRONY_LAB_*`` variables describing this lab."""
        return {ENV_SOCKET: self.socket_path, ENV_UDP: self.udp_address, ENV_DIR: self.base_dir}

    def state(self) -> dict[str, Any]:
        """A JSON-able description of the lab (what the CLI's state file holds)."""
        return {
            "base_dir": self.base_dir,
            "socket_path": self.socket_path,
            "udp_address": self.udp_address,
            "cmd_port": self._cmd_port,
            "server_ntp_port": self._server_port,
            "server_pid": self.server_pid,
            "client_pid": self.client_pid,
            "sources": self._sources,
            "refclock": self._refclock,
            "shm_unit": self._shm_unit,
            "owns_dir": self._owns_dir,
            "created": [str(p) for p in self._created],
            "client_pids": sorted(self._daemons.client_pids),
            "startup_seconds": self._startup_seconds,
            "env": self.env(),
        }

    def _dir(self) -> LabDir:
        if self._layout is None:
            raise LabError("the lab is not started")
        return self._layout
