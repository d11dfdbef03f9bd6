"""A connection inherited by a forked child (gunicorn/uWSGI preload, Celery prefork,
multiprocessing), against a real chronyd, for both backends.

The child opens a socket of its own on its first call (fresh sequence numbers,
its own reply socket), never removes or changes the parent's, and removes its
own when it is done; the parent's connection keeps working. README, "What
pychrony survives", sums them up.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pychrony
from pychrony import ChronyConnection
from pychrony.lab import Lab

pytestmark = pytest.mark.integration

#: Reads each process makes at once in the concurrency tests.
ROUNDS = 150


def socket_dir_entries(lab: Lab) -> list[str]:
    return sorted(os.listdir(os.path.dirname(lab.socket_path)))


def in_child(work: Callable[[], Any]) -> tuple[int, Any]:
    """Run ``work`` in a forked child: its exit status and what it returned (or the
    repr of what it raised)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 0
        try:
            try:
                result = {"value": work()}
            except BaseException as exc:
                result, status = {"error": f"{type(exc).__name__}: {exc}"}, 1
            os.write(write_end, json.dumps(result).encode())
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status), json.loads(data or b"{}")


def summary(conn: ChronyConnection) -> list[Any]:
    """What the lab always reports: its stratum, sources and their addresses."""
    sources = conn.get_sources()
    return [conn.get_tracking().stratum, sorted(s.address for s in sources)]


@pytest.fixture
def parent_conn(lab: Lab, backend: str, transport: str) -> Iterator[ChronyConnection]:
    address = lab.socket_path if transport == "unix" else lab.udp_address
    conn = ChronyConnection(address, timeout=1.0, attempts=3, backend=backend)
    yield conn
    conn.close()
    assert socket_dir_entries(lab) == ["chronyd.sock"]  # nothing left by anyone


@pytest.mark.parametrize("ending", ["close", "drop"])
def test_child_reads_with_its_own_socket_and_leaves_the_parents(
    lab, address, backend, transport, ending
):
    conn: ChronyConnection | None = ChronyConnection(address, timeout=1.0, backend=backend)
    assert conn is not None
    expected = summary(conn)  # opened in the parent before the fork
    before = socket_dir_entries(lab)

    def child() -> Any:
        nonlocal conn
        assert conn is not None
        got = summary(conn)
        during = socket_dir_entries(lab)
        if ending == "close":
            conn.close()
        else:
            conn = None  # its last reference: freed at once (no reference cycle)
        return got, during, socket_dir_entries(lab)

    status, result = in_child(child)
    assert status == 0, result
    got, during, after = result["value"]
    assert got == expected
    if transport == "unix":  # the child's own reply sockets beside the parent's
        assert set(before) < set(during)
    else:
        assert during == before
    assert after == before  # the child removed its own, and only its own
    assert socket_dir_entries(lab) == before
    assert summary(conn) == expected  # the parent's socket is untouched
    conn.close()
    assert socket_dir_entries(lab) == ["chronyd.sock"]


def test_child_leaving_it_to_interpreter_shutdown_removes_only_its_own(lab, backend):
    """A script forks; the child reads and exits normally (no close): at interpreter
    shutdown it removes its own reply socket and nothing of the parent's."""
    script = textwrap.dedent(
        f"""
        import os, sys
        from pychrony import ChronyConnection
        conn = ChronyConnection({lab.socket_path!r}, timeout=1.0, backend={backend!r})
        stratum = conn.get_tracking().stratum
        pid = os.fork()
        if pid == 0:
            assert conn.get_tracking().stratum == stratum
            sys.exit(0)  # interpreter shutdown, the connection still open
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        print(len(os.listdir(os.path.dirname({lab.socket_path!r}))))
        assert conn.get_tracking().stratum == stratum
        """
    )
    root = os.path.dirname(os.path.dirname(pychrony.__file__))
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": root},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2"]  # chronyd's socket and the parent's reply socket
    assert socket_dir_entries(lab) == ["chronyd.sock"]


def test_parent_and_child_reading_at_once_each_get_their_own_replies(parent_conn):
    """One connection used by both processes at the same time: with a shared socket
    (and, natively, the same sequence numbers) each took the other's replies."""
    expected = summary(parent_conn)

    def reads() -> list[Any]:
        return [summary(parent_conn) for _ in range(ROUNDS)]

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            ok = all(r == expected for r in reads())
            parent_conn.close()  # os._exit() below would leave its reply socket
            os.write(write_end, b"ok" if ok else b"wrong")
        except BaseException as exc:
            os.write(write_end, repr(exc).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    mine = reads()
    with os.fdopen(read_end, "rb") as pipe:
        theirs = pipe.read()
    os.waitpid(pid, 0)
    assert theirs == b"ok"
    assert all(r == expected for r in mine)


_pool_conn: ChronyConnection | None = None  # inherited by the pool's workers


def _pool_task(_: int) -> list[Any]:
    assert _pool_conn is not None
    return [os.getpid(), *summary(_pool_conn)]


def test_fork_pool_workers_share_an_inherited_connection(lab, parent_conn):
    global _pool_conn
    expected = summary(parent_conn)
    before = socket_dir_entries(lab)
    _pool_conn = parent_conn
    try:
        pool = multiprocessing.get_context("fork").Pool(4)
        try:
            pending = pool.map_async(_pool_task, range(200), chunksize=5)
            while not pending.ready():  # the parent keeps polling meanwhile
                assert summary(parent_conn) == expected
            results = pending.get(timeout=60)
        finally:
            pool.close()
            pool.join()  # workers exit normally: their reply sockets are removed
    finally:
        _pool_conn = None
    assert all(r[1:] == expected for r in results)
    assert len({r[0] for r in results}) > 1  # several workers took part
    assert summary(parent_conn) == expected
    assert socket_dir_entries(lab) == before  # every worker removed its own
