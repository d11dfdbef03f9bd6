"""``python -m pychrony.exporter``: chrony_exporter's command line, served by uvicorn.

The flags and defaults are SuperQ/chrony_exporter's (kingpin booleans:
``--collector.sources``, ``--no-collector.tracking``, ``--collector.x=false``),
so its systemd units and Helm charts work unchanged; pychrony's extra collectors
(selectdata, activity, smoothing, rtcdata) are off unless asked for. uvicorn
serves it (already the dashboard's server; TLS from the web config): a scrape
waiting on chronyd waits in a worker thread, never on the event loop, so the
landing page and the other scrapes keep answering.
"""

from __future__ import annotations

import argparse
import logging
import re
import socket
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..exceptions import ChronyError
from .collector import COLLECTORS, EXPORTER_DEFAULTS
from .listen import bind, is_loopback, parse_listen
from .logs import kv, setup_logging
from .probe import DEFAULT_CACHE_SIZE
from .webconfig import ExporterConfigError, WebConfig, load_web_config

if TYPE_CHECKING:
    import uvicorn
    from prometheus_client.registry import CollectorRegistry

    from .probe import Prober
    from .scrape import ScrapeReader

__all__ = ["DEFAULT_ADDRESS", "DEFAULT_LISTEN", "build_parser", "main"]

#: chrony_exporter's defaults.
DEFAULT_ADDRESS = "[::1]:323"
DEFAULT_LISTEN = ":9123"
DEFAULT_TIMEOUT = "5s"
DEFAULT_IDLE_CLOSE_TEXT = "2m"
#: Seconds an idle HTTP connection is kept (uvicorn's default is 5).
KEEP_ALIVE_SECONDS = 75

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


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return number


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


#: ArgumentParser.add_argument, as the flag groups below take it.
_Add = Callable[..., argparse.Action]


def build_parser() -> argparse.ArgumentParser:
    """The exporter's flags, named and defaulted as chrony_exporter's."""
    p = argparse.ArgumentParser(
        prog="pychrony exporter",
        description="Prometheus exporter for chrony (chrony_exporter's flags and metrics).",
    )
    for flags in (_chrony_flags, _collector_flags, _probe_flags, _web_and_log_flags):
        flags(p.add_argument)
    p.add_argument("--version", action="version", version=f"pychrony exporter {__version__}")
    return p


def _chrony_flags(add: _Add) -> None:
    """--chrony.* : where chronyd is, how long a scrape may take."""
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


def _collector_flags(add: _Add) -> None:
    """--collector.* : which reports are read, as chrony_exporter's switches."""
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
        help="chronyd's client access log (requires the Unix socket; default false).",
    )


def _probe_flags(add: _Add) -> None:
    """--probe.* : probe mode (blackbox_exporter's pattern)."""
    add(
        "--probe.enabled",
        dest="probe",
        action=_Bool,
        default=False,
        help="Serve probes of other chronyd at --probe.path?target=HOST[:PORT] or "
        "unix:///path (blackbox_exporter's pattern; default false).",
    )
    add(
        "--probe.only",
        dest="probe_only",
        action=_Bool,
        default=False,
        help="Serve probes only (implies --probe.enabled): no local chronyd is read and "
        "the telemetry path has the exporter's own metrics (default false).",
    )
    add(
        "--probe.path",
        dest="probe_path",
        default="/probe",
        help="Path under which to serve probes (default /probe).",
    )
    add(
        "--probe.connections",
        dest="probe_connections",
        type=_positive_int,
        default=DEFAULT_CACHE_SIZE,
        help=f"Connections to probed targets kept open at most (default {DEFAULT_CACHE_SIZE}).",
    )
    add(
        "--probe.idle-close",
        dest="probe_idle_close",
        type=parse_duration,
        default=DEFAULT_IDLE_CLOSE_TEXT,
        help="Close a probed target's connection unused this long "
        f"(default {DEFAULT_IDLE_CLOSE_TEXT}).",
    )


def _web_and_log_flags(add: _Add) -> None:
    """--web.*, --log.*, --print.* : serving, logging, the shipped rules."""
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
    add(
        "--print.alert-rules",
        dest="print_rules",
        action="store_true",
        help="Print the Prometheus alerting rules for chronyd shipped with pychrony "
        "(docs/alerts.md) and exit.",
    )


