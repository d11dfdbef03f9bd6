"""Fault matrix, hostile peer: a fake chronyd (Unix socket or UDP) answering with
truncated, oversized, wrong-sequence, wrong-version, wrong-command and random replies.

Both backends (the native one needs a real libchrony: marker real_libchrony, run by
ci/test.sh from ci/build_native_real.sh's build). Whatever the peer sends, a call
returns the genuine values or raises a pychrony exception, within
``timeout * attempts``, and the same connection reads genuine values again once
the peer is honest. Forged replies carry other values (``Sources(lie=7)``), so
accepting one would show. What each backend does with each mode is pinned below
(README, "What pychrony survives").
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cmdmon_fake import (
    HOSTILE_MODES,
    FakeChronyd,
    HostileResponder,
    Request,
    Sources,
    default_responder,
    fake_chronyd,
)

from pychrony import ChronyConnection
from pychrony import registry as reg
from pychrony.exceptions import ChronyDataError, ChronyError, ChronyTimeoutError

TIMEOUT, ATTEMPTS = 0.05, 2
SLACK = 0.5  # seconds a loaded CI machine may add to a bounded wait
GENUINE = "genuine"

#: Datagrams both backends ignore (not an answer to the request in flight).
IGNORED = {"truncated-header", "wrong-sequence", "wrong-command", "not-a-reply", "random"}
#: What a call gets when the peer sends only the hostile datagrams, where not ignored.
ALONE: dict[tuple[str, str], Any] = {
    ("truncated", "python"): ChronyDataError,  # our sequence, a short body: malformed
    ("truncated", "native"): ChronyDataError,  # libchrony: CHRONY_INVALID_RESPONSE
    ("oversized", "python"): ChronyTimeoutError,  # fills the receive buffer: not a reply
    ("oversized", "native"): GENUINE,  # libchrony reads its 1024-byte buffer's worth
    ("padded", "python"): ChronyDataError,  # not the layout's length: malformed
    ("padded", "native"): GENUINE,  # libchrony ignores bytes after the fields
    ("wrong-version", "python"): ChronyDataError,  # "chronyd too new"
    ("wrong-version", "native"): ChronyTimeoutError,  # libchrony ignores it
}


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory for the fake's socket: the libchrony bundled in pychrony 2.0.3's
    wheel fails with EINVAL on server socket paths of 76 bytes or more, which
    pytest's tmp_path gives."""
    path = Path(tempfile.mkdtemp(prefix="pychrony-hostile-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def expected(mode: str, backend: str, then_genuine: bool) -> Any:
    outcome = ChronyTimeoutError if mode in IGNORED else ALONE[mode, backend]
    return GENUINE if then_genuine and outcome is ChronyTimeoutError else outcome


def outcome(conn: ChronyConnection, report: str, genuine: Any) -> Any:
    """GENUINE, or the pychrony exception class; a wrong value fails the test."""
    start = time.monotonic()
    try:
        value = conn.report(report)
    except ChronyError as exc:
        result: Any = type(exc)
    else:
        assert value == genuine, f"a hostile reply's values were accepted: {value!r}"
        result = GENUINE
    assert time.monotonic() - start < TIMEOUT * ATTEMPTS + SLACK
    return result


def read_genuine(fake: FakeChronyd, backend: str, report: str) -> Any:
    with ChronyConnection(fake.address, timeout=2.0, backend=backend) as conn:
        return conn.report(report)


@pytest.mark.parametrize("report", ["tracking", "sources"])
@pytest.mark.parametrize("mode", [m for m in HOSTILE_MODES if m != "random-body"])
@pytest.mark.parametrize("transport", ["unix", "udp"])
def test_hostile_replies_never_pass_for_values(short_dir, backend, transport, mode, report):
    responder = HostileResponder(mode)
    responder.honest = True
    with fake_chronyd(short_dir, udp=transport == "udp", respond=responder) as fake:
        genuine = read_genuine(fake, backend, report)
        conn = ChronyConnection(fake.address, timeout=TIMEOUT, attempts=ATTEMPTS, backend=backend)
        responder.honest, responder.then_genuine = False, True
        assert outcome(conn, report, genuine) == expected(mode, backend, then_genuine=True)
        responder.then_genuine = False
        assert outcome(conn, report, genuine) == expected(mode, backend, then_genuine=False)
        responder.honest = True
        assert outcome(conn, report, genuine) == GENUINE  # the same connection recovers
        conn.close()


@pytest.mark.parametrize("report", ["tracking", "sources"])
def test_random_bodies_under_our_header_give_data_errors_or_checked_values(
    short_dir, backend, report
):
    """200 replies with our sequence number and a random body: each is rejected with a
    pychrony exception or decoded within the registry's bounds (no crash, no hang)."""
    responder = HostileResponder("random-body", seed=8)
    responder.honest = True
    with fake_chronyd(short_dir, respond=responder) as fake:
        genuine = read_genuine(fake, backend, report)
        conn = ChronyConnection(fake.address, timeout=TIMEOUT, attempts=ATTEMPTS, backend=backend)
        responder.honest = False
        errors = 0
        for _ in range(200):
            start = time.monotonic()
            try:
                conn.report(report)
            except ChronyTimeoutError:
                pytest.fail("the peer answered at once, yet the call timed out")
            except ChronyError:
                errors += 1
            assert time.monotonic() - start < TIMEOUT * ATTEMPTS + SLACK
        assert errors > 0  # random bodies do get rejected
        responder.honest = True
        assert outcome(conn, report, genuine) == GENUINE
        conn.close()


def test_absurd_record_count_is_a_data_error_not_an_endless_read(short_dir, backend):
    honest = default_responder(Sources())

    def respond(request: Request) -> list[bytes]:
        if request.command == reg.COUNT_REQUEST:  # 2**31 - 1 sources, then answers them all
            return [request.reply(reg.COUNT_RESPONSE, [2**31 - 1])]
        return honest(request)

    with (
        fake_chronyd(short_dir, respond=respond) as fake,
        ChronyConnection(fake.address, timeout=TIMEOUT, backend=backend) as conn,
    ):
        start = time.monotonic()
        with pytest.raises(ChronyDataError, match="2147483647 records"):
            conn.get_sources()
        assert time.monotonic() - start < SLACK
        assert conn.get_tracking().stratum == 2
