"""The dashboard in headless Chromium against a real chronyd (pychrony.lab), python backend.

Needs Debian's ``chromium`` and ``chromium-driver`` (ci/test.sh installs them) and
chronyd (the lab installs it). Screenshots of each state land in ``build/screenshots/``
(override with ``PYCHRONY_SCREENSHOTS``); the test log lists them at its end
(``conftest.py``).
"""

from __future__ import annotations

import base64
import json
import os
import re
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
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from pychrony.dashboard import create_app
from pychrony.dashboard.view import DASH
from pychrony.lab import Lab

pytestmark = pytest.mark.integration

WIDTHS = (360, 768, 1400)  # a phone, a tablet, a desktop
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


def _screenshot(driver: WebDriver, name: str, whole: bool = True) -> Path:
    """Save the whole page (``whole``; else the viewport, where a hover stays) under
    ``$PYCHRONY_SCREENSHOTS`` (``build/screenshots`` by default: see conftest.py)."""
    folder = Path(os.environ["PYCHRONY_SCREENSHOTS"])
    folder.mkdir(parents=True, exist_ok=True)
    if whole:
        size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        options = {"format": "png", "captureBeyondViewport": True, "clip": clip}
    else:
        options = {"format": "png"}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", options)
    path = folder / name
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


def _viewport(driver: WebDriver, width: int, height: int = 900) -> None:
    """Emulate a screen ``width`` CSS pixels wide (a phone at 360)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500},
    )


def _snapshot(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "api/snapshot", timeout=WAIT) as response:
        return json.load(response)  # type: ignore[no-any-return]


def _chronyd_state(url: str) -> str:
    with urllib.request.urlopen(url + "healthz", timeout=WAIT) as response:
        return str(json.load(response)["chronyd"])


_CHARTS_JS = """
const out = {};
document.querySelectorAll('figure.chart').forEach((f) => {
  out[f.dataset.chart] = {
    lines: Array.from(f.querySelectorAll('.lines path')).map((p) => ({
      key: p.dataset.key, classes: p.getAttribute('class'),
      points: (p.getAttribute('d').match(/[ML]/g) || []).length,
      width: parseFloat(getComputedStyle(p).strokeWidth),
    })),
    bands: f.querySelectorAll('.bands path').length,
    legend: Array.from(f.querySelectorAll('.legend li')).map((li) => li.textContent),
  };
});
return out;
"""


def _charts(driver: WebDriver) -> dict[str, Any]:
    return driver.execute_script(_CHARTS_JS)  # type: ignore[no-any-return]


_LAYOUT_JS = """
const doc = document.documentElement;
const top = (el) => el.getBoundingClientRect().top;
const first = document.querySelector('main .stat');
const tops = Array.from(document.querySelectorAll('main .stat, main .chart, main table'))
  .filter((el) => el !== first && el.getClientRects().length).map(top);
