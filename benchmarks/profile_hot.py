#!/usr/bin/env python3
"""A hot loop of one pychrony call, for profilers (py-spy, callgrind, perf).

    python ci/chrony_lab.py run --sources 64 -- \\
        python benchmarks/profile_hot.py --backend python --op sources --calls 2000

opens one connection to the lab's chronyd (``PYCHRONY_LAB_SOCKET``, or
``--address``), makes ``--warmup`` calls and then ``--calls`` calls of ``--op``.
Instructions per call, repeatable to a fraction of a percent: run it under
``valgrind --tool=callgrind`` twice, with ``--calls N`` and ``--calls 0``, and
divide the difference of the totals by N (``benchmarks/callgrind_per_call.sh``
does exactly that).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

OPS: dict[str, Callable[[Any], object]] = {
    "tracking": lambda conn: conn.get_tracking(),
    "sources": lambda conn: conn.get_sources(),
    "sourcestats": lambda conn: conn.get_source_stats(),
    "snapshot": lambda conn: (conn.get_tracking(), conn.get_sources(), conn.get_source_stats()),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["native", "python"], required=True)
    parser.add_argument("--op", choices=sorted(OPS), default="tracking")
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--address", default=os.environ.get("PYCHRONY_LAB_SOCKET"))
    args = parser.parse_args(argv)
    if not args.address:
        parser.error("no --address and no PYCHRONY_LAB_SOCKET (run under ci/chrony_lab.py run)")

    import pychrony

    op = OPS[args.op]
    with pychrony.ChronyConnection(args.address, backend=args.backend) as conn:
        for _ in range(args.warmup):
            op(conn)
        start = time.perf_counter()
        for _ in range(args.calls):
            op(conn)
        took = time.perf_counter() - start
    if args.calls:
        print(
            f"{args.backend} {args.op}: {took / args.calls * 1e6:.1f} µs per call",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
