"""The exporter over scripted chronyd states: collector, scrape deadline, app, flags.

Real chronyd (parity with chronyc, a SIGSTOPped chronyd, TLS with a real client):
tests/integration/test_exporter_lab.py.
"""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import bcrypt
import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry
from starlette.testclient import TestClient

from pychrony.exceptions import ChronyError, ChronyTimeoutError
from pychrony.exporter import (
    ALL_COLLECTORS,
    COLLECTORS,
    FAMILIES,
    FAMILIES_BY_NAME,
    ChronyCollector,
    ScrapeReader,
)
from pychrony.exporter.command import (
    _warn_if_exposed,
    build_parser,
    collectors_of,
    main,
    parse_duration,
)
from pychrony.exporter.listen import bind, is_loopback, parse_listen
from pychrony.exporter.logs import setup_logging
from pychrony.exporter.web import create_app
from pychrony.exporter.webconfig import ExporterConfigError, WebConfig, load_web_config
from pychrony.testing import (
    SCENARIO_GPS_REFCLOCK,
    SCENARIO_MULTI_SOURCE,
    SCENARIO_NTP_SYNCED,
    SCENARIO_SERVING_CLIENTS,
    ChronyStateConfig,
    patched_chrony_connection,
)

EVERY = (*ALL_COLLECTORS, "ntpdata", "clients")
UNREACHABLE = ChronyStateConfig(error_injection={"open": -111})


def scrape(config: ChronyStateConfig, collectors=EVERY, **kw) -> dict[str, list]:
    """Samples by name of one collect() through a ScrapeReader over ``config``."""
    with patched_chrony_connection(config):
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ChronyCollector(ScrapeReader(deadline=2.0), collectors, **kw))
        from prometheus_client import generate_latest

        text = generate_latest(registry).decode()
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples, name, **labels) -> float:
    matches = [v for lab, v in samples[name] if all(lab.get(k) == x for k, x in labels.items())]
    assert len(matches) == 1, (name, labels, samples.get(name))
    return matches[0]


# -- the family table and what the collector emits ---------------------------------------


def test_every_emitted_family_is_in_the_table_with_its_type_and_labels():
    with patched_chrony_connection(SCENARIO_MULTI_SOURCE):
        collector = ChronyCollector(ScrapeReader(deadline=2.0), EVERY)
        emitted = list(collector.collect())
    seen = set()
    for family in emitted:
        name = family.name + ("_total" if family.type == "counter" else "")
        spec = FAMILIES_BY_NAME[name]
        assert family.type == spec.kind, name
        assert family.documentation == spec.help
        for sample in family.samples:
            labels = set(sample.labels) - ({"le"} if sample.name.endswith("_bucket") else set())
            assert tuple(sorted(labels)) == tuple(sorted(spec.labels)), name
        seen.add(name)
    # Every family of the table comes out of this scenario (no RTC: rtc_tracked only;
    # the probe's duration comes from /probe: tests/test_exporter_probe.py).
    missing = {f.name for f in FAMILIES if f.collector != "probe"} - seen
    assert missing == {
        "chrony_rtc_offset_seconds",
        "chrony_rtc_frequency_ppms",
        "chrony_rtc_samples",
        "chrony_rtc_reference_timestamp_seconds",
    }


def test_table_collectors_exist_and_help_is_unique():
    assert {f.collector for f in FAMILIES} == {"scrape", "probe", *COLLECTORS}
    assert len({f.name for f in FAMILIES}) == len(FAMILIES)
    for f in FAMILIES:
        assert f.help.endswith("."), f.name
        assert len(f.help) > 20, f.name


def test_system_time_help_says_negative_when_fast():
    help_text = FAMILIES_BY_NAME["chrony_tracking_system_time_seconds"].help
    assert "negative when the clock is fast" in help_text
    assert "positive: fast" not in help_text


