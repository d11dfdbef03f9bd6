"""``python -m pychrony.exporter``: chrony_exporter's command line, served by uvicorn.

The flags and defaults are SuperQ/chrony_exporter's (kingpin booleans:
``--collector.sources``, ``--no-collector.tracking``, ``--collector.x=false``),
so its systemd units and Helm charts work unchanged; pychrony's extra collectors
(selectdata, activity, smoothing, rtcdata) are off unless asked for. uvicorn
serves it: already the dashboard's server, it does TLS from the web config, and
its event loop lets a scrape waiting on a hung chronyd cost no thread of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import logging
import re
import socket
import sys
import time
from collections.abc import Sequence
from typing import Any

from .._version import __version__
from ..exceptions import ChronyError
from .collector import COLLECTORS, EXPORTER_DEFAULTS
from .webconfig import ExporterConfigError, WebConfig, load_web_config

__all__ = ["DEFAULT_ADDRESS", "DEFAULT_LISTEN", "build_parser", "main"]

#: chrony_exporter's defaults.
DEFAULT_ADDRESS = "[::1]:323"
DEFAULT_LISTEN = ":9123"
DEFAULT_TIMEOUT = "5s"

log = logging.getLogger("pychrony.exporter")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class _Bool(argparse.Action):
    """A kingpin boolean: ``--name``, ``--no-name`` and ``--name=true|false``."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kw: Any) -> None:
        name = option_strings[0]
        kw.setdefault("metavar", "true|false")
        super().__init__([name, "--no-" + name[2:]], dest, nargs="?", **kw)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        negated = bool(option_string and option_string.startswith("--no-"))
        if values is None:
            value = not negated
        elif str(values).lower() in _TRUE | _FALSE:
            value = (str(values).lower() in _TRUE) != negated
        else:
            parser.error(f"{option_string}: expected true or false, not {values!r}")
        setattr(namespace, self.dest, value)


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``5s``, ``500ms``, ``1m30s``); a bare number is seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 5s, 500ms, 1m30s)")
    seconds = sum(float(n) * units[u] for n, u in parts)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"the duration must be positive, not {text!r}")
    return seconds


def chrony_address(text: str) -> str | None:
    """pychrony's address for chrony_exporter's ``unix:///path`` or ``host:port``."""
    from .._address import parse_address

    if text in ("", "auto"):
        return None  # pychrony's search: the usual sockets, then 127.0.0.1 and ::1
    address = text[len("unix://") :] if text.startswith("unix://") else text
    try:
        parse_address(address)
    except ChronyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return address


_EXTRA = ("selectdata", "activity", "smoothing", "rtcdata")
_HELP = {
    "tracking": "Collect tracking metrics",
    "sources": "Collect sources metrics",
    "sourcestats": "Collect sourcestats metrics",
    "serverstats": "Collect serverstats metrics",
    "selectdata": "Collect selectdata metrics (pychrony)",
    "activity": "Collect activity metrics (pychrony)",
    "smoothing": "Collect smoothing metrics (pychrony)",
    "rtcdata": "Collect RTC metrics (pychrony)",
}


