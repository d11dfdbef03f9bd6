"""Arguments at the edges are refused once, when a connection is created, with a
ChronyError that names the accepted range; never an OverflowError, a bare
ValueError or a UnicodeEncodeError at every call (README, "What pychrony survives")."""

from __future__ import annotations

import asyncio

import pytest

from pychrony import (
    AsyncChronyConnection,
    ChronyConnection,
    ChronyConnectionError,
    ChronyConnectionPool,
    ChronyError,
)
from pychrony._arguments import MAX_ATTEMPTS, MAX_SECONDS

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "timeout", [0, -1, float("nan"), float("inf"), 24.9 * 86400, 10**20, True, "1", None]
)
def test_timeouts_out_of_range(backend, timeout):
    with pytest.raises(ChronyError, match=r"timeout must be a number of seconds above 0 up to"):
        ChronyConnection("/run/x.sock", timeout=timeout, backend=backend)
    with pytest.raises(ChronyError, match=r"timeout must be .* up to 2073600 \(24 days\)"):
        ChronyConnectionPool("/run/x.sock", timeout=timeout, backend=backend)
    with pytest.raises(ChronyError, match=r"timeout must be"):
        AsyncChronyConnection("/run/x.sock", timeout=timeout, backend=backend)


@pytest.mark.parametrize("attempts", [0, -1, MAX_ATTEMPTS + 1, 2**63, 1.5, True, None])
def test_attempts_out_of_range(backend, attempts):
    with pytest.raises(ChronyError, match=rf"attempts must be an integer from 1 to {MAX_ATTEMPTS}"):
        ChronyConnection("/run/x.sock", attempts=attempts, backend=backend)


@pytest.mark.parametrize("wait", [-1, float("nan"), 1e10, 10**20, True])
def test_pool_waits_out_of_range(backend, wait):
    with pytest.raises(ChronyError, match=r"wait must be a number of seconds from 0 up to"):
        ChronyConnectionPool("/run/x.sock", wait=wait, backend=backend)


def test_the_largest_accepted_values_work_on_a_real_call(lab, backend):
    """At the limits: no OverflowError in poll(), Event.wait() or C ints."""
    with ChronyConnection(
        lab.socket_path, timeout=MAX_SECONDS, attempts=MAX_ATTEMPTS, backend=backend
    ) as conn:
        assert conn.get_tracking().stratum == 9
        assert len(conn.get_sources()) == 5
    with ChronyConnectionPool(
        lab.socket_path, timeout=MAX_SECONDS, wait=MAX_SECONDS, backend=backend
    ) as pool:
        assert pool.get_tracking().stratum == 9

    async def main() -> int:
        conn = AsyncChronyConnection(lab.socket_path, timeout=MAX_SECONDS, backend=backend)
        try:
            return (await conn.get_tracking()).stratum
        finally:
            conn.close()

    assert asyncio.run(main()) == 9


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1:²",  # a Unicode digit: str.isdigit() is True, int() refuses it
        "127.0.0.1:٣٢٣",  # Arabic-Indic digits
        "[::1]:\uff13\uff12\uff13",  # fullwidth digits
        "127.0.0.1:+323",
        "127.0.0.1:0",
        "127.0.0.1:65536",
    ],
)
def test_ports_take_ascii_digits_only(backend, address):
    with pytest.raises(ChronyConnectionError, match="expected 1 to 65535 in ASCII digits"):
        ChronyConnection(address, backend=backend)


@pytest.mark.parametrize("address", ["/run/chrony/\ud800.sock", "/run/chrony/a\0b.sock", b"/x", 5])
def test_unusable_paths_and_types(backend, address):
    with pytest.raises(ChronyConnectionError, match="Invalid chronyd address|must be a str"):
        ChronyConnection(address, backend=backend)


@pytest.mark.real_libchrony
def test_native_open_session_checks_the_same():
    from pychrony import _backend

    native = _backend.native
    with pytest.raises(ChronyError, match="attempts must be an integer from 1 to"):
        native.open_session("/run/x.sock", 1.0, 2**63)
    with pytest.raises(ChronyError, match="timeout must be"):
        native.open_session("/run/x.sock", 10**20, 3)
    with pytest.raises(ChronyConnectionError, match="Invalid chronyd address"):
        native.open_session("/run/\udcff\ud800.sock", 1.0, 3)