def test_state_info_has_chrony_exporters_labels_only():
    samples = scrape(SCENARIO_MULTI_SOURCE)
    labels = {tuple(sorted(lab)) for lab, _ in samples["chrony_sources_state_info"]}
    assert labels == {("source_address", "source_mode", "source_name", "source_state")}
    states = {lab["source_state"] for lab, _ in samples["chrony_sources_state_info"]}
    assert states == {"sync", "outlier", "candidate", "falseticker"}


def test_values_and_signs_come_from_the_reports():
    samples = scrape(SCENARIO_MULTI_SOURCE)
    assert value(samples, "chrony_up") == 1
    assert value(samples, "chrony_tracking_system_time_seconds") == pytest.approx(0.000123456)
    assert value(samples, "chrony_tracking_frequency_ppms") == pytest.approx(1.234)
    src = {"source_address": "192.0.2.103"}
    assert value(samples, "chrony_sources_last_sample_offset_seconds", **src) == pytest.approx(
        1.23456789
    )
    assert value(samples, "chrony_sources_reachability_ratio", **src) == 0.125
    assert value(samples, "chrony_sources_reachability_success", **src) == 0
    assert value(samples, "chrony_sources_reachability", **src) == 128
    for name in EVERY:
        assert value(samples, "chrony_scrape_collector_success", collector=name) == 1


def test_ntpdata_peer_metrics_labelled_like_sources():
    from pychrony import ChronyConnection

    with patched_chrony_connection(SCENARIO_MULTI_SOURCE), ChronyConnection() as conn:
        ntp = {n.remote_address: n for n in conn.get_ntp_data()}
    samples = scrape(SCENARIO_MULTI_SOURCE)
    for address, n in ntp.items():
        labels = {"source_address": address, "source_name": address}
        assert value(samples, "chrony_sources_peer_offset_seconds", **labels) == n.offset
        assert value(samples, "chrony_sources_peer_delay_seconds", **labels) == n.peer_delay
        jitter = value(samples, "chrony_sources_peer_jitter_asymmetry_seconds", **labels)
        assert jitter == n.jitter_asymmetry
    assert len(samples["chrony_sources_peer_offset_seconds"]) == len(ntp) > 0


def test_refclock_named_by_reference_id_and_tracking_info():
    samples = scrape(SCENARIO_GPS_REFCLOCK)
    gps = {"source_address": "GPS", "source_name": "GPS"}
    assert value(samples, "chrony_sources_state_info", **gps, source_mode="reference clock") == 1
    assert value(samples, "chrony_tracking_info", tracking_address="GPS", tracking_name="GPS") == 1


def test_only_enabled_collectors_and_chrony_exporter_defaults():
    samples = scrape(SCENARIO_MULTI_SOURCE, collectors=("tracking",))
    assert {lab["collector"] for lab, _ in samples["chrony_scrape_collector_success"]} == {
        "tracking"
    }
    assert not [n for n in samples if n.startswith(("chrony_sources_", "chrony_serverstats"))]
    assert "chrony_tracking_stratum" in samples


def test_unknown_collector_is_a_clear_error():
    with pytest.raises(ChronyError, match="unknown collectors"):
        ChronyCollector(ScrapeReader(deadline=1.0), ["ntp"])


def test_unreachable_gives_up_zero_and_every_collector_failed():
    samples = scrape(UNREACHABLE)
    assert value(samples, "chrony_up") == 0
    assert all(v == 0 for _, v in samples["chrony_scrape_collector_success"])
    assert "chrony_tracking_stratum" not in samples


def test_collector_imports_without_the_web_stack():
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('starlette', 'jinja2', 'uvicorn', 'yaml'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from prometheus_client import CollectorRegistry, generate_latest\n"
        "from pychrony.exporter import ChronyCollector, ScrapeReader\n"
        "from pychrony.testing import patched_chrony_connection\n"
        "with patched_chrony_connection():\n"
        "    r = CollectorRegistry()\n"
        "    r.register(ChronyCollector(ScrapeReader()))\n"
        "    print(generate_latest(r).decode())\n"
        "assert 'starlette' not in sys.modules and 'jinja2' not in sys.modules\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", blocker], capture_output=True, text=True, timeout=60, check=True
    )
    assert "chrony_up 1.0" in out.stdout


