"""The two daemons' chronyd.conf: a local-clock server and a client polling it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .directory import ROLES, LabDir
from .network import LOOPBACK, free_udp_port, unreachable_addresses

__all__ = ["ClientSettings", "write_configs"]


@dataclass(frozen=True)
class ClientSettings:
    """What the client's config depends on besides the lab directory."""

    socket_path: str
    server_port: int
    cmd_address: str
    cmd_port: int
    sources: int
    poll: int
    cmdallow: Sequence[str]
    shm_unit: int | None


def _server_lines(layout: LabDir, server_port: int) -> list[str]:
    return [
        "# server chronyd of a pychrony lab: serves NTP from its local clock",
        f"port {server_port}",
        f"bindaddress {LOOPBACK}",
        f"allow {LOOPBACK}",
        "local stratum 8",
        "cmdport 0",
        f"bindcmdaddress {layout.command_socket('server')}",
        f"pidfile {layout.pidfile('server')}",
        f"dumpdir {layout.dump}",
        f"ntsdumpdir {layout.dump}",
    ]


def _client_lines(layout: LabDir, c: ClientSettings) -> list[str]:
    lines = [
        "# client chronyd of a pychrony lab",
        f"server {LOOPBACK} port {c.server_port} iburst minpoll {c.poll} maxpoll {c.poll}",
    ]
    taken = {c.server_port, c.cmd_port}
    for address in unreachable_addresses(c.sources - 1):
        port = free_udp_port(address, taken)
        taken.add(port)
        # Nothing listens there. They start offline and wait_synced() brings them
        # online after the server is selected: chronyd spaces the requests of all
        # its sources (up to 0.2 s apart), so 63 sources polling from the start
        # delayed the first selection by 1-12 s; offline, it takes ~0.3 s.
        lines.append(f"server {address} port {port} offline minpoll 6 maxpoll 6")
    if c.shm_unit is not None:
        lines.append(f"refclock SHM {c.shm_unit} refid GPS noselect")
    return [
        *lines,
        "port 0",
        f"bindcmdaddress {c.socket_path}",
        f"bindcmdaddress {c.cmd_address}",
        f"cmdport {c.cmd_port}",
        *(f"cmdallow {subnet}" for subnet in c.cmdallow),
        "smoothtime 400 0.001 leaponly",
        f"pidfile {layout.pidfile('client')}",
        f"driftfile {layout.drift}",
        f"dumpdir {layout.dump}",
        f"ntsdumpdir {layout.dump}",
    ]


def write_configs(layout: LabDir, client: ClientSettings) -> list[Path]:
    """Write both configs and empty logs; return every file the daemons will make."""
    server = _server_lines(layout, client.server_port)
    for role, lines in (("server", server), ("client", _client_lines(layout, client))):
        layout.conf(role).write_text("\n".join(lines) + "\n")
    for role in ROLES:
        layout.log(role).write_bytes(b"")
    return [
        *(layout.conf(role) for role in ROLES),
        *(layout.log(role) for role in ROLES),
        *(layout.pidfile(role) for role in ROLES),
        layout.drift,
    ]
