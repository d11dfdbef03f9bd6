"""chronyd address forms: Unix socket paths, IPv4/IPv6 with optional port."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from .exceptions import ChronyConnectionError, ChronyError, ChronyPermissionError

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_SOCKETS",
    "Endpoint",
    "candidates",
    "first_reachable",
    "parse_address",
]

#: chronyd's command port (``cmdport``).
DEFAULT_PORT = 323
#: Where chronyd's command socket lives, in the order auto-detection tries them.
DEFAULT_SOCKETS = ("/run/chrony/chronyd.sock", "/var/run/chrony/chronyd.sock")
#: Loopback addresses auto-detection tries after the sockets.
DEFAULT_HOSTS = ("127.0.0.1", "::1")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed chronyd address: a Unix socket ``path`` or a UDP ``host``/``port``."""

    path: str | None = None
    host: str | None = None
    port: int = DEFAULT_PORT

    @property
    def is_unix(self) -> bool:
        """True for a Unix domain socket."""
        return self.path is not None

    def __str__(self) -> str:
        if self.path is not None:
            return self.path
        return f"[{self.host}]:{self.port}" if ":" in str(self.host) else f"{self.host}:{self.port}"


def parse_address(address: str) -> Endpoint:
    """Parse ``/path``, ``192.0.2.1[:port]``, ``2001:db8::1`` or ``[2001:db8::1]:port``."""
    text = address.strip()
    if text.startswith("/"):
        return Endpoint(path=text)
    host, port = text, DEFAULT_PORT
    if text.startswith("["):
        close = text.find("]")
        rest = text[close + 1 :] if close > 0 else "?"
        if close < 0 or (rest and not rest.startswith(":")):
            raise ChronyConnectionError(f"Invalid chronyd address {address!r}")
        host = text[1:close]
        if rest:
            port = _port(rest[1:], address)
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, address)
    import ipaddress  # only for a UDP address: keeps `import pychrony` small

    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ChronyConnectionError(
            f"Invalid chronyd address {address!r}: expected a socket path starting with '/', "
            "an IPv4 or IPv6 address, optionally with a port"
        ) from None
    return Endpoint(host=host, port=port)


def candidates(address: str | None) -> tuple[Endpoint, ...]:
    """Endpoints to try for ``address``; None or "" means auto-detection."""
    if address:
        return (parse_address(address),)
    return tuple(Endpoint(path=p) for p in DEFAULT_SOCKETS) + tuple(
        Endpoint(host=h) for h in DEFAULT_HOSTS
    )


def _port(text: str, address: str) -> int:
    if text.isascii() and text.isdigit() and 0 < int(text) < 65536:  # "²".isdigit() too
        return int(text)
    raise ChronyConnectionError(
        f"Invalid port in chronyd address {address!r}: expected 1 to 65535 in ASCII digits"
    )


class _Closable(Protocol):
    def close(self) -> None: ...


_S = TypeVar("_S", bound=_Closable)


def first_reachable(
    endpoints: Sequence[Endpoint], connect: Callable[[Endpoint], _S], probe: Callable[[_S], None]
) -> _S:
    """Auto-detection as pychrony 2.x does it: each endpoint in turn, by connecting.

    A session that ``connect`` opens to a Unix socket is taken; over UDP, which
    "connects" whether anyone listens or not, ``probe`` must get an answer too. A
    candidate failing with a connection or permission error means the next one;
    when none is left, the error lists each with its reason.
    """
    from ._errors import auto_detect_error

    failures: list[tuple[str, ChronyError]] = []
    for endpoint in endpoints:
        try:
            session = connect(endpoint)
        except (ChronyConnectionError, ChronyPermissionError) as exc:
            failures.append((str(endpoint), exc))
            continue
        if not endpoint.is_unix:
            try:
                probe(session)
            except ChronyConnectionError as exc:
                session.close()
                failures.append((str(endpoint), exc))
                continue
        return session
    raise auto_detect_error(failures)