def collectors_of(args: argparse.Namespace) -> list[str]:
    """The enabled collectors, in :data:`COLLECTORS`' order."""
    enabled = [name for name in COLLECTORS if getattr(args, f"collector_{name}", False)]
    if args.collector_ntpdata and not args.collector_sources:
        enabled.remove("ntpdata")  # as chrony_exporter: it extends the sources collector
    return enabled


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
            **kv(addresses=",".join(exposed)),
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
    if args.print_rules:
        from .rules import alert_rules

        sys.stdout.write(alert_rules())
        return 0
    setup_logging(args.log_level, args.log_format)
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
    """Serve /metrics (and /probe) on *sockets* until uvicorn stops; the exit code."""
    import uvicorn

    from .web import create_app

    collectors = collectors_of(args)
    try:
        reader, prober = _open_sources(args, collectors)
    except ChronyError as exc:
        log.error(str(exc))
        return 2
    backend = reader.backend if reader is not None else prober.backend  # type: ignore[union-attr]
    app = create_app(
        _registry(args, backend, reader, collectors),
        telemetry_path=args.telemetry_path,
        backend=backend,
        users=config.users,
        headers=config.headers,
        # before uvicorn re-raises SIGTERM: no socket left behind
        on_shutdown=None if reader is None else reader.close,
        prober=prober,
        probe_path=args.probe_path,
    )
    _log_start(args, backend, reader is not None, prober is not None, collectors)
    _warn_if_exposed(hosts, config)
    server = uvicorn.Server(_server_config(app, config, sockets))
    try:
        server.run(sockets=sockets)
    finally:  # when stopped otherwise than by a signal
        if reader is not None:
            reader.close()
        if prober is not None:
            prober.close()
    return 0


def _open_sources(
    args: argparse.Namespace, collectors: list[str]
) -> tuple[ScrapeReader | None, Prober | None]:
    """The scrape reader of ``--chrony.address`` and the prober of ``/probe``, as asked.

    Raises:
        ChronyError: the address or backend is unusable.
    """
    from .probe import Prober
    from .scrape import ScrapeReader

    reader = (
        None
        if args.probe_only
        else ScrapeReader(args.address, deadline=args.timeout, backend=args.backend)
    )
    if not (args.probe or args.probe_only):
        return reader, None
    prober = Prober(
        deadline=args.timeout,
        collectors=collectors,
        backend=args.backend,
        source_names=args.dns_lookups,
        cache_size=args.probe_connections,
        idle_close=args.probe_idle_close,
    )
    return reader, prober


def _registry(
    args: argparse.Namespace, backend: str, reader: ScrapeReader | None, collectors: list[str]
) -> CollectorRegistry:
    """/metrics' registry: process, platform, GC, build info and (with a reader) chrony."""
    from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
    from prometheus_client.registry import CollectorRegistry

    from .collector import BuildInfoCollector, ChronyCollector

    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(BuildInfoCollector(backend))
    if reader is not None:
        registry.register(ChronyCollector(reader, collectors, source_names=args.dns_lookups))
    return registry


def _log_start(
    args: argparse.Namespace, backend: str, scrapes: bool, probes: bool, collectors: list[str]
) -> None:
    """chrony_exporter's start-up lines: version, backend, address, collectors, probes."""
    log.info(
        "Starting pychrony exporter",
        **kv(
            version=__version__,
            backend=backend,
            address=(args.address or "auto") if scrapes else "none (probe only)",
        ),
    )
    log.info("Collectors enabled", **kv(collectors=",".join(collectors)))
    if probes:
        log.info("Serving probes", **kv(path=args.probe_path))


def _server_config(app: Any, config: WebConfig, sockets: list[socket.socket]) -> uvicorn.Config:
    """uvicorn's settings (TLS from the web config); logs each address it listens on."""
    import uvicorn

    server_config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
        # Longer than a scrape interval: Prometheus keeps its connection to each
        # target (a probe's too) instead of reconnecting at every scrape.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    server_config.load()
    if config.tls is not None:
        server_config.ssl = config.tls.context()
    for sock in sockets:
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        log.info("Listening on", **kv(address=shown, tls=config.tls is not None))
    return server_config
