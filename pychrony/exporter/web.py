"""The exporter's ASGI app: ``/metrics`` and a landing page, read-only, GET only.

Built from small route factories (:func:`metrics_route`, :func:`landing_route`)
so other apps can mount the same ``/metrics``. The metrics route negotiates the
format as prometheus_client's own server does (OpenMetrics when the scraper asks
for it, gzip when accepted, ``name[]`` to restrict the families), ends the read
of chronyd before Prometheus' own scrape timeout when that is the shorter
(``X-Prometheus-Scrape-Timeout-Seconds``), and runs the blocking collection in a
worker thread, off the event loop. :class:`BasicAuth` checks exporter-toolkit's
bcrypt ``basic_auth_users``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import gzip
import hashlib
import html
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.registry import Collector, CollectorRegistry
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._version import __version__
from .probe import ProbeError, Prober, parse_collectors
from .scrape import scrape_request

__all__ = [
    "BasicAuth",
    "create_app",
    "encode",
    "landing_route",
    "metrics_route",
    "probe_route",
    "scraper_timeout",
]

_GET = ["GET"]
_NO_STORE = {"Cache-Control": "no-store"}


#: Seconds kept from the scraper's timeout for sending the answer.
SCRAPE_TIMEOUT_MARGIN = 0.25


def scraper_timeout(header: str) -> float | None:
    """The seconds a scraper waits (``X-Prometheus-Scrape-Timeout-Seconds``) less
    :data:`SCRAPE_TIMEOUT_MARGIN`; None when it does not say (or says nonsense)."""
    try:
        seconds = float(header)
    except ValueError:
        return None
    if not 0 < seconds < 1e6:  # also refuses nan and inf
        return None
    return max(seconds - SCRAPE_TIMEOUT_MARGIN, 0.1)


def render_metrics(
    registry: CollectorRegistry,
    accept: str,
    accept_encoding: str,
    names: Sequence[str],
    arrived: float | None = None,
    timeout: float | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The exposition body and headers for one scrape (blocking: it reads chronyd).
    The scrape's deadline counts from ``arrived`` (``time.monotonic()``, default now)
    and ends ``timeout`` seconds after it at the latest."""
    target = registry.restricted_registry(names) if names else registry
    with scrape_request(time.monotonic() if arrived is None else arrived, timeout):
        return encode(target, accept, accept_encoding)