def build_parser() -> argparse.ArgumentParser:
    """The exporter's flags, named and defaulted as chrony_exporter's."""
    p = argparse.ArgumentParser(
        prog="pychrony exporter",
        description="Prometheus exporter for chrony (chrony_exporter's flags and metrics).",
    )
    add = p.add_argument
    add(
        "--chrony.address",
        dest="address",
        type=chrony_address,
        default=DEFAULT_ADDRESS,  # argparse passes a str default through type
        help=f"Address of the Chrony server: unix:///path or host:port (default {DEFAULT_ADDRESS}"
        "; 'auto' searches the usual sockets, then loopback).",
    )
    add(
        "--chrony.timeout",
        dest="timeout",
        type=parse_duration,
        default=DEFAULT_TIMEOUT,
        help="Deadline of a scrape; each report's requests share it (default 5s).",
    )
    add(
        "--chrony.backend",
        dest="backend",
        choices=("auto", "native", "python"),
        default="auto",
        help="pychrony backend (default auto).",
    )
    for name in ("tracking", "sources", "sourcestats", "serverstats", *_EXTRA):
        default = name in EXPORTER_DEFAULTS
        add(
            f"--collector.{name}",
            dest=f"collector_{name}",
            action=_Bool,
            default=default,
            help=f"{_HELP[name]} (default {str(default).lower()}).",
        )
    add(
        "--collector.sources.with-ntpdata",
        dest="collector_ntpdata",
        action=_Bool,
        default=False,
        help="Extend sources with ntpdata metrics (requires the Unix socket).",
    )
    add(
        "--collector.dns-lookups",
        dest="dns_lookups",
        action=_Bool,
        default=True,
        help="Label sources with their configured names (chronyc -N) rather than "
        "addresses; pychrony never does reverse DNS in a scrape (default true).",
    )
    add(
        "--collector.chmod-socket",
        dest="chmod_socket",
        action=_Bool,
        default=False,
        help="Accepted for compatibility: pychrony's reply socket is always writable by "
        "chronyd (mode 0666 in a private 0711 directory).",
    )
    add(
        "--collector.clients",
        dest="collector_clients",
        action=_Bool,
        default=False,
        help="Not available yet: pychrony has no clients report.",
    )
    add(
        "--web.listen-address",
        dest="listen",
        action="append",
        default=None,
        help=f"Address to listen on, repeatable (default {DEFAULT_LISTEN}).",
    )
    add(
        "--web.telemetry-path",
        dest="telemetry_path",
        default="/metrics",
        help="Path under which to expose metrics (default /metrics).",
    )
    add(
        "--web.config.file",
        dest="web_config",
        default=None,
        help="exporter-toolkit web configuration file: TLS and basic authentication "
        "(default none: plain HTTP, no authentication).",
    )
    add(
        "--log.level",
        dest="log_level",
        choices=("debug", "info", "warn", "error"),
        default="info",
        help="Only log messages with the given severity or above (default info).",
    )
    add(
        "--log.format",
        dest="log_format",
        choices=("logfmt", "json"),
        default="logfmt",
        help="Output format of log messages (default logfmt).",
    )
    add("--version", action="version", version=f"pychrony exporter {__version__}")
    return p


def collectors_of(args: argparse.Namespace) -> list[str]:
    """The enabled collectors, in :data:`COLLECTORS`' order."""
    enabled = [name for name in COLLECTORS if getattr(args, f"collector_{name}", False)]
    if args.collector_ntpdata and not args.collector_sources:
        enabled.remove("ntpdata")  # as chrony_exporter: it extends the sources collector
    return enabled


# -- logging ------------------------------------------------------------------------


