"""The clients report's paging against chronyds that misbehave: every call ends, in
time, with the clients or a clear pychrony error (the lab tests check real values)."""

from __future__ import annotations

import shutil
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cmdmon_fake import Request, fake_chronyd

from pychrony import ChronyConnection, Client, _clients
from pychrony.exceptions import (
    ChronyDataError,
    ChronyDisabledError,
    ChronyPermissionError,
    ChronyTimeoutError,
)
from pychrony.models import NEVER_SAMPLED, NO_INTERVAL

NEVER = NEVER_SAMPLED
PAGE = struct.Struct(">III")


def log(n: int) -> list[list[object]]:
    return [
        [f"192.0.2.{i + 1}", i, 0, 0, 0, 0, 0, 2, *[NO_INTERVAL] * 3, i, NEVER, NEVER]
        for i in range(n)
    ]


def client(values: list[object]) -> Client:
    return Client(*values)  # type: ignore[arg-type]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pychrony-clients-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def serve(records: list[list[object]]) -> Callable[[Request], list[bytes]]:
    """chronyd's own paging over ``records`` (the codec the fake chronyd uses)."""

    def respond(request: Request) -> list[bytes]:
        return [
            _clients.encode_page_reply(
                records, request.data, command=request.command, sequence=request.sequence
            )
        ]

    return respond


def patched(page: Callable[[bytes, Request], bytes]) -> Callable[[Request], list[bytes]]:
    """A chronyd whose every page reply goes through ``page`` (the honest reply in)."""
    honest = serve(log(20))

    def respond(request: Request) -> list[bytes]:
        return [page(honest(request)[0], request)]

    return respond


def with_page_header(indices: int, following: int, count: int) -> Callable[[bytes, Request], bytes]:
    return lambda reply, request: reply[:28] + PAGE.pack(indices, following, count) + reply[40:]


def with_word(offset: int, value: int) -> Callable[[bytes, Request], bytes]:
    """Replace the reply header's half-word at ``offset`` (6: reply code, 8: status)."""
    return lambda reply, request: reply[:offset] + struct.pack(">H", value) + reply[offset + 2 :]


def test_pages_through_the_log_as_chronyc_does(short_dir, backend):
    with fake_chronyd(short_dir, respond=serve(log(20))) as fake:
        with ChronyConnection(fake.address, backend=backend) as conn:
            assert conn.get_clients() == [client(v) for v in log(20)]
            assert conn.backend_of("clients") == "python"
        firsts = [struct.unpack_from(">IIII", r.data)[:2] for r in fake.requests]
    assert firsts[-3:] == [(0, 8), (8, 8), (16, 8)]


def test_an_empty_log_and_unspecified_addresses(short_dir):
    records = log(3)
    records[1][0] = None  # a record chronyd could not find: chronyc skips it
    with fake_chronyd(short_dir, respond=serve(records)) as fake:
        got = ChronyConnection(fake.address, backend="python").get_clients()
    assert [c.address for c in got] == ["192.0.2.1", "192.0.2.3"]
    with fake_chronyd(short_dir, respond=serve([])) as fake:
        assert ChronyConnection(fake.address, backend="python").get_clients() == []


@pytest.mark.parametrize(
    ("page", "error", "match"),
    [
        (with_page_header(2**32 - 1, 0, 8), ChronyDataError, "does not follow"),
        (with_page_header(20, 8, 9), ChronyDataError, "9 records in a reply of 8"),
        (lambda reply, request: reply[:-4], ChronyDataError, "truncated"),
        (lambda reply, request: reply + bytes(8), ChronyDataError, "truncated or corrupted"),
        (with_word(6, 99), ChronyDataError, "newer than pychrony"),
        (with_word(8, 15), ChronyDisabledError, "noclientlog"),  # STT_INACTIVE
        (with_word(8, 2), ChronyPermissionError, "not authorised"),  # STT_UNAUTH
        (with_word(8, 3), ChronyDataError, "too old"),  # STT_INVALID
    ],
    ids=["stuck", "overfull", "short", "long", "new-layout", "inactive", "unauth", "old"],
)
def test_misbehaving_pages_raise_clear_errors(short_dir, backend, page, error, match):
    with fake_chronyd(short_dir, respond=patched(page)) as fake:
        conn = ChronyConnection(fake.address, backend=backend, timeout=0.5, attempts=2)
        start = time.monotonic()
        with pytest.raises(error, match=match):
            conn.get_clients()
        assert time.monotonic() - start < 1.0 + 0.5
        conn.close()


def test_pages_are_capped(short_dir, monkeypatch):
    """A chronyd claiming an endless table: pychrony stops after MAX_PAGES replies."""
    monkeypatch.setattr(_clients, "MAX_PAGES", 5)

    def endless(reply: bytes, request: Request) -> bytes:
        first = struct.unpack_from(">I", request.data)[0]
        return with_page_header(2**32 - 1, first + 8, 8)(reply, request)

    with fake_chronyd(short_dir, respond=patched(endless)) as fake:
        with pytest.raises(ChronyDataError, match="more than 5 replies"):
            ChronyConnection(fake.address, backend="python").get_clients()
        assert len([r for r in fake.requests if r.command == 68]) == 5


def test_a_silent_chronyd_times_out_within_the_bound(short_dir, backend):
    with fake_chronyd(short_dir, respond=lambda request: []) as fake:
        conn = ChronyConnection(fake.address, backend="python", timeout=0.2, attempts=2)
        start = time.monotonic()
        with pytest.raises(ChronyTimeoutError):
            conn.get_clients()
        assert time.monotonic() - start < 0.4 + 0.3


def test_over_udp_refused_without_a_request(short_dir):
    with fake_chronyd(short_dir, udp=True, respond=serve(log(2))) as fake:
        with pytest.raises(ChronyPermissionError, match="Unix command socket only"):
            ChronyConnection(fake.address, backend="python").get_clients()
        assert not [r for r in fake.requests if r.command == 68]


def test_mock_and_registry_agree_on_the_wire():
    """One record is 60 bytes, a reply 520, a request padded to it (chrony's pktlength.c)."""
    assert _clients.RECORD_SIZE == 60
    assert _clients.PAGE_LENGTH == 520
    assert _clients.REQUEST_LENGTH == 520
    assert _clients.encode_page(16) == struct.pack(">IIII", 16, 8, 0, 0)
