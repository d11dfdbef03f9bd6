"""``--web.listen-address``: parsing, binding, and whether an address is loopback."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any

from .webconfig import ExporterConfigError

__all__ = ["bind", "is_loopback", "parse_listen"]


def parse_listen(text: str) -> tuple[str, int]:
    """(host, port) of ``host:port``, ``[v6]:port`` or ``:port`` (host "": every address)."""
    match = re.fullmatch(r"(?:\[([^\]]*)\]|([^:\[\]]*)):(\d{1,5})", text)
    if not match or int(match.group(3)) > 65535:
        raise ExporterConfigError(f"Invalid --web.listen-address {text!r}: expected host:port")
    return match.group(1) or match.group(2) or "", int(match.group(3))


def is_loopback(host: str) -> bool:
    """True when ``host`` can only be reached from this machine."""
    if host in ("", "*"):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; host "" listens on every IPv6 and IPv4 address."""
    candidates: list[tuple[int, tuple[Any, ...]]]
    if host == "":
        candidates = [(socket.AF_INET6, ("::", port)), (socket.AF_INET, ("0.0.0.0", port))]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ExporterConfigError(f"Cannot resolve listen address {host!r}: {exc}") from exc
        candidates = [(family, addr) for family, _, _, _, addr in infos]
    error: OSError | None = None
    for family, addr in candidates:
        # proto given: asyncio sets TCP_NODELAY only on sockets that say they are TCP
        # (without it every keep-alive response waits ~40 ms for a delayed ACK).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and host == "":
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(addr)
            # The kernel's cap (somaxconn): 250 targets probed at once overflowed a
            # backlog of 128, and the dropped SYNs cost the clients 1-3 s retransmits.
            sock.listen(socket.SOMAXCONN)
            sock.setblocking(False)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise ExporterConfigError(f"Cannot listen on {host or '*'}:{port}: {error}")
