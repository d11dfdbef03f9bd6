#!/usr/bin/env python3
"""One benchmark contender in its own process, driven by ``benchmarks/peers.py``.

    python benchmarks/runner.py CONTENDER ADDRESS [--chronyc PATH]

CONTENDER is ``native`` or ``python`` (this interpreter's pychrony, that backend),
``pychrony2`` (pychrony 2.x, the CFFI binding: run it with the interpreter of the
virtualenv it is installed in) or ``chronyc`` (``chronyc -c -n`` spawned per
query). ADDRESS is chronyd's Unix socket path or ``HOST:PORT``.

The runner prints a JSON hello line, then answers one JSON line per command read
from stdin: ``run OP N`` (N calls of OP: tracking, sources, sourcestats or
snapshot; ``ns`` is their total time), ``rss`` (VmHWM and VmRSS of this
process, KiB) and ``quit``. Standard library only, so any interpreter runs it.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

Op = Callable[[], int]


def memory_kib() -> dict[str, int]:
    """Peak (VmHWM) and current (VmRSS) resident set of this process, KiB.

    Not ``ru_maxrss``: Linux keeps that across ``exec`` from the forking parent.
    """
    out = {"hwm_kib": -1, "rss_kib": -1}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                out["hwm_kib"] = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                out["rss_kib"] = int(line.split()[1])
    return out


def _client_ops(conn: Any) -> dict[str, Op]:
    """Operations of a pychrony-style connection; each returns the records it read."""

    def tracking() -> int:
        conn.get_tracking()
        return 1

    def snapshot() -> int:
        conn.get_tracking()
        return 1 + len(conn.get_sources()) + len(conn.get_source_stats())

    return {
        "tracking": tracking,
        "sources": lambda: len(conn.get_sources()),
        "sourcestats": lambda: len(conn.get_source_stats()),
        "snapshot": snapshot,
    }


def _pychrony(contender: str, address: str) -> tuple[dict[str, Op], dict[str, Any], Any]:
    import pychrony

    info: dict[str, Any] = {"module": pychrony.__file__}
    if contender == "pychrony2":
        from importlib.metadata import version

        info["version"] = version("pychrony")
        if not info["version"].startswith("2."):
            raise RuntimeError(f"pychrony {info['version']} here, not 2.x: wrong interpreter")
        conn = pychrony.ChronyConnection(address)
    else:
        info["version"] = pychrony.__version__
        conn = pychrony.ChronyConnection(address, backend=contender)  # type: ignore[arg-type]
        info["backend"] = conn.backend
        if contender == "native":
            from pychrony import _backend

            if _backend.native is None:
                raise RuntimeError(f"no native extension: {_backend.NATIVE_UNAVAILABLE_REASON}")
            path = _backend.native.libchrony_path()
            info["libchrony"] = path
            if hasattr(ctypes.CDLL(path), "pychrony_double_version"):
                raise RuntimeError(
                    f"the native extension is linked to pychrony's test double ({path}), "
                    "not to a real libchrony"
                )
    conn.__enter__()
    return _client_ops(conn), info, conn


def _chronyc(chronyc: str, address: str) -> tuple[dict[str, Op], dict[str, Any]]:
    if ":" in address and not address.startswith("/"):
        host, _, port = address.rpartition(":")
        where = ["-h", host.strip("[]"), "-p", port]
    else:
        where = ["-h", address]

    def query(command: str) -> int:
        out = subprocess.run(
            [chronyc, "-c", "-n", *where, command],
            capture_output=True,
            check=True,
        ).stdout
        return out.count(b"\n")

    version = subprocess.run([chronyc, "--version"], capture_output=True, text=True).stdout
    ops: dict[str, Op] = {
        "tracking": lambda: query("tracking"),
        "sources": lambda: query("sources"),
        "sourcestats": lambda: query("sourcestats"),
        "snapshot": lambda: query("tracking") + query("sources") + query("sourcestats"),
    }
    return ops, {"version": version.strip(), "path": chronyc}


def _run(op: Op, n: int) -> dict[str, Any]:
    records = 0
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(n):
        records = op()
    return {"n": n, "ns": clock() - start, "records": records}


def serve(ops: dict[str, Op], info: dict[str, Any]) -> None:
    """Answer the driver's commands on stdin until ``quit`` or end of input."""

    def reply(payload: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    reply({"ok": True, "pid": os.getpid(), "python": sys.version.split()[0], **info})
    for line in sys.stdin:
        words = line.split()
        try:
            if not words or words[0] == "quit":
                break
            if words[0] == "rss":
                reply({"ok": True, **memory_kib()})
            elif words[0] == "run" and len(words) == 3 and words[1] in ops:
                reply({"ok": True, **_run(ops[words[1]], int(words[2]))})
            else:
                reply({"ok": False, "error": f"bad command {line.strip()!r}"})
        except Exception as exc:
            reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("contender", choices=["native", "python", "pychrony2", "chronyc"])
    parser.add_argument("address")
    parser.add_argument("--chronyc", default="chronyc")
    args = parser.parse_args(argv)
    try:
        if args.contender == "chronyc":
            ops, info = _chronyc(args.chronyc, args.address)
        else:
            ops, info, _conn = _pychrony(args.contender, args.address)
        ops["snapshot"]()  # open the session, compile layouts: not part of a poll
    except Exception as exc:
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    serve(ops, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
