"""The dashboard in headless Chromium against a real chronyd (pychrony.lab), python backend.

Needs Debian's ``chromium`` and ``chromium-driver`` (ci/test.sh installs them) and
chronyd (the lab installs it). Screenshots land in ``artifacts/`` at the top of the
repository (override with ``PYCHRONY_ARTIFACTS``); their paths are printed.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from pychrony.dashboard import create_app
from pychrony.lab import Lab

pytestmark = pytest.mark.integration

ARTIFACTS = Path(
    os.environ.get("PYCHRONY_ARTIFACTS") or Path(__file__).resolve().parents[2] / "artifacts"
)
REFRESH = 0.5  # seconds between the page's updates (2 s in production)
WAIT = 15.0


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (name if os.path.exists(name) else None)
        if found:
            return found
    return None


def _require(what: str, path: str | None) -> str:
    if path is None:
        message = f"{what} not found: apt-get install chromium chromium-driver (ci/test.sh does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(sources=3) as lab:
        yield lab


class _Server:
    """uvicorn serving an app on a free loopback port, in a thread."""

    def __init__(self, app: object) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + WAIT
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn did not start"
            assert time.monotonic() < deadline, "uvicorn did not start in time"
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}/"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=WAIT)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    chromium = _require("chromium", _find("chromium", "chromium-browser", "google-chrome"))
    driver_path = _require("chromedriver", _find("chromedriver", "/usr/lib/chromium/chromedriver"))
    options = Options()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--window-size=1400,1250",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _screenshot(driver: WebDriver, name: str) -> Path:
    """Save the whole page (not just the viewport) as ``ARTIFACTS/name``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path = ARTIFACTS / name
    path.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {path}")
    return path


def _wait(driver: WebDriver, what: str, condition: object, timeout: float = WAIT) -> None:
    try:
        WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)
    except TimeoutException:
        _screenshot(driver, "dashboard-failure.png")
        raise AssertionError(f"timed out waiting for {what}") from None


def _updates(driver: WebDriver) -> int:
    return int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-updates") or 0)


def _wait_updates(driver: WebDriver, count: int = 2) -> None:
    """Wait until the script applied ``count`` more snapshots."""
    start = _updates(driver)
    _wait(driver, "the page to refresh", lambda d: _updates(d) >= start + count)


def _banner_shown(driver: WebDriver) -> bool:
    return driver.find_element(By.ID, "error-banner").is_displayed()


_ROWS_JS = """
return Array.from(document.querySelectorAll(arguments[0] + ' tr')).map((tr) => ({
  classes: tr.className.split(' ').filter(Boolean),
  name: tr.querySelector('td.name .primary').textContent,
  text: tr.innerText,
  background: getComputedStyle(tr.cells[0]).backgroundColor,
  opacity: parseFloat(getComputedStyle(tr.cells[0]).opacity),
  bits_on: tr.querySelectorAll('.bit.on').length,
}));
"""


def _rows(driver: WebDriver, tbody: str = "#sources-body") -> list[dict[str, Any]]:
    """The rows of a table as the browser shows them, read in one go."""
    return driver.execute_script(_ROWS_JS, tbody)  # type: ignore[no-any-return]


def _selected_rows(driver: WebDriver) -> list[str]:
    return [row["name"] for row in _rows(driver) if "selected" in row["classes"]]


