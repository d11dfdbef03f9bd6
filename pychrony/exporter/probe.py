"""Probe mode: ``GET /probe?target=HOST[:PORT]`` reads another chronyd (blackbox_exporter's
pattern: Prometheus sends the target, file_sd and relabeling choose them).

Every probe runs on the event loop through :class:`pychrony.AsyncChronyConnection`
(no thread per probe), bounded by its own deadline: ``--chrony.timeout``, or
Prometheus' ``X-Prometheus-Scrape-Timeout-Seconds`` less a margin when that is
shorter, counted from the request's arrival. Reports that miss it are marked
failed and the probe answers ``chrony_up 0`` on time. Connections are kept per
target in a :class:`ConnectionCache` (least recently used first out, closed when
idle), so a scrape every 15 s reuses one UDP socket per target.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from .._address import parse_address
from ..aio import AsyncChronyConnection
from ..connection import Backend
from ..exceptions import (
    ChronyConnectionError,
    ChronyError,
    ChronyTimeoutError,
)
from .collector import COLLECTORS, build_metrics, plan_reports
from .families import new_family
from .scrape import ATTEMPTS, ScrapeReading

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "DEFAULT_IDLE_CLOSE",
    "ConnectionCache",
    "ProbeError",
    "Prober",
    "parse_collectors",
    "parse_target",
]

#: Connections kept open at most (one per target).
DEFAULT_CACHE_SIZE = 1024
#: Seconds a cached connection may stay unused before it is closed.
DEFAULT_IDLE_CLOSE = 120.0


class ProbeError(ChronyError):
    """A probe request that cannot be served as asked (HTTP 400: bad target or collectors)."""


def parse_target(text: str) -> str:
    """pychrony's address for a probe's ``target``: ``HOST[:PORT]`` (port 323 unless
    given; IPv6 as ``[addr]:port``) or ``unix:///path``."""
    target = text.strip()
    if not target:
        raise ProbeError("Target parameter is missing")
    if target.startswith("unix://"):
        path = target[len("unix://") :]
        if not path.startswith("/"):
            raise ProbeError(f"Invalid target {text!r}: unix:// needs an absolute path")
        return path
    if target.startswith("/") or "://" in target:
        raise ProbeError(f"Invalid target {text!r}: expected HOST[:PORT] or unix:///path")
    try:
        parse_address(target)
    except ChronyError as exc:
        raise ProbeError(f"Invalid target {text!r}: {exc}") from None
    return target


def parse_collectors(text: str | None, default: Sequence[str]) -> tuple[str, ...]:
    """The collectors a probe's ``collectors=a,b`` asks for (``default`` when absent)."""
    if text is None or not text.strip():
        return tuple(default)
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in COLLECTORS]
    if unknown:
        raise ProbeError(f"Unknown collectors {unknown}; known: {', '.join(COLLECTORS)}")
    return names


@dataclass
class _Entry:
    conn: AsyncChronyConnection
    last_used: float
    users: int = 0
    proven: bool = False  # answered once: a failure now may be a restarted chronyd


class ConnectionCache:
    """Open connections by target address, at most ``size``; one unused for
    ``idle_close`` seconds is closed by :meth:`sweep`.

    A new target beyond ``size`` evicts the least recently used idle entry; when
    every entry is in use the new connection serves its probe and is closed
    after it, so the cache never holds more than ``size``.
    """

    def __init__(
        self,
        connect: Callable[[str], AsyncChronyConnection],
        *,
        size: int = DEFAULT_CACHE_SIZE,
        idle_close: float = DEFAULT_IDLE_CLOSE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 1:
            raise ChronyError(f"the connection cache needs a size of at least 1, not {size!r}")
        if not idle_close > 0:
            raise ChronyError(
                f"idle_close must be a positive number of seconds, not {idle_close!r}"
            )
        self._connect = connect
        self.size = size
        self.idle_close = float(idle_close)
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, address: object) -> bool:
        return address in self._entries

    @contextlib.contextmanager
    def lease(self, address: str) -> Iterator[_Entry]:
        """The connection to ``address`` (opened on first use), marked in use meanwhile.
        Raises ChronyError when the address is not one pychrony can connect to."""
        entry = self._entries.get(address)
        cached = True
        if entry is None:
            entry = _Entry(self._connect(address), self._clock())
            cached = self._make_room()
            if cached:
                self._entries[address] = entry
        if cached:
            self._entries.move_to_end(address)
        entry.users += 1
        try:
            yield entry
        finally:
            entry.users -= 1
            entry.last_used = self._clock()
            if not cached:
                entry.conn.close()

    def discard(self, address: str, entry: _Entry) -> None:
        """Close ``entry`` and forget it (the next lease opens a new connection)."""
        entry.conn.close()
        if self._entries.get(address) is entry:
            del self._entries[address]

    def sweep(self) -> int:
        """Close the connections unused for ``idle_close`` seconds; how many."""
        now = self._clock()
        stale = [
            address
            for address, entry in self._entries.items()
            if entry.users == 0 and now - entry.last_used >= self.idle_close
        ]
        for address in stale:
            self._entries.pop(address).conn.close()
        return len(stale)

    def close(self) -> None:
        """Close every connection."""
        entries, self._entries = list(self._entries.values()), OrderedDict()
        for entry in entries:
            entry.conn.close()

    def _make_room(self) -> bool:
        if len(self._entries) < self.size:
            return True
        for address, entry in self._entries.items():  # least recently used first
            if entry.users == 0:
                del self._entries[address]
                entry.conn.close()
                return True
        return False


