"""A scripted chronyd stand-in for the pure-Python session's unit tests.

It listens on a real Unix datagram socket (in a 0700 directory, like chronyd's)
or on a UDP port, in a thread, and answers each request with whatever its
``respond`` callable returns: well-formed replies built from the registry by
default, or delays, silence, garbage and wrong sequence numbers on demand.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pychrony import registry as reg
from pychrony._clients import encode_page_reply
from pychrony.models import SourceMode
from pychrony.protocol import wire
from pychrony.registry import Report, Response, Wire

_HEADER = struct.Struct(">BBBBHHIII")


@dataclass(frozen=True)
class Request:
    """A request as the fake received it."""

    command: int
    attempt: int
    sequence: int
    data: bytes
    length: int
    at: float

    @property
    def index(self) -> int:
        return int.from_bytes(self.data[:4], "big")

    @property
    def address(self) -> str | None:
        raw = self.data[:20]
        return wire.decode_address(raw[:16], int.from_bytes(raw[16:18], "big"))

    def reply(self, response: Response, values: list[Any], status: int = 0) -> bytes:
        return wire.encode_reply(
            response, values, command=self.command, sequence=self.sequence, status=status
        )

    def error(self, status: int) -> bytes:
        return wire.encode_error_reply(self.command, self.sequence, status)

    def raw_reply(self, code: int, body: bytes, status: int = 0) -> bytes:
        header = wire.REPLY_HEADER.pack(
            6, 2, 0, 0, self.command, code, status, 0, 0, 0, self.sequence, 0, 0
        )
        return header + body


def parse_request(packet: bytes) -> Request:
    version, pkt_type, _, _, command, attempt, sequence, _, _ = _HEADER.unpack_from(packet)
    assert (version, pkt_type) == (6, 1), packet[:2]
    return Request(command, attempt, sequence, packet[20:], len(packet), time.monotonic())


def record_values(report: Report, response: Response, index: int = 0, **given: Any) -> list[Any]:
    """Plausible values for every field of ``response``; ``given`` overrides by field name."""
    values: list[Any] = []
    for f in response.fields:
        if f.name in given:
            values.append(given[f.name])
        elif f.wire is Wire.FLOAT:
            values.append(0.125 * (index + 1))
        elif f.wire is Wire.TIMESPEC:
            values.append((1_700_000_000 + index, 500))
        elif f.wire in (Wire.ADDRESS, Wire.ADDRESS_OR_REFID):
            values.append(f"192.0.2.{index + 1}")
        elif f.enum is not None:
            values.append(next(iter(f.enum)).value)  # type: ignore[attr-defined]
        elif f.name == "stratum":
            values.append(2)
        else:
            values.append(index)
    return values


@dataclass
class Sources:
    """What the default responder serves: ``count`` sources, some of them refclocks."""

    count: int = 3
    refclocks: frozenset[int] = frozenset()
    names: bool = True
    unresolved: frozenset[int] = frozenset()  # named sources not resolved yet: ID addresses
    lie: int = 0  # added to the count and to every record's index-derived numbers

    def address(self, index: int) -> str | None:
        if index in self.refclocks:
            return None
        return f"ID#{index:010d}" if index in self.unresolved else f"192.0.2.{index + 1}"


def default_responder(sources: Sources) -> Callable[[Request], list[bytes]]:
    """Replies as a chronyd 4.4+ with ``sources`` would send them."""
    by_command = {r.record_request: r for r in reg.REPORTS}

    def respond(request: Request) -> list[bytes]:
        if request.command == reg.COUNT_REQUEST:
            return [request.reply(reg.COUNT_RESPONSE, [sources.count + sources.lie])]
        if request.command == reg.SOURCE_NAME_REQUEST:
            if not sources.names:
                return [request.error(3)]
            name = f"ntp-{request.address}.example.org".encode().ljust(256, b"\0")
            return [request.raw_reply(reg.SOURCE_NAME_RESPONSE, name)]
        if request.command == reg.CLIENTS.record_request:
            return [_clients_page(request, sources)]
        report = by_command.get(request.command)
        if report is None:
            return [request.error(3)]
        response = report.latest
        index = 0
        if report.record_arg is reg.RecordArg.INDEX:
            index = request.index
            if index >= sources.count:
                return [request.error(4)]
        elif report.record_arg is reg.RecordArg.ADDRESS:
            address = request.address
            matches = [i for i in range(sources.count) if sources.address(i) == address]
            if not matches:
                return [request.error(4)]
            index = matches[0]
        values = record_values(report, response, index + sources.lie)
        for position, f in enumerate(response.fields):
            if f.name in ("address", "remote address"):
                values[position] = sources.address(index)
        if report.name == "sources" and index in sources.refclocks:
            values[0] = 0x47505300  # "GPS"
            values[[f.name for f in response.fields].index("mode")] = SourceMode.REFCLOCK.value
        elif report.name in ("sourcestats", "selectdata") and index in sources.refclocks:
            values[1] = None
            values[0] = 0x47505300
        return [request.reply(response, values)]

    return respond


def _clients_page(request: Request, sources: Sources) -> bytes:
    """chronyd's client log: one client per source, 198.51.100.(i+1), i NTP hits."""
    never = 0xFFFFFFFF
    log = [
        [f"198.51.100.{i + 1}", i, 0, 2 * i, 0, 0, 0, 4, 127, 127, 127, i, never, never]
        for i in range(sources.count + sources.lie)
    ]
    return encode_page_reply(log, request.data, command=request.command, sequence=request.sequence)


