"""Fault matrix, file descriptors: a process limited to 64 descriptors fails to open
chronyd 10,000 times for each of a missing socket, a socket nobody listens on and a
refused UDP port, without leaking one, then still reads a real chronyd.

Both backends (native: marker real_libchrony, ci/build_native_real.sh's build). The
failed connections are dropped without close(), as a careless agent would.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import socket
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

import pychrony

pytestmark = pytest.mark.integration

FAILURES = 10_000
LIMIT = 64

CHILD = r"""
import json, os, resource, sys
limit, failures = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
from pychrony import ChronyConnection
from pychrony.exceptions import ChronyConnectionError

backend, good_unix, good_udp, *bad = sys.argv[3:]

def open_fds():
    return len(os.listdir("/proc/self/fd"))

def fail(address):
    try:
        ChronyConnection(address, timeout=0.05, attempts=1, backend=backend).get_tracking()
    except ChronyConnectionError as exc:
        return exc.error_code
    raise SystemExit(f"{address} answered")

for address in bad:  # warm up: imports, caches
    fail(address)
before = open_fds()
codes = {address: sorted({fail(address) for _ in range(failures)}) for address in bad}
after = open_fds()
stratum = [ChronyConnection(a, backend=backend).get_tracking().stratum
           for a in (good_unix, good_udp)]
print(json.dumps({"before": before, "after": after, "codes": codes, "stratum": stratum}))
"""


def test_ten_thousand_failed_opens_leak_no_descriptor(lab, backend, tmp_path):
    stale = os.path.join(os.path.dirname(lab.socket_path), "stale.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as dead:
        dead.bind(stale)  # the file stays after close(): connecting is refused
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        refused = f"127.0.0.1:{probe.getsockname()[1]}"  # nobody bound after this
    missing = os.path.join(os.path.dirname(lab.socket_path), "missing.sock")
    bad = [missing, stale, refused]
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(LIMIT),
                str(FAILURES),
                backend,
                lab.socket_path,
                lab.udp_address,
                *bad,
            ],
            capture_output=True,
            text=True,
            timeout=240,
            env=dict(os.environ, PYTHONPATH=str(Path(pychrony.__file__).parent.parent)),
            check=False,
        )
    finally:
        os.unlink(stale)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["after"] == report["before"]  # not one descriptor leaked
    assert report["stratum"] == [9, 9]  # and real reads still work, Unix and UDP
    enoent, refused_code, timed_out = -errno.ENOENT, -errno.ECONNREFUSED, -errno.ETIMEDOUT
    assert report["codes"][missing] == [enoent]
    assert report["codes"][stale] == [refused_code]
    # The refused UDP port: errno from the python socket, libchrony's RECV_FAILED (6)
    # for native; the kernel rate-limits its "port unreachable" replies, so some
    # requests wait for the timeout instead.
    udp_refused = refused_code if backend == "python" else 6
    assert udp_refused in report["codes"][refused]
    assert set(report["codes"][refused]) <= {udp_refused, timed_out}
    assert sorted(os.listdir(os.path.dirname(lab.socket_path))) == ["chronyd.sock"]


def test_dropped_connection_is_freed_at_once(lab, backend):
    """No reference cycle keeps an unclosed connection (and its socket) alive until
    the cyclic garbage collector runs: refcounting frees it when dropped."""
    gc.disable()
    try:
        before = len(os.listdir("/proc/self/fd"))
        conn = pychrony.ChronyConnection(lab.socket_path, backend=backend)
        assert conn.get_tracking().stratum == 9
        assert len(os.listdir("/proc/self/fd")) > before  # its socket (and more)
        dropped = weakref.ref(conn)
        del conn
        assert dropped() is None
        assert len(os.listdir("/proc/self/fd")) == before
        assert sorted(os.listdir(os.path.dirname(lab.socket_path))) == ["chronyd.sock"]
    finally:
        gc.enable()
