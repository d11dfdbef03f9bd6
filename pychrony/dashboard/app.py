"""The dashboard's ASGI app: HTML page, JSON API, Prometheus metrics; GET only.

Routes:

* ``/`` the page (server-rendered, then refreshed in place by ``static/dashboard.js``);
* ``/api/snapshot`` tracking, sources, sourcestats and rtcdata with their display
  strings and the charts' series, as the page's script uses them;
* ``/api/<report>`` any report as :func:`pychrony.display.to_json` JSON;
* ``/metrics`` the exporter's metrics (:mod:`pychrony.exporter`: OpenMetrics when
  asked, gzip, ``name[]``), read by its own single-flight reader: the poller never
  delays a scrape;
* ``/healthz`` liveness of the dashboard, with chronyd's last known state.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import jinja2
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._version import __version__
from ..connection import DEFAULT_ATTEMPTS, DEFAULT_TIMEOUT, Backend
from ..display import format_duration, format_time, to_json
from ..exceptions import (
    ChronyConnectionError,
    ChronyDisabledError,
    ChronyError,
    ChronyPermissionError,
)
from ..exporter.collector import ChronyCollector
from ..exporter.scrape import ScrapeReader
from ..exporter.web import metrics_route
from ..registry import REPORTS_BY_NAME
from .history import DEFAULT_HISTORY
from .reader import ChronyReader
from .view import SNAPSHOT_REPORTS, snapshot, view

__all__ = ["REFRESH_SECONDS", "create_app"]

#: How often the page refreshes and the background poller reads chronyd.
REFRESH_SECONDS = 2.0

_HERE = Path(__file__).parent
_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
_NO_STORE = {"Cache-Control": "no-store"}


class _SecurityHeaders:
    """Adds a strict Content-Security-Policy (everything is served locally)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _Poller:
    """Reads the page's reports every ``interval`` seconds in a daemon thread, so the
    page loads at once from the cache and the history fills with nobody
    watching."""

    def __init__(self, reader: ChronyReader, interval: float) -> None:
        self.reader = reader
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pychrony-poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.reader.cached_read(SNAPSHOT_REPORTS, max_age=self.interval / 2)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.reader.budget + 1)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _error_status(exc: ChronyError) -> int:
    if isinstance(exc, ChronyConnectionError):
        return 503
    if isinstance(exc, ChronyPermissionError):
        return 403
    if isinstance(exc, ChronyDisabledError):
        return 404
    return 502


def create_app(
    address: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    attempts: int = DEFAULT_ATTEMPTS,
    backend: Backend = "auto",
    refresh: float = REFRESH_SECONDS,
    poll: bool = True,
    reader: ChronyReader | None = None,
    history: float = DEFAULT_HISTORY,
) -> Starlette:
    """The dashboard app for the chronyd at ``address`` (see ChronyConnection).

    ``refresh``: seconds between the page's updates, and the longest a cached reading
    is reused (0: read chronyd on every request). ``poll``: run the background poller
    while the app is served (it fills the history with nobody watching). ``history``:
    seconds of tracking and source samples the charts cover (memory grows with it:
    at most one point per ``refresh`` seconds per series; ignored when ``reader`` is
    given).
    """
    # /metrics reads through its own single-flight, deadline-bounded reader (the
    # exporter's), so the poller or a page never delays a scrape; an injected reader
    # (tests, embedding) serves both.
    scrapes: ScrapeReader | None = None
    if reader is None:
        scrapes = ScrapeReader(address, deadline=timeout * attempts, backend=backend)
    reader = reader or ChronyReader(
        address,
        timeout=timeout,
        attempts=attempts,
        backend=backend,
        history=history,
        history_interval=refresh or REFRESH_SECONDS,
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ChronyCollector(scrapes or reader))
    polling = threading.Event()
    poll_every = (refresh or REFRESH_SECONDS) if poll else None
    app = Starlette(
        routes=[
            *_page_routes(reader, address, refresh, polling),
            *_report_routes(reader),
            metrics_route(registry),
            Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
        ],
        lifespan=_lifespan(reader, scrapes, polling, poll_every),
    )
    app.add_middleware(_SecurityHeaders)
    app.state.reader = reader
    return app


