"""``python -m pychrony.testing serve SCENARIO``: a fake chronyd for any client.

    python -m pychrony.testing serve multi_source --socket /tmp/fake/chronyd.sock
    python -m pychrony.testing serve sync_lost --udp 127.0.0.1:11323 --chrony-version 4.6
    python -m pychrony.testing list

It prints where it listens (one line per socket) and serves until interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence

from ..protocol.codec import CHRONY_VERSIONS
from . import FAULT_SCENARIOS, SCENARIOS, FakeChronyd

_ALL = {**SCENARIOS, **FAULT_SCENARIOS}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pychrony.testing", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a preset scenario as chronyd would")
    serve.add_argument("scenario", choices=sorted(_ALL), metavar="SCENARIO")
    serve.add_argument("--socket", metavar="PATH", help="Unix datagram socket to bind")
    serve.add_argument("--udp", metavar="HOST:PORT", help="UDP address to bind (port 0: any)")
    serve.add_argument("--udp-targets", type=int, default=0, metavar="N", help="N more UDP ports")
    serve.add_argument(
        "--chrony-version", default="4.3", choices=CHRONY_VERSIONS, help="chronyd to play"
    )
    commands.add_parser("list", help="list the preset scenarios")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "list":
        for name in sorted(_ALL):
            print(name)
        return 0
    unix = args.socket is not None or (args.udp is None and not args.udp_targets)
    fake = FakeChronyd(
        _ALL[args.scenario],
        socket_path=args.socket,
        udp=args.udp,
        udp_targets=args.udp_targets,
        chrony_version=args.chrony_version,
        unix=unix,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with fake:
        if fake.socket_path:
            print(f"unix {fake.socket_path}", flush=True)
        for host, port in fake.udp_addresses:
            print(f"udp {host}:{port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
