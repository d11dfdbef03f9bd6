"""The dashboard app over scripted chronyd states (Starlette's TestClient, no server)."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from pychrony.dashboard import ChronyReader, create_app
from pychrony.dashboard.metrics import METRIC_REPORTS
from pychrony.dashboard.view import DASH
from pychrony.models import SourceState
from pychrony.registry import REPORTS_BY_NAME
from pychrony.testing import (
    SCENARIO_GPS_REFCLOCK,
    SCENARIO_MULTI_SOURCE,
    SCENARIO_NO_SOURCES,
    SCENARIO_NTP_SYNCED,
    SCENARIO_RTC_AVAILABLE,
    SCENARIO_RTC_UNAVAILABLE,
    SCENARIO_UNSYNC,
    ChronyStateConfig,
    SourceConfig,
    patched_chrony_connection,
)

UNREACHABLE = ChronyStateConfig(error_injection={"open": -111})  # ECONNREFUSED
NO_SERVERSTATS = ChronyStateConfig(
    reference_id=0xC0000264,
    reference_ip="192.0.2.100",
    sources=[SourceConfig(address="192.0.2.100", stratum=1)],
    error_injection={"request:serverstats": 9},  # libchrony's "unauthorised"
)


@contextmanager
def dashboard(config: ChronyStateConfig) -> Iterator[TestClient]:
    """A client of a fresh app reading ``config`` on every request."""
    with patched_chrony_connection(config):
        yield TestClient(create_app(refresh=0, poll=False))


class _Page(HTMLParser):
    """Collects elements by id and the class/text of table rows."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: dict[str, dict[str, str | None]] = {}
        self.rows: dict[str, list[tuple[str, str]]] = {}
        self._tbody: str | None = None
        self._row: list[str] | None = None
        self._row_class = ""
        self._in_template = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "template":
            self._in_template += 1
        if a.get("id"):
            self.ids[a["id"] or ""] = a
        if self._in_template:
            return
        if tag == "tbody":
            self._tbody = a.get("id")
            self.rows[self._tbody or ""] = []
        elif tag == "tr" and self._tbody:
            self._row, self._row_class = [], a.get("class") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self._in_template -= 1
        elif tag == "tbody":
            self._tbody = None
        elif tag == "tr" and self._row is not None and self._tbody and not self._in_template:
            text = " ".join(" ".join(self._row).split())
            self.rows[self._tbody].append((self._row_class, text))
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row is not None and not self._in_template:
            self._row.append(data)