def _page_routes(
    reader: ChronyReader, address: str | None, refresh: float, polling: threading.Event
) -> list[Route]:
    """``/`` (the page) and ``/api/snapshot`` (what it refreshes from), from the cache."""
    page = _environment().get_template("index.html")

    def reading() -> Any:
        # While the poller runs it keeps the cache fresh: requests never wait on
        # chronyd (a hung one costs the poller, not the page, the timeout).
        max_age = refresh + reader.budget + 1 if polling.is_set() else refresh
        return reader.cached_read(SNAPSHOT_REPORTS, max_age=max_age)

    # The history gets a point every ~2 s while the poller runs: a longer silence
    # means chronyd was away, and the chart's line breaks there.
    gap = 3 * max(refresh or REFRESH_SECONDS, reader.history.min_interval) + 1

    def page_view(current: Any) -> dict[str, Any]:
        return view(
            current,
            reader.known,
            reader.history,
            last_success=reader.last_success,
            last_attempt=reader.last_attempt,
            gap=gap,
        )

    async def index(request: Request) -> HTMLResponse:
        current = await run_in_threadpool(reading)
        html = page.render(
            v=page_view(current),
            history_label=format_duration(reader.history.window),
            address=address or "auto",
            backend=reader.backend,
            version=__version__,
            refresh_ms=int(refresh * 1000) or 2000,
            static=request.url_for("static", path="").path,
        )
        return HTMLResponse(html, headers=_NO_STORE)

    async def api_snapshot(request: Request) -> JSONResponse:
        current = await run_in_threadpool(reading)
        return JSONResponse(snapshot(current, page_view(current)), headers=_NO_STORE)

    get = ["GET"]
    return [Route("/", index, methods=get), Route("/api/snapshot", api_snapshot, methods=get)]


def _report_routes(reader: ChronyReader) -> list[Route]:
    """``/api``, ``/api/<report>`` (any report as JSON) and ``/healthz``."""

    async def api_report(request: Request) -> JSONResponse:
        name = request.path_params["report"]
        if name not in REPORTS_BY_NAME:
            return JSONResponse(
                {"error": f"unknown report {name!r}", "reports": list(REPORTS_BY_NAME)},
                status_code=404,
            )
        current = await run_in_threadpool(reader.read, (name,))
        failure = current.errors.get(name) or current.error
        if failure is not None:
            return JSONResponse(
                {"error": str(failure), "report": name},
                status_code=_error_status(failure),
                headers=_NO_STORE,
            )
        return JSONResponse(to_json(current.values[name]), headers=_NO_STORE)

    async def api_index(request: Request) -> JSONResponse:
        return JSONResponse({"reports": list(REPORTS_BY_NAME), "snapshot": "/api/snapshot"})

    async def healthz(request: Request) -> JSONResponse:
        chronyd = "down" if reader.last_error else "up" if reader.last_success else "unknown"
        return JSONResponse(
            {
                "status": "ok",
                "chronyd": chronyd,
                "error": reader.last_error,
                "last_success": format_time(reader.last_success) if reader.last_success else None,
                "backend": reader.backend,
                "version": __version__,
            },
            headers=_NO_STORE,
        )

    get = ["GET"]
    return [
        Route("/api", api_index, methods=get),
        Route("/api/{report}", api_report, methods=get),
        Route("/healthz", healthz, methods=get),
    ]


def _lifespan(
    reader: ChronyReader,
    scrapes: ScrapeReader | None,
    polling: threading.Event,
    poll_every: float | None,
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """Runs the poller (every ``poll_every`` seconds; None: no poller) while the app is
    served; closes the readers at shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        poller = _Poller(reader, poll_every) if poll_every is not None else None
        if poller is not None:
            poller.start()
            polling.set()
        try:
            yield
        finally:
            polling.clear()
            if poller is not None:
                await asyncio.to_thread(poller.stop)
            reader.close()
            if scrapes is not None:
                scrapes.close()

    return lifespan