def encode(registry: Collector, accept: str, accept_encoding: str) -> tuple[bytes, dict[str, str]]:
    """The registry's exposition in the format ``accept`` asks for (OpenMetrics or
    text), gzipped when ``accept_encoding`` allows, and the response's headers."""
    encoder, content_type = choose_encoder(accept)
    body = encoder(registry)
    headers = {"Content-Type": content_type, "Vary": "Accept, Accept-Encoding", **_NO_STORE}
    if gzip_accepted(accept_encoding):
        body = gzip.compress(body, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
    return body, headers


def metrics_route(registry: CollectorRegistry, path: str = "/metrics") -> Route:
    """``GET path``: the registry's metrics in the format the scraper asked for."""

    async def metrics(request: Request) -> Response:
        arrived = time.monotonic()  # a wait for a worker thread counts against the deadline
        body, headers = await run_in_threadpool(
            render_metrics,
            registry,
            request.headers.get("accept", ""),
            request.headers.get("accept-encoding", ""),
            request.query_params.getlist("name[]"),
            arrived,
            scraper_timeout(request.headers.get("x-prometheus-scrape-timeout-seconds", "")),
        )
        return Response(body, headers=headers)

    return Route(path, metrics, methods=_GET)


def probe_route(prober: Prober, path: str = "/probe") -> Route:
    """``GET path?target=HOST[:PORT]|unix:///path[&collectors=a,b]``: that chronyd's
    metrics, read on the event loop by ``prober`` (400 for a bad target)."""

    async def probe(request: Request) -> Response:
        arrived = time.monotonic()
        params = request.query_params
        try:
            # collectors=a,b or collectors=a&collectors=b (a YAML list in Prometheus' params)
            asked = ",".join(params.getlist("collectors")) or None
            collectors = parse_collectors(asked, prober.collectors)
            families = await prober.probe(
                params.get("target", ""),
                collectors,
                arrived=arrived,
                timeout=scraper_timeout(
                    request.headers.get("x-prometheus-scrape-timeout-seconds", "")
                ),
            )
        except ProbeError as exc:
            return Response(f"{exc}\n", status_code=400, media_type="text/plain", headers=_NO_STORE)
        body, headers = encode(
            families, request.headers.get("accept", ""), request.headers.get("accept-encoding", "")
        )
        return Response(body, headers=headers)

    return Route(path, probe, methods=_GET)


_LANDING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pychrony exporter</title></head>
<body><h1>pychrony exporter</h1>
<p>Prometheus exporter for chrony, compatible with chrony_exporter. Read-only: it only
reads chronyd's monitoring reports and accepts GET requests only.</p>
<ul><li><a href="{path}">Metrics</a></li>{probe}
<li><a href="https://chrony-project.org/">chrony</a></li></ul>
<p>Version {version}, backend {backend}.</p></body></html>
"""


def landing_route(telemetry_path: str, backend: str, probe_path: str | None = None) -> Route:
    """``GET /``: a page linking to the metrics (as exporter-toolkit's landing page)
    and saying where probes go."""
    probe = (
        ""
        if probe_path is None
        else f"\n<li>Probe: <code>{html.escape(probe_path)}?target=HOST[:PORT]</code></li>"
    )
    page = _LANDING.format(
        path=html.escape(telemetry_path, quote=True),
        probe=probe,
        version=html.escape(__version__),
        backend=html.escape(backend),
    )

    async def landing(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    return Route("/", landing, methods=_GET)


class BasicAuth:
    """HTTP basic authentication against bcrypt hashes (exporter-toolkit's
    ``basic_auth_users``); 401 with a ``WWW-Authenticate`` challenge otherwise.

    bcrypt is slow on purpose: it runs in a thread, and a password that matched
    once is remembered by its SHA-256 (as exporter-toolkit caches), so a scraper
    every 15 s costs one bcrypt check, not one a scrape.
    """

    def __init__(self, app: ASGIApp, users: Mapping[str, str]) -> None:
        import bcrypt  # the exporter's extra: only needed when users are configured

        self.app = app
        self.users = {user: hashed.encode() for user, hashed in users.items()}
        self._checkpw = bcrypt.checkpw
        self._good: set[tuple[str, bytes]] = set()

    def _verify(self, user: str, password: bytes) -> bool:
        hashed = self.users.get(user)
        if hashed is None:
            return False
        key = (user, hashlib.sha256(password + b"\0" + hashed).digest())
        if key in self._good:
            return True
        if self._checkpw(password, hashed):
            self._good.add(key)
            return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        credentials = _basic_credentials(dict(scope["headers"]).get(b"authorization", b""))
        if credentials is not None and await asyncio.to_thread(self._verify, *credentials):
            await self.app(scope, receive, send)
            return
        response = Response(
            "Unauthorized\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="pychrony exporter"', **_NO_STORE},
        )
        await response(scope, receive, send)


def _basic_credentials(header: bytes) -> tuple[str, bytes] | None:
    scheme, _, encoded = header.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    return user.decode("utf-8", "replace"), password


class _Headers:
    """Adds fixed response headers (exporter-toolkit's ``http_server_config.headers``)."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.headers:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    registry: CollectorRegistry,
    *,
    telemetry_path: str = "/metrics",
    backend: str = "auto",
    users: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    on_shutdown: Callable[[], object] | None = None,
    prober: Prober | None = None,
    probe_path: str = "/probe",
) -> Starlette:
    """The exporter's app: ``telemetry_path`` and, unless that is ``/``, a landing page;
    ``users`` (name → bcrypt hash) turns on basic authentication for every route;
    ``on_shutdown`` runs when the server stops (closing the connection to chronyd);
    ``prober`` serves ``probe_path`` and has its idle connections closed meanwhile."""
    routes = [metrics_route(registry, telemetry_path)]
    if prober is not None:
        routes.append(probe_route(prober, probe_path))
    if telemetry_path not in ("", "/"):
        shown = probe_path if prober is not None else None
        routes.append(landing_route(telemetry_path, backend, shown))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweeper = None if prober is None else asyncio.create_task(_sweep(prober))
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
            if prober is not None:
                prober.close()
            if on_shutdown is not None:
                await asyncio.to_thread(on_shutdown)

    app = Starlette(routes=routes, lifespan=lifespan)
    if users:
        app.add_middleware(BasicAuth, users=users)
    if headers:
        app.add_middleware(_Headers, headers=headers)
    return app


async def _sweep(prober: Prober) -> None:
    """Close the prober's idle connections, a few times per idle period."""
    period = min(prober.connections.idle_close / 4, 30.0)
    while True:
        await asyncio.sleep(period)
        prober.sweep()
