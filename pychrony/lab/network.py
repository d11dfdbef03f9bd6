"""Loopback addresses and free UDP ports for the lab's daemons."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

from .errors import LabError

__all__ = ["LOOPBACK", "free_udp_port", "unreachable_addresses"]

LOOPBACK = "127.0.0.1"
#: Unreachable sources get addresses from 127.0.1.1 upwards (nothing listens there).
_UNREACHABLE_BASE = ipaddress.IPv4Address("127.0.1.0")


def free_udp_port(host: str = LOOPBACK, taken: set[int] | None = None) -> int:
    """Return a UDP port nobody is bound to on *host* (and not in *taken*)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if taken is None or port not in taken:
            return port
    raise LabError(f"could not find a free UDP port on {host}")


def unreachable_addresses(count: int) -> Iterator[str]:
    """Yield *count* distinct loopback addresses other than 127.0.0.1."""
    address = _UNREACHABLE_BASE
    produced = 0
    while produced < count:
        address += 1
        if address.packed[-1] in (0, 255):
            continue
        produced += 1
        yield str(address)