const wraps = Array.from(document.querySelectorAll('.table-wrap'));
return {
  scrollWidth: doc.scrollWidth, innerWidth: window.innerWidth,
  first: first.id, firstTop: top(first), othersTop: Math.min(...tops),
  tableScrolls: wraps.map((w) => w.scrollWidth > w.clientWidth),
  tableOverflow: wraps.map((w) => getComputedStyle(w).overflowX),
  fontSize: parseFloat(getComputedStyle(document.body).fontSize),
  widest: Math.max(...Array.from(document.querySelectorAll('body *'))
    .filter((el) => !el.closest('.table-wrap'))
    .map((el) => el.getBoundingClientRect().right)),
};
"""


@pytest.fixture(scope="module")
def served(lab: Lab) -> Iterator[str]:
    """The dashboard of the lab's chronyd, served for the whole module (its history
    fills while the tests run)."""
    app = create_app(lab.socket_path, backend="python", timeout=0.5, attempts=2, refresh=REFRESH)
    assert app.state.reader.backend == "python"
    with _Server(app) as url:
        deadline = time.monotonic() + WAIT
        while _snapshot(url)["view"]["charts"]["offset"]["count"] < 3:
            assert time.monotonic() < deadline, "the history did not fill"
            time.sleep(0.2)
        yield url


def test_live_page_in_chromium_against_real_chronyd(served: str, browser: WebDriver) -> None:
    url = served
    start = time.perf_counter()
    browser.get(url)
    load = time.perf_counter() - start
    assert load < 2.0, f"page took {load:.2f} s"
    _wait(browser, "the first refresh", lambda d: _updates(d) >= 1)
    _sections_show_the_live_chronyd(browser)
    _selected_source_highlighted_unreachable_dimmed(browser)
    _never_sampled_stand_ins_hidden(browser)
    _charts_have_their_lines(browser, url)
    _hover_shows_value_and_time(browser)
    _metrics_from_the_same_app(url)


def _sections_show_the_live_chronyd(browser: WebDriver) -> None:
    """Sections, all from the live chronyd."""
    for section in ("tracking", "charts", "sources", "sourcestats", "rtc"):
        assert browser.find_element(By.ID, section).is_displayed(), section
    assert not _banner_shown(browser)
    assert not browser.find_elements(By.CSS_SELECTOR, ".panel.stale")
    assert browser.find_element(By.ID, "last-read-ago").text == "just now"
    sync = browser.find_element(By.ID, "stat-sync")
    assert "ok" in (sync.get_attribute("class") or "").split()
    assert "Synchronised" in sync.text
    reference = browser.find_element(By.CSS_SELECTOR, "#stat-reference .stat-value")
    assert reference.text == "127.0.0.1"
    assert browser.find_element(By.ID, "rtc-missing").is_displayed()
    assert "RTC tracking not configured" in browser.find_element(By.ID, "rtc").text


def _selected_source_highlighted_unreachable_dimmed(browser: WebDriver) -> None:
    """The selected source is highlighted, the unreachable ones dimmed."""
    _wait(browser, "the selected source", lambda d: _selected_rows(d) == ["127.0.0.1"])
    rows = {row["name"]: row for row in _rows(browser)}
    assert set(rows) == {"GPS", "127.0.0.1", "127.0.1.1", "127.0.1.2"}
    selected = rows["127.0.0.1"]
    assert "unreachable" not in selected["classes"]
    assert selected["bits_on"] > 0  # the reachability boxes of the last polls
    for name in ("GPS", "127.0.1.1", "127.0.1.2"):  # never answered: dimmed
        assert {"unreachable", "placeholder"} <= set(rows[name]["classes"])
        assert rows[name]["opacity"] < 1
        assert rows[name]["background"] != selected["background"]
        assert rows[name]["bits_on"] == 0
        assert "4294967295" not in rows[name]["text"]
    assert selected["opacity"] == 1


def _never_sampled_stand_ins_hidden(browser: WebDriver) -> None:
    """Never-sampled sources: chronyd's stand-ins (2000 ppm, 4 s) are not shown."""
    stats = {row["name"]: row for row in _rows(browser, "#sourcestats-body")}
    assert len(stats) == 4
    assert [n for n, r in stats.items() if "selected" in r["classes"]] == ["127.0.0.1"]
    for name in ("GPS", "127.0.1.1", "127.0.1.2"):
        assert "placeholder" in stats[name]["classes"]
        assert stats[name]["opacity"] < 1
        assert "2000" not in stats[name]["text"]
        assert "4000" not in stats[name]["text"]
        assert "4.000s" not in stats[name]["text"]
        assert stats[name]["text"].split()[1:3] == ["0", "0"]  # samples, runs: real zeros
        assert stats[name]["text"].count(DASH) == 5  # span, offset, std dev, skew, freq
    assert stats["127.0.0.1"]["opacity"] == 1


