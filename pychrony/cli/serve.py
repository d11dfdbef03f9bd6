"""``pychrony serve``: the dashboard and /metrics (``pip install 'pychrony[dashboard]'``).

The listening socket is bound before anything is announced: a busy or forbidden
address is one clear message and exit 4, and "serving on" is printed only once the
port is ours.
"""

from __future__ import annotations

import argparse
import socket
import sys

from ..exceptions import ChronyError
from .common import EXIT_BIND, EXIT_FAILED, EXIT_OK, EXIT_USAGE, error
from .options import Parser, address_of, port_number

__all__ = ["bind", "main", "parser"]

DEFAULT_HOST = "127.0.0.1"  # loopback unless asked: the dashboard has no authentication
DEFAULT_PORT = 8323


def parser() -> Parser:
    """``pychrony serve``'s own options."""
    p = Parser(
        prog="pychrony [-h HOST] [-p PORT] serve",
        description="Serve the web dashboard and Prometheus /metrics for chronyd.",
        allow_abbrev=False,
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    p.add_argument(
        "--port",
        type=_listen_port,
        default=DEFAULT_PORT,
        help=f"TCP port to bind (default {DEFAULT_PORT}; 0: any free port)",
    )
    p.add_argument(
        "--history",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds of history the dashboard's charts keep (default 600, at most a day)",
    )
    return p


def _listen_port(text: str) -> int:
    return 0 if text == "0" else port_number(text)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port``; OSError says why not."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def main(args: argparse.Namespace) -> int:
    """Run ``serve`` until interrupted."""
    opts = parser().parse_args(args.args)
    chronyd = address_of(args.host, args.port, args.family)
    try:
        import uvicorn

        from ..dashboard import create_app
    except ImportError as exc:
        error(f"serve needs the dashboard extra: pip install 'pychrony[dashboard]' ({exc})")
        return EXIT_FAILED
    history = {} if opts.history is None else {"history": opts.history}
    try:
        app = create_app(
            chronyd, timeout=args.timeout, attempts=args.attempts, backend=args.backend, **history
        )
    except ChronyError as exc:  # an out-of-range --history: the app says the range
        error(str(exc))
        return EXIT_USAGE
    try:
        sock = bind(opts.host, opts.port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        error(f"cannot serve on {_shown(opts.host, opts.port)}: {reason}")
        return EXIT_BIND
    shown = _shown(opts.host, sock.getsockname()[1])
    print(
        f"pychrony dashboard on http://{shown}/  (metrics: /metrics; Ctrl-C stops)",
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return EXIT_OK


def _shown(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