# -- the scrape's deadline and single flight ----------------------------------------------


class _Slow:
    """A connection answering each report after ``delay`` seconds (``hang``: never)."""

    backend = "python"

    def __init__(self, delay: float, hang: tuple[str, ...] = ()) -> None:
        self.delay = delay
        self.hang = hang
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def report(self, name: str) -> object:
        with self.lock:
            self.calls.append(name)
        time.sleep(self.delay * (10 if name in self.hang else 1))
        if name in self.hang:
            raise ChronyTimeoutError("no reply from chronyd")
        return None

    def close(self) -> None:
        pass


def test_concurrent_scrapes_share_one_read_and_return_by_their_deadline():
    conn = _Slow(0.3, hang=("tracking",))
    reader = ScrapeReader(deadline=0.5, connect=lambda: conn)  # type: ignore[arg-type]
    results: list[tuple[float, object]] = []

    def one() -> None:
        start = time.monotonic()
        reading = reader.read(("tracking", "sources"))
        results.append((time.monotonic() - start, reading))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(results) == 8
    for elapsed, reading in results:
        assert elapsed < 0.5 + 0.5
        assert reading.values == {}  # type: ignore[attr-defined]
        assert reading.error is not None  # type: ignore[attr-defined]
    assert conn.calls == ["tracking"]  # one flight for all eight


def test_reports_before_the_deadline_kept_the_rest_marked_failed():
    conn = _Slow(0.1, hang=("sources",))
    reader = ScrapeReader(deadline=0.5, connect=lambda: conn)  # type: ignore[arg-type]
    start = time.monotonic()
    reading = reader.read(("tracking", "sources", "serverstats"))
    assert time.monotonic() - start < 1.0
    assert list(reading.values) == ["tracking"]
    assert isinstance(reading.errors["sources"], ChronyTimeoutError)
    assert "serverstats" in reading.errors
    assert reading.error is None  # chronyd answered something: chrony_up stays 1


def test_a_new_flight_after_the_last_one_ended():
    conn = _Slow(0.0)
    reader = ScrapeReader(deadline=1.0, connect=lambda: conn)  # type: ignore[arg-type]
    assert reader.read(("tracking",)).values == {"tracking": None}
    assert reader.read(("tracking",)).values == {"tracking": None}
    assert conn.calls == ["tracking", "tracking"]


def test_deadline_must_be_positive():
    with pytest.raises(ChronyError, match="deadline"):
        ScrapeReader(deadline=0)


# -- the app: formats, compression, name[], read-only, auth ---------------------------------


def app_client(config: ChronyStateConfig = SCENARIO_NTP_SYNCED, **kw) -> TestClient:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ChronyCollector(ScrapeReader(deadline=2.0), ("tracking", "sources")))
    return TestClient(create_app(registry, **kw))


def test_metrics_text_format_by_default():
    with patched_chrony_connection(SCENARIO_NTP_SYNCED):
        response = app_client().get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "chrony_up 1.0" in response.text


def test_metrics_openmetrics_when_asked():
    accept = "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5"
    with patched_chrony_connection(SCENARIO_NTP_SYNCED):
        response = app_client().get("/metrics", headers={"Accept": accept})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")
    names = {f.name for f in openmetrics_families(response.text)}
    assert {"chrony_up", "chrony_tracking_system_time_seconds"} <= names