def metrics(client: TestClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(
    samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    matches = [v for lab, v in samples[name] if all(lab.get(k) == x for k, x in labels.items())]
    assert len(matches) == 1, (name, labels, samples.get(name))
    return matches[0]


# -- the page -----------------------------------------------------------------


def test_page_has_every_section_and_loads_fast():
    with dashboard(SCENARIO_MULTI_SOURCE) as client:
        start = time.perf_counter()
        response = client.get("/")
        elapsed = time.perf_counter() - start
    assert response.status_code == 200
    assert elapsed < 2.0
    assert response.headers["content-type"].startswith("text/html")
    page = _Page(response.text)
    for section in ("tracking", "charts", "sources", "sourcestats", "rtc", "error-banner"):
        assert section in page.ids, section
    assert "hidden" in page.ids["error-banner"]  # chronyd answered
    text = response.text
    for label in ("Sync state", "System time offset", "Stratum", "Reference", "Frequency"):
        assert label in text
    for label in ("Root delay", "Root dispersion", "Leap status", "Last update"):
        assert label in text
    assert "Synchronised" in text
    assert "+123us" in text  # the tracking offset, formatted by pychrony.display
    for chart in ("offset", "frequency", "sources"):
        assert f"chart-{chart}" in page.ids
    assert 'src="/static/dashboard.js"' in text


def test_selected_source_highlighted_and_unreachable_dimmed():
    with dashboard(SCENARIO_MULTI_SOURCE) as client:
        page = _Page(client.get("/").text)
    rows = page.rows["sources-body"]
    assert len(rows) == 4
    by_address = {text.split()[0]: cls.split() for cls, text in rows}
    assert "selected" in by_address["192.0.2.100"]
    assert "unreachable" not in by_address["192.0.2.100"]
    assert "unreachable" in by_address["2001:db8::102"]
    assert "selected" not in by_address["2001:db8::102"]
    assert not {"selected", "unreachable"} & set(by_address["192.0.2.101"])
    assert "falseticker" in dict((t.split()[0], t) for _, t in rows)["192.0.2.103"]
    stats = page.rows["sourcestats-body"]
    assert [c for c, t in stats if t.startswith("192.0.2.100")] == ["selected"]


def test_reachability_shown_as_the_last_eight_polls():
    with dashboard(SCENARIO_MULTI_SOURCE) as client:
        html = client.get("/").text
    falseticker = re.search(r'data-key="192\.0\.2\.103".*?</tr>', html, re.S)
    assert falseticker is not None
    bits = re.findall(r'class="bit (on|off)"', falseticker.group(0))
    assert bits == ["on"] + ["off"] * 7  # 0o200: only the oldest poll answered
    assert ">200<" in falseticker.group(0)


def test_never_sampled_source_shows_a_dash():
    with dashboard(SCENARIO_UNSYNC) as client:
        response = client.get("/")
        snapshot = client.get("/api/snapshot").json()
    assert "4294967295" not in response.text
    row = snapshot["view"]["sources"][0]
    assert row["last_rx"] == DASH
    assert row["last_sample"] == DASH
    assert row["stratum"] == DASH  # chronyd's 0 for a source it never sampled
    assert "placeholder" in row["classes"].split()
    assert snapshot["sources"][0]["last_sample_ago"] is None
    assert "Not synchronised" in response.text
    assert snapshot["view"]["tracking"]["sync_class"] == "bad"
    # chronyd's stratum 0 with reference ID 0 (not 16) still reads as unsynchronised
    assert snapshot["view"]["tracking"]["stratum"] == "0"
    assert snapshot["view"]["tracking"]["stratum_detail"] == "unsynchronised"


def test_refclock_and_stats_columns():
    with dashboard(SCENARIO_GPS_REFCLOCK) as client:
        page = _Page(client.get("/").text)
    ((cls, text),) = page.rows["sources-body"]
    assert text.startswith("GPS")
    assert "refclock" in text
    assert "selected" in cls.split()
    ((_, stats),) = page.rows["sourcestats-body"]
    assert stats.split()[:4] == ["GPS", "8", "3", "512s"]


def test_rtc_section():
    with dashboard(SCENARIO_RTC_UNAVAILABLE) as client:
        page = _Page(client.get("/").text)
        assert "hidden" not in page.ids["rtc-missing"]
        assert "hidden" in page.ids["rtc-stats"]
        assert client.get("/api/rtcdata").json() is None
    with dashboard(SCENARIO_RTC_AVAILABLE) as client:
        response = client.get("/")
        page = _Page(response.text)
        rtc = client.get("/api/snapshot").json()["view"]["rtc"]
    assert "hidden" in page.ids["rtc-missing"]
    assert "hidden" not in page.ids["rtc-stats"]
    assert rtc == {
        "configured": True,
        "offset": "+123ms",
        "drift": "-1.234 ppm",
        "samples": "10",
        "runs": "4",
        "span": "24h",
        "last_update": rtc["last_update"],
    }
    assert "RTC tracking not configured" in response.text  # present for the script, hidden


def test_no_sources():
    with dashboard(SCENARIO_NO_SOURCES) as client:
        page = _Page(client.get("/").text)
    assert page.rows["sources-body"] == []
    assert "hidden" not in page.ids["sources-empty"]


def test_error_banner_when_chronyd_unreachable_and_recovery():
    with patched_chrony_connection(UNREACHABLE):
        app = create_app(refresh=0, poll=False)
        client = TestClient(app)
        response = client.get("/")
        assert response.status_code == 200  # the page still loads
        page = _Page(response.text)
        assert "hidden" not in page.ids["error-banner"]
        assert "Failed to connect to" in response.text
        snapshot = client.get("/api/snapshot").json()
        assert snapshot["ok"] is False
        assert "Connection refused" in snapshot["error"]
        assert snapshot["tracking"] is None
        assert client.get("/healthz").json()["chronyd"] == "down"
        assert client.get("/api/tracking").status_code == 503
    with patched_chrony_connection(SCENARIO_NTP_SYNCED):  # chronyd is back
        snapshot = client.get("/api/snapshot").json()
        assert snapshot["ok"] is True
        assert snapshot["error"] is None
        assert snapshot["tracking"]["stratum"] == 2
        assert "hidden" in _Page(client.get("/").text).ids["error-banner"]
        assert client.get("/healthz").json()["chronyd"] == "up"


def test_one_report_failing_shows_in_its_section_only():
    config = ChronyStateConfig(sources=[SourceConfig()], error_injection={"request:sourcestats": 9})
    with dashboard(config) as client:
        snapshot = client.get("/api/snapshot").json()
        page = _Page(client.get("/").text)
    assert snapshot["ok"] is True
    assert "not authorised" in snapshot["errors"]["sourcestats"]
    assert snapshot["sourcestats"] is None
    assert len(snapshot["sources"]) == 1
    assert "hidden" in page.ids["error-banner"]


def test_page_escapes_chronyd_strings():
    config = ChronyStateConfig(
        reference_id=0x3C623E00,  # "<b>" as a reference ID name
        reference_ip="",
        sources=[SourceConfig()],
    )
    with dashboard(config) as client:
        html = client.get("/").text
    assert "&lt;b&gt;" in html
    assert "<b>" not in html


# -- JSON API -------------------------------------------------------------------


@pytest.mark.parametrize("name", list(REPORTS_BY_NAME))
def test_api_every_report(name):
    with dashboard(SCENARIO_RTC_AVAILABLE) as client:
        response = client.get(f"/api/{name}")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body is not None
    if name == "tracking":
        assert body["leap_status"] == "NORMAL"  # enums by name (display.to_json)
        assert body["ref_time_iso"].endswith("Z")
    if REPORTS_BY_NAME[name].multi:
        assert isinstance(body, list)


def test_api_errors():
    with dashboard(NO_SERVERSTATS) as client:
        denied = client.get("/api/serverstats")
        unknown = client.get("/api/nosuchreport")
        index = client.get("/api").json()
    assert denied.status_code == 403
    assert "not authorised" in denied.json()["error"]
    assert unknown.status_code == 404
    assert set(index["reports"]) == set(REPORTS_BY_NAME)


def test_snapshot_shape_and_history():
    with dashboard(SCENARIO_MULTI_SOURCE) as client:
        snapshot = client.get("/api/snapshot").json()
    assert {"tracking", "sources", "sourcestats", "rtcdata", "error", "view"} <= set(snapshot)
    assert snapshot["rtcdata"] is None
    assert snapshot["sources"][0]["state"] == SourceState.SELECTED.name
    charts = snapshot["view"]["charts"]
    ((system,),) = [charts["offset"]["series"]]
    assert system["points"][0][1] == pytest.approx(0.000123456)
    distance = 0.001234 / 2 + 0.002345  # root delay / 2 + root dispersion
    assert system["band"][0][1:] == pytest.approx([0.000123456 - distance, 0.000123456 + distance])
    assert charts["offset"]["latest"] == "+123us ± 2962us"
    assert charts["frequency"]["series"][0]["points"][0][1] == pytest.approx(1.234)
    # one line per reachable, sampled source; the selected one first and marked
    lines = charts["sources"]["series"]
    assert [s["key"] for s in lines] == ["192.0.2.100", "192.0.2.101", "192.0.2.103"]
    assert [s["classes"] for s in lines] == ["selected", "", ""]
    assert charts["sources"]["lines"] == 3


def test_read_only_and_headers():
    with dashboard(SCENARIO_NTP_SYNCED) as client:
        for path in ("/", "/api/tracking", "/metrics", "/healthz", "/api/snapshot"):
            assert client.post(path).status_code == 405
            assert client.delete(path).status_code == 405
        response = client.get("/")
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert client.get("/static/dashboard.js").status_code == 200
        assert client.get("/static/dashboard.css").status_code == 200
        assert client.get("/healthz").json()["status"] == "ok"


def test_one_connection_reused():
    with patched_chrony_connection(SCENARIO_NTP_SYNCED) as sessions:
        client = TestClient(create_app(refresh=0, poll=False))
        for _ in range(3):
            client.get("/api/snapshot")
            client.get("/metrics")
    # One for the page, one for /metrics (its own single-flight reader), each reused.
    assert len(sessions) == 2


def test_a_busy_page_reader_never_delays_a_scrape():
    with patched_chrony_connection(SCENARIO_NTP_SYNCED):
        app = create_app(refresh=0, poll=False)
        client = TestClient(app)
        with app.state.reader._lock:  # as while the poller waits on a hung chronyd
            response = client.get("/metrics")
    assert response.status_code == 200
    assert "chrony_up 1.0" in response.text


def test_cached_reading_shared_between_requests():
    with patched_chrony_connection(SCENARIO_NTP_SYNCED) as sessions:
        client = TestClient(create_app(refresh=60, poll=False))
        client.get("/")
        client.get("/api/snapshot")
        asked = len(sessions[0].requests)
        client.get("/api/snapshot")
        assert len(sessions[0].requests) == asked


def test_poller_runs_with_the_app():
    with patched_chrony_connection(SCENARIO_NTP_SYNCED) as sessions:
        with TestClient(create_app(refresh=0.05)) as client:
            deadline = time.monotonic() + 5
            while not sessions or len(sessions[0].requests) < 6:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            assert client.get("/healthz").json()["chronyd"] == "up"
        assert sessions[0].closed


# -- Prometheus -----------------------------------------------------------------


def test_metrics_carry_tracking_and_sources():
    with dashboard(SCENARIO_MULTI_SOURCE) as client:
        samples = metrics(client)
    assert value(samples, "chrony_up") == 1
    assert value(samples, "chrony_tracking_system_time_seconds") == pytest.approx(0.000123456)
    assert value(samples, "chrony_tracking_last_offset_seconds") == pytest.approx(0.000111222)
    assert value(samples, "chrony_tracking_rms_offset_seconds") == pytest.approx(0.0001)
    assert value(samples, "chrony_tracking_frequency_ppms") == pytest.approx(1.234)
    assert value(samples, "chrony_tracking_stratum") == 2
    assert value(samples, "chrony_tracking_leap_status") == 0
    assert value(samples, "chrony_tracking_info", tracking_refid="C0000264") == 1
    selected = {"source_address": "192.0.2.100", "source_name": "192.0.2.100"}
    assert value(samples, "chrony_sources_state_info", **selected, source_state="sync") == 1
    assert value(samples, "chrony_sources_polling_interval_seconds", **selected) == 64
    assert value(samples, "chrony_sources_reachability_ratio", source_address="192.0.2.103") == (
        0.125
    )
    assert value(samples, "chrony_sourcestats_samples", **selected) == 8
    assert value(samples, "chrony_sourcestats_stddev", **selected) == pytest.approx(0.0001)
    assert value(samples, "chrony_selectdata_score", **selected) == 1.0
    assert value(samples, "chrony_serverstats_ntp_packets_received_total") == 1000
    assert value(samples, "chrony_smoothing_active") == 0
    assert value(samples, "chrony_rtc_tracked") == 0
    for name in METRIC_REPORTS:
        assert value(samples, "chrony_scrape_collector_success", collector=name) == 1


def test_metrics_refclock_labelled_by_reference_name():
    with dashboard(SCENARIO_GPS_REFCLOCK) as client:
        samples = metrics(client)
    gps = {"source_address": "GPS", "source_name": "GPS"}
    assert value(samples, "chrony_sources_state_info", **gps, source_mode="reference clock") == 1
    assert value(samples, "chrony_sourcestats_samples", **gps) == 8
    assert value(samples, "chrony_tracking_info", tracking_name="GPS") == 1


def test_metrics_never_sampled_source_has_no_sample_values():
    with dashboard(SCENARIO_UNSYNC) as client:
        samples = metrics(client)
    assert "chrony_sources_last_sample_age_seconds" not in samples
    assert value(samples, "chrony_sources_reachability_ratio") == 0
    assert value(samples, "chrony_tracking_leap_status") == 3
    assert value(samples, "chrony_tracking_synchronized") == 0


def test_metrics_one_report_failing_keeps_up_and_the_rest():
    with dashboard(NO_SERVERSTATS) as client:
        samples = metrics(client)
    assert value(samples, "chrony_up") == 1
    assert value(samples, "chrony_scrape_collector_success", collector="serverstats") == 0
    assert value(samples, "chrony_scrape_collector_success", collector="tracking") == 1
    assert not [n for n in samples if n.startswith("chrony_serverstats_")]
    assert value(samples, "chrony_tracking_system_time_seconds") == pytest.approx(0.000123456)
    assert "chrony_sources_stratum" in samples
    assert "chrony_smoothing_offset_seconds" in samples


def test_metrics_chronyd_unreachable():
    with dashboard(UNREACHABLE) as client:
        samples = metrics(client)
    assert value(samples, "chrony_up") == 0
    assert "chrony_tracking_system_time_seconds" not in samples
    assert value(samples, "chrony_scrape_collector_success", collector="tracking") == 0


class _HangingConnection:
    """A connection whose chronyd never answers within the timeout."""

    backend = "python"

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls = 0

    def report(self, name: str) -> object:
        from pychrony.exceptions import ChronyTimeoutError

        self.calls += 1
        time.sleep(self.delay)
        raise ChronyTimeoutError("no reply from chronyd")

    def close(self) -> None:
        pass


def test_scrape_bounded_by_the_timeout():
    conn = _HangingConnection(0.1)
    reader = ChronyReader(timeout=0.1, attempts=1, connect=lambda: conn)  # type: ignore[arg-type]
    client = TestClient(create_app(reader=reader, refresh=0, poll=False))
    start = time.perf_counter()
    samples = metrics(client)
    assert time.perf_counter() - start < 1.0
    assert value(samples, "chrony_up") == 0
    assert conn.calls == 1  # gave up after the first timeout instead of asking every report


class _Flaky:
    """A connection answering ``answers`` reads, then failing as a stale session does."""

    backend = "python"

    def __init__(self, answers: int) -> None:
        self.answers = answers
        self.closed = False

    def report(self, name: str) -> object:
        from pychrony.exceptions import ChronyConnectionError

        if self.answers <= 0:
            raise ChronyConnectionError("Lost the connection to chronyd")
        self.answers -= 1
        return None

    def close(self) -> None:
        self.closed = True


def test_reconnects_at_once_after_a_stale_session():
    made: list[_Flaky] = []

    def connect() -> _Flaky:
        made.append(_Flaky(answers=1 if not made else 100))
        return made[-1]

    reader = ChronyReader(connect=connect)  # type: ignore[arg-type]
    assert reader.read(["rtcdata"]).failure is None
    assert reader.read(["rtcdata"]).failure is None  # chronyd restarted: retried at once
    assert len(made) == 2
    assert made[0].closed


def test_fresh_connection_failing_is_reported():
    made: list[_Flaky] = []

    def connect() -> _Flaky:
        made.append(_Flaky(answers=0))
        return made[-1]

    reader = ChronyReader(connect=connect)  # type: ignore[arg-type]
    reading = reader.read(["tracking", "sources"])
    assert "Lost the connection" in str(reading.failure)
    assert reading.values == {}
    assert len(made) == 1  # no retry of a connection that never worked
    assert reader.last_error is not None


def test_serve_binds_loopback_by_default(monkeypatch):
    import uvicorn

    import pychrony.dashboard as dashboard_module

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    dashboard_module.serve("/run/chrony/chronyd.sock", timeout=0.5, attempts=2, backend="python")
    ((app, kwargs),) = calls
    assert kwargs["host"] == "127.0.0.1"
    assert kwargs["port"] == 8323
    reader = app.state.reader
    assert (reader.address, reader.timeout, reader.attempts) == ("/run/chrony/chronyd.sock", 0.5, 2)


def test_page_answers_from_cache_while_a_read_is_stuck():
    with patched_chrony_connection(SCENARIO_NTP_SYNCED):
        app = create_app(refresh=0, poll=False)
        client = TestClient(app)
        assert client.get("/api/snapshot").json()["ok"]
        reader = app.state.reader
        with reader._lock:  # as while the poller waits on a hung chronyd
            start = time.perf_counter()
            assert client.get("/").status_code == 200
            assert client.get("/api/snapshot").json()["ok"]
            assert time.perf_counter() - start < 0.5


# -- outages: last-known values with their age ---------------------------------


class _Switch:
    """A connection to the scripted chronyd that can be cut (``down``) and restored."""

    backend = "python"

    def __init__(self, conn: object) -> None:
        self.conn = conn
        self.down = False

    def report(self, name: str) -> object:
        from pychrony.exceptions import ChronyConnectionError

        if self.down:
            raise ChronyConnectionError("Cannot connect to chronyd (scripted outage)")
        return self.conn.report(name)  # type: ignore[attr-defined]

    def close(self) -> None:
        pass


@contextmanager
def switchable(config: ChronyStateConfig) -> Iterator[tuple[TestClient, _Switch]]:
    from pychrony import ChronyConnection

    with patched_chrony_connection(config):
        switch = _Switch(ChronyConnection())
        reader = ChronyReader(connect=lambda: switch)  # type: ignore[arg-type,return-value]
        yield TestClient(create_app(reader=reader, refresh=0, poll=False)), switch


def test_fresh_load_during_an_outage_shows_the_last_known_values_with_their_age():
    with switchable(SCENARIO_MULTI_SOURCE) as (client, switch):
        assert client.get("/api/snapshot").json()["view"]["stale"] == {}
        switch.down = True
        time.sleep(1.1)  # the values age
        response = client.get("/")  # a fresh load, during the outage
        snapshot = client.get("/api/snapshot").json()
        page = _Page(response.text)
        view = snapshot["view"]
        assert snapshot["ok"] is False  # the API tells
        assert snapshot["tracking"] is None
        assert set(view["stale"]) == {"tracking", "sources", "sourcestats", "rtcdata"}
        for note in view["stale"].values():
            assert re.fullmatch(r"as of \d\d:\d\d:\d\d, 1s ago", note), note
        assert view["status"]["state"] == "stale"
        assert view["status"]["last_read"] != view["status"]["last_attempt"]
        assert "last known, as of" in view["status"]["hint"]
        # the page: values, dimmed, with their age; no "no data yet" anywhere
        assert "hidden" not in page.ids["error-banner"]
        assert "+123us" in response.text
        for section in ("tracking", "sources", "sourcestats", "rtc", "charts"):
            assert "stale" in (page.ids[section]["class"] or "").split(), section
        shown = re.findall(r"<p class=\"empty\"([^>]*)>No data from chronyd yet", response.text)
        assert shown
        assert all("hidden" in attrs for attrs in shown)
        assert len(page.rows["sources-body"]) == 4
        assert view["sync"]["sync_label"] == "Unknown"
        assert "last known: synchronised to 192.0.2.100" in view["sync"]["sync_detail"]
        assert view["charts"]["offset"]["lines"] == 1  # the history is still drawn
        # chronyd is back: current at the next read
        switch.down = False
        view = client.get("/api/snapshot").json()["view"]
        assert view["stale"] == {}
        assert view["status"]["state"] == "live"
        assert view["sync"]["sync_label"] == "Synchronised"
        page = _Page(client.get("/").text)
        assert "stale" not in (page.ids["tracking"]["class"] or "").split()


def test_no_data_yet_only_when_there_never_was_any():
    with dashboard(UNREACHABLE) as client:
        response = client.get("/")
        view = client.get("/api/snapshot").json()["view"]
    assert view["stale"] == {}
    assert view["status"]["state"] == "never"
    assert view["status"]["last_read"] == "never"
    assert "no data from chronyd yet" in view["status"]["hint"]
    assert view["tracking"] is None
    assert view["sources"] is None
    body = response.text.split('<script type="application/json"')[0]
    assert body.count("No data from chronyd yet.") == 4  # tracking, 2 tables, RTC


# -- chronyd's placeholders ------------------------------------------------------

# What chronyd reports for sources without a regression (sourcestats.c: the
# worst-case bounds, and zeros where there is no sample at all).
NEVER_SAMPLED = dataclasses.replace(
    SCENARIO_UNSYNC.sources[0],  # never sampled: chronyd's "?" and placeholders
    address="192.0.2.110",
)
TWO_SAMPLES = SourceConfig(
    address="192.0.2.111",
    state=SourceState.NONSELECTABLE,
    reachability=3,
    last_sample_ago=5,
    samples=2,
    runs=0,
    span=64,
    std_dev=4.0,
    resid_freq=0.0,
    stats_skew=2000.0,
    stats_offset=0.000321,
    offset_err=4.1,
)
PLACEHOLDERS = ChronyStateConfig(
    reference_id=0xC0000264,
    reference_ip="192.0.2.100",
    sources=[SourceConfig(address="192.0.2.100", stratum=1), NEVER_SAMPLED, TWO_SAMPLES],
)


def test_placeholders_are_dashes_and_dim_the_row_in_every_table():
    with dashboard(PLACEHOLDERS) as client:
        page = _Page(client.get("/").text)
        snapshot = client.get("/api/snapshot").json()
    assert snapshot["sourcestats"][1]["skew"] == 2000.0  # the API keeps chronyd's values
    assert snapshot["sourcestats"][1]["std_dev"] == 4.0
    sources = dict((t.split()[0], (c.split(), t)) for c, t in page.rows["sources-body"])
    stats = dict((t.split()[0], (c.split(), t)) for c, t in page.rows["sourcestats-body"])
    # never sampled: dimmed in both tables, every stand-in a dash
    assert "placeholder" in sources["192.0.2.110"][0]
    assert "placeholder" in stats["192.0.2.110"][0]
    assert stats["192.0.2.110"][1].split()[1:] == ["0", "0", DASH, DASH, DASH, DASH, DASH]
    # two samples, no regression yet: the last sample's offset (no ± of 4 s), the
    # fit's values dashes; a real sample, so the row is not dimmed
    assert "placeholder" not in stats["192.0.2.111"][0]
    assert stats["192.0.2.111"][1].split()[1:] == ["2", "0", "64s", "+321us", DASH, DASH, DASH]
    # a fitted source keeps its values
    assert "2000" not in " ".join(t for _, t in stats.values())
    assert stats["192.0.2.100"][1].split()[7:9] == ["100us", "0.005"]
    assert "placeholder" not in sources["192.0.2.100"][0]


# -- history ---------------------------------------------------------------------


def _tracking(offset: float = 1e-6) -> object:
    from pychrony.testing import patched_chrony_connection as patched

    with patched(ChronyStateConfig(offset=offset)):
        from pychrony import ChronyConnection

        with ChronyConnection() as conn:
            return conn.get_tracking()


def test_history_window_is_an_app_parameter():
    with patched_chrony_connection(SCENARIO_MULTI_SOURCE):
        app = create_app(refresh=0, poll=False, history=120)
        client = TestClient(app)
        assert app.state.reader.history.window == 120
        assert 'id="history-window">120s<' in client.get("/").text
        assert client.get("/api/snapshot").json()["view"]["charts"]["offset"]["window"] <= 120


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "600", 2 * 86400])
def test_history_rejects_bad_windows(bad):
    from pychrony.exceptions import ChronyError

    with pytest.raises(ChronyError, match="history must be"):
        create_app(history=bad, poll=False)