class _Logfmt(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {"time": _timestamp(record), "level": _level(record), "msg": record.getMessage()}
        fields.update(getattr(record, "kv", {}))
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {"time": _timestamp(record), "level": _level(record), "msg": record.getMessage()}
        fields.update(getattr(record, "kv", {}))
        return json.dumps(fields, default=str)


def _timestamp(record: logging.LogRecord) -> str:
    millis = int(record.msecs)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{millis:03d}Z"


def _level(record: logging.LogRecord) -> str:
    return {"WARNING": "warn", "CRITICAL": "error"}.get(record.levelname, record.levelname.lower())


def _logfmt_value(value: object) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if not text or re.search(r'[\s"=]', text):
        return json.dumps(text)
    return text


def setup_logging(level: str, fmt: str) -> None:
    """One stderr handler in promslog's formats for the exporter's and uvicorn's logs
    (their loggers only: an application calling :func:`main` keeps its own)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Json() if fmt == "json" else _Logfmt())
    threshold = {"warn": logging.WARNING}.get(level, getattr(logging, level.upper()))
    for name in ("pychrony.exporter", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
        # uvicorn's "Started server process" and the like only when debugging
        logger.setLevel(threshold if name != "uvicorn" or level == "debug" else logging.WARNING)


def _kv(**fields: object) -> dict[str, Any]:
    return {"extra": {"kv": fields}}


# -- listening ----------------------------------------------------------------------


def parse_listen(text: str) -> tuple[str, int]:
    """(host, port) of ``host:port``, ``[v6]:port`` or ``:port`` (host "": every address)."""
    match = re.fullmatch(r"(?:\[([^\]]*)\]|([^:\[\]]*)):(\d{1,5})", text)
    if not match or int(match.group(3)) > 65535:
        raise ExporterConfigError(f"Invalid --web.listen-address {text!r}: expected host:port")
    return match.group(1) or match.group(2) or "", int(match.group(3))


def is_loopback(host: str) -> bool:
    """True when ``host`` can only be reached from this machine."""
    if host in ("", "*"):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; host "" listens on every IPv6 and IPv4 address."""
    candidates: list[tuple[int, tuple[Any, ...]]]
    if host == "":
        candidates = [(socket.AF_INET6, ("::", port)), (socket.AF_INET, ("0.0.0.0", port))]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ExporterConfigError(f"Cannot resolve listen address {host!r}: {exc}") from exc
        candidates = [(family, addr) for family, _, _, _, addr in infos]
    error: OSError | None = None
    for family, addr in candidates:
        # proto given: asyncio sets TCP_NODELAY only on sockets that say they are TCP
        # (without it every keep-alive response waits ~40 ms for a delayed ACK).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and host == "":
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(addr)
            sock.listen(128)
            sock.setblocking(False)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise ExporterConfigError(f"Cannot listen on {host or '*'}:{port}: {error}")


def _warn_if_exposed(hosts: Sequence[str], config: WebConfig) -> None:
    exposed = [h or "*" for h in hosts if not is_loopback(h)]
    if not exposed:
        return
    checks = (("TLS", config.tls is not None), ("authentication", bool(config.users)))
    missing = [what for what, have in checks if not have]
    if missing:
        log.warning(
            "Listening on a non-loopback address without %s: anybody who can reach it "
            "can read chronyd's state; set --web.config.file (tls_server_config, "
            "basic_auth_users) or listen on 127.0.0.1",
            " or ".join(missing),
            **_kv(addresses=",".join(exposed)),
        )


# -- main ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the exporter until SIGINT/SIGTERM; 0 on a clean stop, 2 on bad flags or
    configuration, 1 when it cannot listen."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad flag (argparse printed why)
        return int(exc.code or 0)
    setup_logging(args.log_level, args.log_format)
    if args.collector_clients:
        log.error(
            "--collector.clients is not available: pychrony has no clients report yet "
            "(chronyd's client access log); drop the flag"
        )
        return 2
    try:
        config = load_web_config(args.web_config)
        listen = [parse_listen(a) for a in args.listen or [DEFAULT_LISTEN]]
    except ExporterConfigError as exc:
        log.error(str(exc))
        return 2
    try:
        sockets = [bind(host, port) for host, port in listen]
    except ExporterConfigError as exc:
        log.error(str(exc))
        return 1
    try:
        return _serve(args, config, sockets, [host for host, _ in listen])
    finally:
        for sock in sockets:
            sock.close()


def _serve(
    args: argparse.Namespace, config: WebConfig, sockets: list[socket.socket], hosts: list[str]
) -> int:
    import uvicorn
    from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
    from prometheus_client.registry import CollectorRegistry

    from .collector import BuildInfoCollector, ChronyCollector
    from .scrape import ScrapeReader
    from .web import create_app

    try:
        reader = ScrapeReader(args.address, deadline=args.timeout, backend=args.backend)
    except ChronyError as exc:
        log.error(str(exc))
        return 2
    collectors = collectors_of(args)
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(BuildInfoCollector(reader.backend))
    registry.register(ChronyCollector(reader, collectors, source_names=args.dns_lookups))
    app = create_app(
        registry,
        telemetry_path=args.telemetry_path,
        backend=reader.backend,
        users=config.users,
        headers=config.headers,
        on_shutdown=reader.close,  # before uvicorn re-raises SIGTERM: no socket left behind
    )
    log.info(
        "Starting pychrony exporter",
        **_kv(version=__version__, backend=reader.backend, address=args.address or "auto"),
    )
    log.info("Collectors enabled", **_kv(collectors=",".join(collectors)))
    _warn_if_exposed(hosts, config)
    server_config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", server_header=False
    )
    server_config.load()
    if config.tls is not None:
        server_config.ssl = config.tls.context()
    for sock in sockets:
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        log.info("Listening on", **_kv(address=shown, tls=config.tls is not None))
    server = uvicorn.Server(server_config)
    with contextlib.closing(reader):  # when stopped otherwise than by a signal
        server.run(sockets=sockets)
    return 0