def test_metrics_gzip_when_accepted():
    with patched_chrony_connection(SCENARIO_NTP_SYNCED):
        client = app_client()
        raw = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert "chrony_up 1.0" in raw.text  # httpx decoded it
    with patched_chrony_connection(SCENARIO_NTP_SYNCED):
        plain = app_client().get("/metrics", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.compress(b"x")  # the module the app uses


def test_metrics_name_filter():
    with patched_chrony_connection(SCENARIO_NTP_SYNCED):
        response = app_client().get(
            "/metrics", params=[("name[]", "chrony_up"), ("name[]", "chrony_tracking_stratum")]
        )
    names = {s.name for f in text_string_to_metric_families(response.text) for s in f.samples}
    assert names == {"chrony_up", "chrony_tracking_stratum"}


def test_landing_page_read_only_and_telemetry_path():
    with patched_chrony_connection(SCENARIO_NTP_SYNCED):
        client = app_client(telemetry_path="/probe/metrics")
        page = client.get("/")
        assert page.status_code == 200
        assert 'href="/probe/metrics"' in page.text
        assert "Read-only" in page.text
        assert client.get("/probe/metrics").status_code == 200
        assert client.get("/metrics").status_code == 404
        for path in ("/", "/probe/metrics"):
            assert client.post(path).status_code == 405
            assert client.put(path).status_code == 405
            assert client.delete(path).status_code == 405


def test_basic_auth():
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    with patched_chrony_connection(SCENARIO_NTP_SYNCED):
        client = app_client(users={"prom": hashed}, headers={"X-Frame-Options": "deny"})
        assert client.get("/metrics").status_code == 401
        denied = client.get("/metrics", auth=("prom", "wrong"))
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"].startswith("Basic")
        assert client.get("/metrics", auth=("eve", "s3cret")).status_code == 401
        bad = base64.b64encode(b"no-colon").decode()
        assert client.get("/", headers={"Authorization": f"Basic {bad}"}).status_code == 401
        for _ in range(2):  # the second answers from the cache of good passwords
            ok = client.get("/metrics", auth=("prom", "s3cret"))
            assert ok.status_code == 200
            assert ok.headers["x-frame-options"] == "deny"


# -- the web config file ---------------------------------------------------------------------


def test_web_config_parsed_with_relative_paths(tmp_path: Path):
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    config = tmp_path / "web.yml"
    config.write_text(
        f"basic_auth_users:\n  prom: '{hashed}'\nhttp_server_config:\n  http2: true\n"
    )
    parsed = load_web_config(str(config))
    assert parsed.users == {"prom": hashed}
    assert parsed.tls is None
    assert load_web_config(None) == WebConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tls_server_config:\n  cert_file: a.crt\n", "needs cert_file and key_file"),
        ("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: []\n", "not supp"),
        ("basic_auth_users:\n  prom: plaintext\n", "not a bcrypt hash"),
        ("tls_config: {}\n", "unknown key"),
        ("- a list\n", "mapping"),
        ("tls_server_config: [\n", "not valid YAML"),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n"
            "  client_auth_type: RequestClientCert\n",
            "client_auth_type",
        ),
        ("tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n", "Cannot load"),
    ],
)
def test_web_config_errors(tmp_path: Path, text: str, message: str):
    config = tmp_path / "web.yml"
    config.write_text(text)
    with pytest.raises(ExporterConfigError, match=message):
        load_web_config(str(config))


def test_web_config_missing_file():
    with pytest.raises(ExporterConfigError, match="Cannot read"):
        load_web_config("/nonexistent/web.yml")


# -- flags ----------------------------------------------------------------------------------


def test_chrony_exporter_defaults():
    args = build_parser().parse_args([])
    assert args.address == "[::1]:323"
    assert args.timeout == 5.0
    assert args.listen is None  # :9123
    assert args.telemetry_path == "/metrics"
    assert args.dns_lookups is True
    assert collectors_of(args) == ["tracking"]


