"""The name column: chronyc's format_name() with its ``-n``, ``-N`` and ``-c`` rules.

A reference clock (or a source known only by its reference ID) is named by its
reference ID; with ``-N`` an NTP source by the name it was configured with (``?``
when chronyd does not tell); with ``-n`` or ``-c`` by its address; otherwise by the
address's DNS name, truncated to the column with a ``>`` as chronyc does. Reverse
lookups run on worker threads and are bounded by the command's timeout: an answer
that does not come in time leaves the address.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Namer", "is_address"]


def is_address(text: str) -> bool:
    """True for an IPv4/IPv6 address (not a refclock's name or an ``ID#`` source)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass
class Namer:
    """Names addresses as chronyc's name column does.

    ``dns``: resolve addresses (chronyc without ``-n``/``-c``); ``source_names``:
    ``-N``, names from ``configured`` (a function giving address -> name, called
    once); ``timeout``: seconds all lookups of one report may take together.
    """

    dns: bool
    source_names: bool
    timeout: float
    configured: Callable[[], dict[str, str | None]] = dict
    _names: dict[str, str | None] | None = None

    def prepare(self, addresses: Iterable[str]) -> None:
        """Look up the DNS names of ``addresses`` at once, within the timeout."""
        if not self.dns or self.source_names:
            return
        todo = {a for a in addresses if is_address(a) and a not in _DNS_CACHE}
        # Daemon threads: a lookup still hanging at the deadline cannot hold the exit.
        workers = [threading.Thread(target=_reverse, args=(a,), daemon=True) for a in todo]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + self.timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def name(self, address: str, width: int = 0, source: bool = True) -> str:
        """The column's text for ``address`` (``width``: truncate DNS names to it)."""
        if not is_address(address):
            return address  # a refclock or reference ID name, an unresolved ID#
        if self.source_names and source:
            if self._names is None:
                self._names = self.configured()
            return self._names.get(address) or "?"
        if not self.dns:
            return address
        name = _DNS_CACHE.get(address, address)
        if width and len(name) > width:
            name = name[: width - 1] + ">"
        return name


# Names found so far (``--watch`` asks for the same few each tick); cleared when full.
_DNS_CACHE: dict[str, str] = {}
_DNS_CACHE_MAX = 1024


def _reverse(address: str) -> None:
    try:
        host, _ = socket.getnameinfo((address, 0), 0)
    except (OSError, UnicodeError):
        host = address
    if len(_DNS_CACHE) >= _DNS_CACHE_MAX:
        _DNS_CACHE.clear()
    _DNS_CACHE[address] = host