def _charts_have_their_lines(browser: WebDriver, url: str) -> None:
    """The charts: one system line with its band, one frequency line, one line per reachable
    source (the lab has one), the selected one emphasised."""
    _wait(browser, "the charts", lambda d: _charts(d)["offset"]["lines"][:1] != [])
    charts = _charts(browser)
    api = _snapshot(url)["view"]["charts"]
    assert [c["lines"] for c in api.values()] == [1, 1, 1]
    (system,) = charts["offset"]["lines"]
    assert charts["offset"]["bands"] == 1
    assert system["points"] >= 3
    (frequency,) = charts["frequency"]["lines"]
    assert charts["frequency"]["bands"] == 0
    assert frequency["points"] >= 3
    (source,) = charts["sources"]["lines"]
    assert source["key"] == "127.0.0.1"
    assert "selected" in source["classes"].split()
    assert source["width"] > 2


def _hover_shows_value_and_time(browser: WebDriver) -> None:
    """Hovering shows the value and the time of the nearest point."""
    for chart, word in (("offset", "offset"), ("frequency", "ppm"), ("sources", "127.0.0.1")):
        plot = browser.find_element(By.CSS_SELECTOR, f"#chart-{chart} .chart-plot")
        ActionChains(browser).move_to_element(plot).perform()
        tip = browser.find_element(By.CSS_SELECTOR, f"#chart-{chart} .chart-tip")
        _wait(browser, f"the {chart} tooltip", lambda d, tip=tip: tip.is_displayed())
        assert re.search(r"\d\d:\d\d:\d\d", tip.text), tip.text
        assert word in tip.text
        if chart == "offset":
            _screenshot(browser, "dashboard-live-hover.png", whole=False)
    ActionChains(browser).move_by_offset(0, 400).perform()


def _metrics_from_the_same_app(url: str) -> None:
    """/metrics from the same app."""
    with urllib.request.urlopen(url + "metrics", timeout=WAIT) as response:
        text = response.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["chrony_up"].samples[0].value == 1
    assert "chrony_tracking_system_time_seconds" in families


@pytest.mark.parametrize("width", WIDTHS)
def test_layout_fits_the_screen(served: str, browser: WebDriver, width: int) -> None:
    _viewport(browser, width)
    browser.get(served)
    _wait(browser, "the first refresh", lambda d: _updates(d) >= 1)
    layout = browser.execute_script(_LAYOUT_JS)
    assert layout["innerWidth"] == width
    assert layout["scrollWidth"] <= layout["innerWidth"], layout
    assert layout["widest"] <= width + 0.5, layout  # nothing pokes out, clipped or not
    assert layout["first"] == "stat-sync"  # the status card first...
    assert layout["firstTop"] <= layout["othersTop"]  # ...and at the top
    assert layout["tableOverflow"] == ["auto", "auto"]
    if width == 360:
        assert all(layout["tableScrolls"])  # the tables scroll inside their own box
    if width == 1400:
        assert not any(layout["tableScrolls"])
    assert layout["fontSize"] >= 14
    _screenshot(browser, f"dashboard-{width}px.png")


