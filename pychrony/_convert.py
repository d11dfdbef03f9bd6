"""Small value conversions shared by the readers, the mock and the CLI."""

from __future__ import annotations

import socket

__all__ = ["name_to_refid", "refid_name"]


def refid_name(ref_id: int) -> str:
    """Readable reference ID: ASCII (``"GPS"``) when printable, else a dotted quad."""
    raw = (ref_id & 0xFFFFFFFF).to_bytes(4, "big")
    if all(b == 0 or 32 <= b < 127 for b in raw):
        return raw.rstrip(b"\x00").decode("ascii")
    return socket.inet_ntoa(raw)


def name_to_refid(name: str) -> int:
    """Inverse of :func:`refid_name` for IPv4 addresses and refclock names."""
    try:
        return (
            int.from_bytes(socket.inet_aton(name), "big") if name.count(".") == 3 else _ascii(name)
        )
    except OSError:
        return _ascii(name)


def _ascii(name: str) -> int:
    raw = name.encode("ascii", "replace")[:4].ljust(4, b"\x00")
    return int.from_bytes(raw, "big")