def test_history_is_bounded_by_its_window():
    from pychrony.dashboard.history import History

    t = _tracking()
    history = History(60, min_interval=2)
    for i in range(1000):
        history.add_tracking(1000.0 + i, t)  # every second: half are too close
    assert len(history) == history.maxlen == 31
    points = history.tracking(1999.0)
    assert [p[0] for p in points[:2]] == [1940.0, 1942.0]  # the last minute only
    assert points[-1][1:] == pytest.approx((1e-6, 0.001234 / 2 + 0.002345, 1.234))


def test_history_of_sources_keeps_reachable_sampled_ones_and_forgets_the_gone():
    from pychrony import ChronyConnection
    from pychrony.dashboard.history import History

    with patched_chrony_connection(SCENARIO_MULTI_SOURCE), ChronyConnection() as conn:
        sources = conn.get_sources()
    history = History(120, min_interval=2)
    for i in range(10):
        history.add_sources(1000.0 + 3 * i, sources)
    tracks = history.sources(1027.0)
    assert set(tracks) == {"192.0.2.100", "192.0.2.101", "192.0.2.103"}  # not .102: reach 0
    assert tracks["192.0.2.100"][-1] == (1027.0 - 32, pytest.approx(0.000123456))
    history.add_sources(1030.0, sources[1:])  # the selected source left
    assert "192.0.2.100" not in history.sources(1030.0)
    short = History(60)
    short.add_sources(1027.0, sources)
    assert "192.0.2.101" not in short.sources(1027.0)  # its last sample is 64 s old
    history.add_sources(2000.0, [])
    assert len(history) == 0  # everything left the window