def test_sigstopped_chronyd_fresh_load_shows_last_known_values(
    lab: Lab, served: str, browser: WebDriver
) -> None:
    url = served
    with lab.paused():
        deadline = time.monotonic() + WAIT
        while _chronyd_state(url) != "down":
            assert time.monotonic() < deadline, "the dashboard did not notice chronyd hang"
            time.sleep(0.1)
        time.sleep(2.0)  # an outage of a few seconds: the ages and the last attempt move on
        for width in (360, 1400):
            _viewport(browser, width)
            start = time.perf_counter()
            browser.get(url)  # a fresh load, during the outage
            load = time.perf_counter() - start
            assert load < 2.0, f"page took {load:.2f} s with chronyd hung"
            assert _banner_shown(browser)
            assert "did not answer" in browser.find_element(By.ID, "error-text").text
            hint = browser.find_element(By.ID, "error-hint").text
            assert re.search(r"last known, as of \d\d:\d\d:\d\d, \S+ ago", hint), hint
            # the last-known values are there, dimmed, with their age
            offset = browser.find_element(By.CSS_SELECTOR, "#stat-offset .stat-value").text
            assert re.fullmatch(r"[+-]\d+(\.\d)?(ns|us|ms|s|m|h|d|y)", offset), offset
            assert browser.find_element(By.CSS_SELECTOR, "#stat-reference .stat-value").text == (
                "127.0.0.1"
            )
            for section in ("tracking", "sources", "sourcestats", "charts"):
                panel = browser.find_element(By.ID, section)
                assert "stale" in (panel.get_attribute("class") or "").split(), section
            note = browser.find_element(By.CSS_SELECTOR, "#tracking .as-of")
            assert re.fullmatch(r"as of \d\d:\d\d:\d\d, \S+ ago", note.text), note.text
            assert "No data" not in browser.find_element(By.TAG_NAME, "main").text
            assert _selected_rows(browser) == ["127.0.0.1"]
            sync = browser.find_element(By.ID, "stat-sync").text
            assert "Unknown" in sync
            assert "last known: synchronised to 127.0.0.1" in sync
            # the header tells the last good read from the last attempt
            read = browser.find_element(By.ID, "last-read").text
            attempt = browser.find_element(By.ID, "last-attempt").text
            assert read < attempt, (read, attempt)
            assert _charts(browser)["offset"]["lines"]  # the history is still drawn
            assert browser.execute_script(_LAYOUT_JS)["scrollWidth"] <= width
            _wait_updates(browser)  # the page keeps asking; the age grows
            _screenshot(browser, f"dashboard-sigstop-{width}px.png")
    resumed = time.monotonic()
    _wait(browser, "the banner to go", lambda d: not _banner_shown(d))
    recovery = time.monotonic() - resumed
    assert recovery < 5.0, f"recovery took {recovery:.1f} s"
    _wait(browser, "current values", lambda d: not d.find_elements(By.CSS_SELECTOR, ".panel.stale"))
    assert not browser.find_element(By.CSS_SELECTOR, "#tracking .as-of").is_displayed()
    assert browser.find_element(By.ID, "last-read-ago").text == "just now"
    assert "Synchronised" in browser.find_element(By.ID, "stat-sync").text
    _screenshot(browser, "dashboard-recovered-1400px.png")


def test_page_before_any_answer_says_no_data_yet(tmp_path: Path, browser: WebDriver) -> None:
    app = create_app(str(tmp_path / "chronyd.sock"), backend="python", timeout=0.2, attempts=1)
    with _Server(app) as url:
        browser.get(url)
        _wait(browser, "the first refresh", lambda d: _updates(d) >= 1)
        assert _banner_shown(browser)
        assert "no data from chronyd yet" in browser.find_element(By.ID, "error-hint").text
        assert browser.find_element(By.ID, "last-read").text == "never"
        main = browser.find_element(By.TAG_NAME, "main").text
        assert main.count("No data from chronyd yet.") == 4  # tracking, 2 tables, RTC
        offset = browser.find_element(By.CSS_SELECTOR, "#stat-offset .stat-value").text
        assert offset == DASH
        assert not browser.find_elements(By.CSS_SELECTOR, ".as-of:not([hidden])")
        _screenshot(browser, "dashboard-no-data-yet.png")


def test_chronyd_killed_and_restarted(lab: Lab, served: str, browser: WebDriver) -> None:
    url = served
    browser.get(url)
    _wait(browser, "the selected source", lambda d: _selected_rows(d) == ["127.0.0.1"])
    lab.kill_client()
    try:
        _wait(browser, "the error banner", _banner_shown)
        assert "Failed to connect to" in browser.find_element(By.ID, "error-text").text
        _wait_updates(browser)  # still refreshing
        assert _selected_rows(browser) == ["127.0.0.1"]  # the last known values stay
        _screenshot(browser, "dashboard-chronyd-down.png")
        with urllib.request.urlopen(url + "metrics", timeout=WAIT) as response:
            down = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
        assert down["chrony_up"].samples[0].value == 0
    finally:
        lab.restart_client()
    _wait(browser, "the banner to go", lambda d: not _banner_shown(d))
    _wait(browser, "a selected source again", lambda d: _selected_rows(d) == ["127.0.0.1"])
    assert "ok" in (browser.find_element(By.ID, "stat-sync").get_attribute("class") or "")


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