class _Families(Collector):
    """The families of one probe, for the shared encoder."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


class Prober:
    """Probes chronyd targets on the running event loop.

    ``deadline``: seconds a probe may take at most (``--chrony.timeout``); each
    connection waits ``deadline / 3`` per reply, 3 attempts. ``collectors``: those
    a probe reads unless its ``collectors=`` says otherwise. ``backend`` and
    ``source_names`` as the exporter's.
    """

    def __init__(
        self,
        *,
        deadline: float,
        collectors: Sequence[str],
        backend: Backend = "auto",
        source_names: bool = True,
        cache_size: int = DEFAULT_CACHE_SIZE,
        idle_close: float = DEFAULT_IDLE_CLOSE,
    ) -> None:
        if not deadline > 0:
            raise ChronyError(f"deadline must be a positive number of seconds, not {deadline!r}")
        self.deadline = float(deadline)
        self.collectors = tuple(collectors)
        plan_reports(self.collectors)  # unknown names fail now, not at the first probe
        self.source_names = source_names
        # Checks the backend now (a connection opens nothing until used).
        unused = AsyncChronyConnection(backend=backend)
        self.backend = unused.backend
        unused.close()
        self.connections = ConnectionCache(
            lambda address: AsyncChronyConnection(
                address, timeout=self.deadline / ATTEMPTS, attempts=ATTEMPTS, backend=backend
            ),
            size=cache_size,
            idle_close=idle_close,
        )

    async def probe(
        self,
        target: str,
        collectors: Sequence[str] | None = None,
        *,
        arrived: float | None = None,
        timeout: float | None = None,
    ) -> Collector:
        """The metrics of one probe of ``target`` (a probe's ``target=``), read by
        ``arrived + min(deadline, timeout)``. Raises :class:`ProbeError` for a target
        or collectors that cannot be probed; never for chronyd's failures."""
        start = time.monotonic() if arrived is None else arrived
        seconds = self.deadline if timeout is None else min(self.deadline, timeout)
        chosen = self.collectors if collectors is None else tuple(collectors)
        try:
            reports = plan_reports(chosen, self.source_names)
        except ChronyError as exc:
            raise ProbeError(str(exc)) from None
        reading = await self._read(parse_target(target), reports, start + seconds)
        families = list(build_metrics(reading, chosen, self.source_names))
        duration = new_family("chrony_probe_duration_seconds")
        duration.add_metric([], time.monotonic() - start)
        families.append(duration)
        return _Families(families)

    def sweep(self) -> int:
        """Close connections idle too long (the app calls this periodically)."""
        return self.connections.sweep()

    def close(self) -> None:
        """Close every cached connection."""
        self.connections.close()

    async def _read(self, address: str, reports: Sequence[str], until: float) -> ScrapeReading:
        reading = ScrapeReading()
        retried = False
        pending = list(reports)
        while pending:
            with self.connections.lease(address) as entry:
                failed = await _read_into(entry.conn, pending, until, reading)
                if failed is None:
                    entry.proven = True
                    return reading
                proven = entry.proven
                self.connections.discard(address, entry)
            restarted = proven and not isinstance(failed, ChronyTimeoutError)
            if retried or not restarted or time.monotonic() >= until:
                _fail_rest(reading, pending, failed)
                return reading
            # A connection that used to work failed at once: chronyd probably
            # restarted; one new connection, within the same deadline.
            retried = True
        return reading


async def _read_into(
    conn: AsyncChronyConnection, pending: list[str], until: float, reading: ScrapeReading
) -> ChronyConnectionError | None:
    """Read ``pending`` reports in order into ``reading`` (removing each read or
    refused one) by ``until``; the connection failure that ended it early, if any."""
    while pending:
        name = pending[0]
        left = until - time.monotonic()
        if left <= 0:
            return ChronyTimeoutError("chronyd did not answer within the probe's deadline")
        try:
            reading.values[name] = await asyncio.wait_for(conn.report(name), left)
        except asyncio.TimeoutError:
            return ChronyTimeoutError("chronyd did not answer within the probe's deadline")
        except ChronyConnectionError as exc:
            return exc
        except ChronyError as exc:  # refused or undecodable: this report only
            reading.errors[name] = exc
        pending.pop(0)
    return None


def _fail_rest(reading: ScrapeReading, pending: Sequence[str], failure: ChronyError) -> None:
    for name in pending:
        reading.errors.setdefault(name, failure)
    if not reading.values:
        reading.error = failure