def test_kingpin_booleans_and_addresses():
    args = build_parser().parse_args(
        [
            "--chrony.address=unix:///run/chrony/chronyd.sock",
            "--chrony.timeout=1m30s",
            "--no-collector.tracking",
            "--collector.sources",
            "--collector.sources.with-ntpdata",
            "--collector.serverstats=true",
            "--collector.sourcestats=false",
            "--collector.smoothing",
            "--web.listen-address=127.0.0.1:9123",
            "--web.listen-address=[::1]:9124",
            "--log.level=debug",
        ]
    )
    assert args.address == "/run/chrony/chronyd.sock"
    assert args.timeout == 90.0
    assert collectors_of(args) == ["sources", "ntpdata", "serverstats", "smoothing"]
    assert [parse_listen(a) for a in args.listen] == [("127.0.0.1", 9123), ("::1", 9124)]
    # ntpdata only extends sources, as chrony_exporter's flag does
    alone = build_parser().parse_args(["--collector.sources.with-ntpdata"])
    assert collectors_of(alone) == ["tracking"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--chrony.address=ntp.example.com:323"],
        ["--chrony.timeout=soon"],
        ["--chrony.timeout=0s"],
        ["--collector.sources=maybe"],
        ["--web.systemd-socket"],
    ],
)
def test_bad_flags_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "error" in capsys.readouterr().err


def test_clients_collector_aggregates_as_chrony_exporter():
    """chrony_exporter 0.14's clients collector: clients per protocol (nts: NTS-KE
    hits), histograms of the last NTP hit and NTP interval over clients with NTP
    hits, of NTP drops over clients that sent or tried NTP. Bounds print as Go does
    (le="1", not "1.0"), so queries written for chrony_exporter match."""
    samples = scrape(SCENARIO_SERVING_CLIENTS, ["clients"])
    assert value(samples, "chrony_scrape_collector_success", collector="clients") == 1
    assert value(samples, "chrony_clients_connected", protocol="ntp") == 3
    assert value(samples, "chrony_clients_connected", protocol="nts") == 1
    # NTP hits: 192.0.2.10 (last 12 s, 2^6 s), .11 (0 s, 2^-3 s), 2001:db8::7 (700 s, 2^10 s)
    last = "chrony_clients_last_ntp_hit_ago_seconds"
    assert value(samples, f"{last}_count") == 3
    assert value(samples, f"{last}_sum") == 712
    assert value(samples, f"{last}_bucket", le="1") == 1
    assert value(samples, f"{last}_bucket", le="30") == 2
    assert value(samples, f"{last}_bucket", le="1800") == 3
    interval = "chrony_clients_ntp_interval_seconds"
    assert value(samples, f"{interval}_sum") == 64 + 0.125 + 1024
    assert value(samples, f"{interval}_bucket", le="60") == 1
    assert value(samples, f"{interval}_bucket", le="+Inf") == 3
    drops = "chrony_clients_ntp_drops"
    assert value(samples, f"{drops}_count") == 3
    assert value(samples, f"{drops}_bucket", le="0") == 2
    assert value(samples, f"{drops}_bucket", le="100") == 2
    assert value(samples, f"{drops}_sum") == 340


def test_clients_collector_is_opt_in_and_accepted(capsys):
    args = build_parser().parse_args(["--collector.clients"])
    assert "clients" in collectors_of(args)
    assert "clients" not in collectors_of(build_parser().parse_args([]))
    assert "clients" not in ALL_COLLECTORS  # it needs the Unix socket


def test_bad_web_config_exits_2(tmp_path, capsys):
    config = tmp_path / "web.yml"
    config.write_text("nonsense: 1\n")
    assert main([f"--web.config.file={config}", "--log.format=json"]) == 2
    line = capsys.readouterr().err.strip()
    assert json.loads(line)["level"] == "error"
    assert "unknown key" in json.loads(line)["msg"]