#: How a hostile peer answers, given the genuine reply and a forged one (other
#: values): each mode's datagrams, sent instead of (or before) the genuine reply.
HOSTILE_MODES: dict[str, Callable[[bytes, bytes, random.Random], list[bytes]]] = {
    # our sequence and command, a valid header, the body cut short
    "truncated": lambda good, forged, rng: [good[:-4]],
    # shorter than a reply header
    "truncated-header": lambda good, forged, rng: [good[:20]],
    # the genuine reply with zeros after it: beyond both backends' receive buffers,
    "oversized": lambda good, forged, rng: [good + bytes(4096)],
    # ... and within them
    "padded": lambda good, forged, rng: [good + bytes(64)],
    # forged values under another sequence number, command, version, packet type
    "wrong-sequence": lambda good, forged, rng: [_patch(forged, 16, forged[16] ^ 0x5A)],
    "wrong-command": lambda good, forged, rng: [_patch(forged, 5, forged[5] ^ 0x01)],
    "wrong-version": lambda good, forged, rng: [_patch(forged, 0, 7)],
    "not-a-reply": lambda good, forged, rng: [_patch(forged, 1, 1)],
    # noise of random lengths
    "random": lambda good, forged, rng: [rng.randbytes(rng.randrange(1200)) for _ in range(3)],
    # the genuine header (our sequence) over a random body of the right length
    "random-body": lambda good, forged, rng: [good[:28] + rng.randbytes(len(good) - 28)],
}


def _patch(datagram: bytes, offset: int, value: int) -> bytes:
    out = bytearray(datagram)
    out[offset] = value
    return bytes(out)


class HostileResponder:
    """Answers each request in ``mode`` (see HOSTILE_MODES); ``honest``, ``then_genuine``
    (the genuine reply follows the hostile datagrams) can be switched between calls.

    Forged replies carry the values of ``Sources(lie=7)``: a client accepting one
    returns numbers that differ from the genuine ones.
    """

    def __init__(self, mode: str, sources: Sources | None = None, seed: int = 0) -> None:
        sources = sources or Sources()
        self.mode = HOSTILE_MODES[mode]
        self.genuine = default_responder(sources)
        self.forged = default_responder(dataclasses.replace(sources, lie=7))
        self.rng = random.Random(seed)
        self.honest = False
        self.then_genuine = False

    def __call__(self, request: Request) -> list[bytes]:
        good = self.genuine(request)
        if self.honest:
            return good
        hostile = self.mode(good[0], self.forged(request)[0], self.rng)
        return hostile + good if self.then_genuine else hostile


@dataclass
class FakeChronyd:
    """A thread answering command requests on a Unix socket (``path``) or UDP (``udp``)."""

    directory: Path
    udp: bool = False
    sources: Sources = field(default_factory=Sources)
    respond: Callable[[Request], list[bytes]] | None = None
    requests: list[Request] = field(default_factory=list)
    datagrams: list[bytes] = field(default_factory=list)  # every one received, as is

    def __post_init__(self) -> None:
        if self.respond is None:
            self.respond = default_responder(self.sources)
        if self.udp:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
            self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        else:
            run = self.directory / "run"
            run.mkdir(mode=0o700, exist_ok=True)
            self.address = str(run / "chronyd.sock")
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind(self.address)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def path(self) -> str:
        return self.address

    def _serve(self) -> None:
        while True:
            ready, _, _ = select.select([self.sock, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                packet, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            self.datagrams.append(packet)
            request = parse_request(packet)
            self.requests.append(request)
            assert self.respond is not None
            for reply in self.respond(request):
                with contextlib.suppress(OSError):
                    self.sock.sendto(reply, peer)

    def stop(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(5)
        self.sock.close()
        os.close(self._stop_r)
        os.close(self._stop_w)
        if not self.udp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address)


@contextlib.contextmanager
def fake_chronyd(directory: Path, **kwargs: Any) -> Iterator[FakeChronyd]:
    fake = FakeChronyd(directory, **kwargs)
    try:
        yield fake
    finally:
        fake.stop()
