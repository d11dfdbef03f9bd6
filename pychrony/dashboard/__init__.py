"""Web dashboard and Prometheus metrics for chronyd (``pip install 'pychrony[dashboard]'``).

``pychrony serve`` runs :func:`serve`; :func:`create_app` gives the ASGI app to run
under any ASGI server or to test with Starlette's TestClient.
"""

from __future__ import annotations

import sys

from ..connection import DEFAULT_ATTEMPTS, DEFAULT_TIMEOUT, Backend
from .app import REFRESH_SECONDS, create_app
from .history import DEFAULT_HISTORY
from .metrics import ChronyCollector
from .reader import ChronyReader

__all__ = [
    "DEFAULT_HISTORY",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "REFRESH_SECONDS",
    "ChronyCollector",
    "ChronyReader",
    "create_app",
    "serve",
]

#: Loopback only unless asked otherwise: the dashboard has no authentication.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8323


def serve(
    address: str | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    timeout: float = DEFAULT_TIMEOUT,
    attempts: int = DEFAULT_ATTEMPTS,
    backend: Backend = "auto",
    history: float = DEFAULT_HISTORY,
) -> None:
    """Serve the dashboard for the chronyd at ``address`` until interrupted
    (``history``: seconds the charts cover)."""
    import uvicorn

    app = create_app(address, timeout=timeout, attempts=attempts, backend=backend, history=history)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"pychrony dashboard on http://{shown}:{port}/  (metrics: /metrics; Ctrl-C stops)",
        file=sys.stderr,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
