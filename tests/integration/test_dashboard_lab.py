"""The dashboard's view of a real chronyd on both backends, without a browser
(``tests/e2e`` drives the page itself in Chromium, python backend)."""

from __future__ import annotations

import re
import time

from starlette.testclient import TestClient

from pychrony.dashboard import create_app
from pychrony.dashboard.view import DASH
from pychrony.lab import Lab


def test_dashboard_through_a_sigstopped_chronyd(own_lab: Lab, backend: str) -> None:
    """chronyd's stand-ins for the never-sampled source arrive as dashes; a page loaded
    while chronyd is stopped shows the last-known values with their age; after SIGCONT
    the next read is current again."""
    app = create_app(own_lab.socket_path, backend=backend, timeout=0.3, attempts=1, refresh=0)
    client = TestClient(app)
    live = client.get("/api/snapshot").json()
    assert live["ok"], live["error"]
    assert app.state.reader.backend == backend
    # the unreachable server was never sampled: chronyd's 2000 ppm and 4 s, not shown
    (raw,) = [s for s in live["sourcestats"] if s["samples"] == 0]
    assert (raw["skew"], raw["std_dev"]) == (2000.0, 4.0)
    (row,) = [r for r in live["view"]["sourcestats"] if r["key"] == raw["address"]]
    assert [row[k] for k in ("span", "offset", "std_dev", "skew", "resid_freq")] == [DASH] * 5
    assert "placeholder" in row["classes"].split()
    offset = live["view"]["tracking"]["offset"]

    own_lab.pause()
    try:
        time.sleep(1.1)
        html = client.get("/").text  # a fresh load while chronyd does not answer
        view = client.get("/api/snapshot").json()["view"]
    finally:
        own_lab.resume()
    assert not view["ok"]
    assert "did not answer" in view["error"]
    assert set(view["stale"]) == {"tracking", "sources", "sourcestats", "rtcdata"}
    assert re.fullmatch(r"as of \d\d:\d\d:\d\d, \d+s ago", view["stale"]["tracking"])
    assert view["tracking"]["offset"] == offset  # the last-known value itself
    assert offset in html
    assert 'class="panel stale"' in html
    assert view["status"]["state"] == "stale"

    current = client.get("/api/snapshot").json()["view"]
    assert current["ok"], current["error"]
    assert current["stale"] == {}
    assert current["status"]["state"] == "live"