def test_dashboard_in_chromium_against_real_chronyd(lab: Lab, browser: WebDriver) -> None:
    app = create_app(lab.socket_path, backend="python", timeout=0.5, attempts=2, refresh=REFRESH)
    assert app.state.reader.backend == "python"
    with _Server(app) as url:
        start = time.perf_counter()
        browser.get(url)
        load = time.perf_counter() - start
        assert load < 2.0, f"page took {load:.2f} s"
        _wait(browser, "the first refresh", lambda d: _updates(d) >= 1)

        # -- sections, all from the live chronyd
        for section in ("tracking", "chart", "sources", "sourcestats", "rtc"):
            assert browser.find_element(By.ID, section).is_displayed(), section
        assert not _banner_shown(browser)
        sync = browser.find_element(By.ID, "stat-sync")
        assert "ok" in (sync.get_attribute("class") or "").split()
        assert "Synchronised" in sync.text
        assert browser.find_element(By.CSS_SELECTOR, "#stat-reference .stat-value").text == (
            "127.0.0.1"
        )
        assert browser.find_element(By.ID, "rtc-missing").is_displayed()
        assert "RTC tracking not configured" in browser.find_element(By.ID, "rtc").text

        # -- the selected source is highlighted, the unreachable ones dimmed
        _wait(browser, "the selected source", lambda d: _selected_rows(d) == ["127.0.0.1"])
        rows = {row["name"]: row for row in _rows(browser)}
        assert set(rows) == {"GPS", "127.0.0.1", "127.0.1.1", "127.0.1.2"}
        selected = rows["127.0.0.1"]
        assert "unreachable" not in selected["classes"]
        assert selected["bits_on"] > 0  # the reachability boxes of the last polls
        for name in ("GPS", "127.0.1.1", "127.0.1.2"):  # never answered: dimmed
            assert "unreachable" in rows[name]["classes"]
            assert rows[name]["opacity"] < 1
            assert rows[name]["background"] != selected["background"]
            assert rows[name]["bits_on"] == 0
            assert "4294967295" not in rows[name]["text"]
        assert selected["opacity"] == 1
        stats = _rows(browser, "#sourcestats-body")
        assert len(stats) == 4
        assert [r["name"] for r in stats if "selected" in r["classes"]] == ["127.0.0.1"]

        # -- the chart fills from the history
        _wait(
            browser,
            "the offset chart",
            lambda d: d.find_element(By.ID, "chart-line").get_attribute("d").count("L") >= 2,
        )
        _screenshot(browser, "dashboard.png")

        # -- /metrics from the same app
        with urllib.request.urlopen(url + "metrics", timeout=WAIT) as response:
            text = response.read().decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["chrony_up"].samples[0].value == 1
        assert "chrony_tracking_system_time_seconds" in families

        # -- chronyd dies: the banner appears and the page keeps working
        lab.kill_client()
        _wait(browser, "the error banner", _banner_shown)
        assert "Failed to connect to" in browser.find_element(By.ID, "error-text").text
        _wait_updates(browser)  # still refreshing
        assert _selected_rows(browser) == ["127.0.0.1"]  # the last known values stay
        _screenshot(browser, "dashboard-chronyd-down.png")
        with urllib.request.urlopen(url + "metrics", timeout=WAIT) as response:
            down = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
        assert down["chrony_up"].samples[0].value == 0

        # -- chronyd is back: the page recovers by itself
        lab.restart_client()
        _wait(browser, "the banner to go", lambda d: not _banner_shown(d))

        # -- chronyd hangs (SIGSTOP): requests time out, the page still loads at once
        with lab.paused():
            _wait(browser, "the error banner (timeout)", _banner_shown)
            assert "did not answer" in browser.find_element(By.ID, "error-text").text
            start = time.perf_counter()
            browser.get(url)
            load = time.perf_counter() - start
            assert load < 2.0, f"page took {load:.2f} s with chronyd hung"
            _wait(browser, "the error banner after reload", _banner_shown)
        _wait(browser, "the banner to go", lambda d: not _banner_shown(d))
        _wait(browser, "a selected source again", lambda d: _selected_rows(d) == ["127.0.0.1"])
        _wait_updates(browser)
        assert "ok" in (browser.find_element(By.ID, "stat-sync").get_attribute("class") or "")
        _screenshot(browser, "dashboard-recovered.png")


def test_metrics_over_udp_keep_up_when_reports_are_refused(lab: Lab) -> None:
    """Over UDP chronyd refuses serverstats and selectdata: chrony_up stays 1."""
    if not lab.is_running():
        lab.restart_client()
    app = create_app(lab.udp_address, backend="python", timeout=0.5, attempts=2, poll=False)
    with _Server(app) as url, urllib.request.urlopen(url + "metrics", timeout=WAIT) as response:
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.read().decode())
            for s in family.samples
        }
    assert samples[("chrony_up", ())] == 1
    assert ("chrony_tracking_system_time_seconds", ()) in samples
    success = {
        dict(labels)["collector"]: v
        for (name, labels), v in samples.items()
        if name == "chrony_scrape_collector_success"
    }
    assert success["serverstats"] == 0
    assert success["tracking"] == 1
    assert success["sources"] == 1
    assert not [name for name, _ in samples if name.startswith("chrony_serverstats_")]
