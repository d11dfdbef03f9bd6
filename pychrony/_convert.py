"""Small value conversions shared by the readers, the mock and the CLI."""

from __future__ import annotations

__all__ = ["name_to_refid", "refid_name"]

#: Reference IDs named so far (a poll loop asks for the same few again and again);
#: cleared when full, so a stream of new IDs cannot grow it without bound.
_NAMES: dict[int, str] = {}
_NAMES_MAX = 1024


def refid_name(ref_id: int) -> str:
    """Readable reference ID: ASCII (``"GPS"``) when printable, else a dotted quad."""
    try:
        return _NAMES[ref_id]
    except KeyError:
        pass
    raw = (ref_id & 0xFFFFFFFF).to_bytes(4, "big")
    if all(b == 0 or 32 <= b < 127 for b in raw):
        name = raw.rstrip(b"\x00").decode("ascii")
    else:
        name = ".".join(map(str, raw))  # as socket.inet_ntoa
    if len(_NAMES) >= _NAMES_MAX:
        _NAMES.clear()
    _NAMES[ref_id] = name
    return name


def name_to_refid(name: str) -> int:
    """Inverse of :func:`refid_name` for IPv4 addresses and refclock names."""
    import socket  # only tests and the mock encode names: not needed to read

    try:
        return (
            int.from_bytes(socket.inet_aton(name), "big") if name.count(".") == 3 else _ascii(name)
        )
    except OSError:
        return _ascii(name)


def _ascii(name: str) -> int:
    raw = name.encode("ascii", "replace")[:4].ljust(4, b"\x00")
    return int.from_bytes(raw, "big")