def test_durations_and_listen_addresses():
    assert parse_duration("500ms") == 0.5
    assert parse_duration("2") == 2.0
    assert parse_listen(":9123") == ("", 9123)
    with pytest.raises(ExporterConfigError):
        parse_listen("9123")
    assert all(map(is_loopback, ["127.0.0.1", "::1", "localhost"]))
    assert not any(map(is_loopback, ["", "0.0.0.0", "192.0.2.1"]))


def test_warning_when_exposed_without_tls_or_auth(capsys):
    setup_logging("info", "logfmt")
    _warn_if_exposed(["127.0.0.1", "::1"], WebConfig())
    assert capsys.readouterr().err == ""
    _warn_if_exposed([""], WebConfig(users={"prom": "$2b$..."}))
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("time=")
    assert "level=warn" in line
    assert "without TLS" in line
    assert "addresses=*" in line
    _warn_if_exposed(["192.0.2.1"], WebConfig())
    assert "without TLS or authentication" in capsys.readouterr().err


def test_listening_socket_says_it_is_tcp():
    # asyncio sets TCP_NODELAY on accepted sockets only when proto is IPPROTO_TCP; without
    # it each keep-alive response waited ~40 ms for the scraper's delayed ACK.
    import socket

    for host in ("127.0.0.1", ""):
        sock = bind(host, 0)
        try:
            assert sock.proto == socket.IPPROTO_TCP
        finally:
            sock.close()


def test_prometheus_scrape_timeout_shortens_the_deadline():
    from pychrony.exporter.web import scraper_timeout

    assert scraper_timeout("10") == pytest.approx(9.75)
    assert scraper_timeout("0.2") == 0.1
    assert scraper_timeout("") is None
    assert scraper_timeout("nan") is None
    assert scraper_timeout("-1") is None
    conn = _Slow(0.2, hang=("tracking",))  # no answer for 2 s
    reader = ScrapeReader(deadline=5.0, connect=lambda: conn)  # type: ignore[arg-type]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ChronyCollector(reader, ("tracking",), source_names=False))
    client = TestClient(create_app(registry))
    start = time.monotonic()
    response = client.get("/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "0.75"})
    assert time.monotonic() - start < 0.5 + 0.5  # not the reader's own 5 s
    assert "chrony_up 0.0" in response.text


def test_reconnects_once_only_after_a_session_that_worked():
    from pychrony.exceptions import ChronyConnectionError

    class Failing(_Slow):
        def __init__(self, answers: int) -> None:
            super().__init__(0.0)
            self.answers = answers

        def report(self, name: str) -> object:
            super().report(name)
            if self.answers <= 0:
                raise ChronyConnectionError("Lost the connection to chronyd")
            self.answers -= 1
            return name

    made: list[Failing] = []

    def connect() -> Failing:
        made.append(Failing(answers=1 if not made else 100))
        return made[-1]

    reader = ScrapeReader(deadline=1.0, connect=connect)  # type: ignore[arg-type]
    assert reader.read(("tracking",)).values == {"tracking": "tracking"}
    # the proven session fails at once (chronyd restarted): a new one, at once
    assert reader.read(("tracking",)).values == {"tracking": "tracking"}
    assert len(made) == 2
    made.clear()
    fresh = ScrapeReader(deadline=1.0, connect=lambda: Failing(0))  # type: ignore[arg-type]
    assert fresh.read(("tracking",)).error is not None  # never worked: no retry


def test_deadline_counts_from_the_requests_arrival():
    from pychrony.exporter.scrape import scrape_request

    conn = _Slow(0.3, hang=("tracking",))  # no answer for 3 s
    reader = ScrapeReader(deadline=1.0, connect=lambda: conn)  # type: ignore[arg-type]
    start = time.monotonic()
    with scrape_request(arrived=start - 0.8):  # queued for 0.8 s before collecting
        reading = reader.read(("tracking",))
    assert time.monotonic() - start < 0.2 + 0.3
    assert reading.error is not None