def test_kept_history_memory_is_bounded():
    """Measures the bytes a full window keeps and checks a second window adds none."""
    import tracemalloc

    from pychrony import ChronyConnection
    from pychrony.dashboard.history import History

    with patched_chrony_connection(SCENARIO_MULTI_SOURCE), ChronyConnection() as conn:
        t, sources = conn.get_tracking(), conn.get_sources()
    history = History(600, min_interval=2)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(301):
            history.add_tracking(2.0 * i, t)
            history.add_sources(2.0 * i + 40, sources)
        full = tracemalloc.get_traced_memory()[0] - base
        for i in range(301, 1000):
            history.add_tracking(2.0 * i, t)
            history.add_sources(2.0 * i + 40, sources)
        later = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    points = len(history)
    assert points == 4 * 301  # tracking plus three reachable sources, each full
    assert full / points < 40, f"{full / points:.0f} bytes per point"  # C doubles, no objects
    assert later <= full * 1.05, (full, later)


def test_long_history_is_thinned_for_the_page_keeping_spikes_and_the_newest():
    from pychrony.dashboard.history import MAX_POINTS, History

    t = _tracking()
    history = History(86400, min_interval=2)
    for i in range(5000):
        offset = 0.5 if i == 1234 else 1e-6 * (i % 7)
        history.add_tracking(2.0 * i, dataclasses.replace(t, offset=offset))
    points = history.tracking(2.0 * 4999)
    assert len(points) <= MAX_POINTS + 1
    assert max(p[1] for p in points) == 0.5  # the spike survived the thinning
    assert points[-1][0] == 2.0 * 4999  # and the newest point
    assert [p[0] for p in points] == sorted(p[0] for p in points)


def test_history_keeps_recording_after_the_clock_stepped_back():
    from pychrony.dashboard.history import History

    t = _tracking()
    history = History(600, min_interval=2)
    history.add_tracking(10_000.0, t)
    history.add_tracking(9_000.0, t)  # the wall clock stepped back 1000 s
    history.add_tracking(9_002.0, t)
    assert len(history) == 3


def test_source_lines_break_where_samples_stop_for_long():
    from pychrony.dashboard.charts import sources_chart

    points = [(1000.0 + 64 * i, 1e-6) for i in range(5)] + [(2000.0, 2e-6)]  # then a gap
    chart = sources_chart({"192.0.2.1": points}, {}, {"192.0.2.1"}, 2000.0, 3600, gap=7.0)
    (series,) = chart["series"]
    assert series["gap"] == 4 * 64  # four polls without a sample break the line...
    steps = [a[0] - b[0] for a, b in zip(series["points"], series["points"][1:], strict=False)]
    assert max(steps) > series["gap"]  # ...as after the fourth sample here
    assert series["classes"] == "selected"
