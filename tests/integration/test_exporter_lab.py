"""``python -m pychrony.exporter`` against real chronyd, as a Prometheus server sees it.

* every family of SuperQ/chrony_exporter (the list below is ours, written from its
  collector/*.go) is there with its type and label set, with the values chronyc
  prints in the same state;
* eight concurrent scrapes of a SIGSTOPped chronyd all return by the deadline
  with ``chrony_up 0``;
* TLS and basic authentication from an exporter-toolkit web config, with a
  generated certificate and bcrypt hash, through a real HTTPS client.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pychrony.lab import Lab

pytestmark = pytest.mark.integration

SLACK = 0.5  # seconds past the deadline a scrape may take (the bound)

_SOURCE = ("source_address", "source_name")
#: chrony_exporter 0.13.3's families: (type, labels), from its collector/*.go.
CHRONY_EXPORTER: dict[str, tuple[str, tuple[str, ...]]] = {
    "chrony_up": ("gauge", ()),
    "chrony_tracking_info": ("gauge", ("tracking_address", "tracking_name", "tracking_refid")),
    **{
        f"chrony_tracking_{name}": ("gauge", ())
        for name in (
            "last_offset_seconds",
            "reference_timestamp_seconds",
            "system_time_seconds",
            "remote_reference",
            "rms_offset_seconds",
            "root_delay_seconds",
            "root_dispersion_seconds",
            "frequency_ppms",
            "residual_frequency_ppms",
            "skew_ppms",
            "update_interval_seconds",
            "stratum",
        )
    },
    **{
        f"chrony_sources_{name}": ("gauge", _SOURCE)
        for name in (
            "last_sample_age_seconds",
            "reachability_ratio",
            "reachability_success",
            "last_sample_offset_seconds",
            "last_sample_error_margin_seconds",
            "polling_interval_seconds",
            "stratum",
            "peer_offset_seconds",
            "peer_delay_seconds",
            "peer_dispersion_seconds",
            "peer_response_time_seconds",
            "peer_jitter_asymmetry_seconds",
        )
    },
    "chrony_sources_state_info": ("gauge", (*_SOURCE, "source_state", "source_mode")),
    **{
        f"chrony_sourcestats_{name}": ("gauge", _SOURCE)
        for name in (
            "samples",
            "runs",
            "span_seconds",
            "stddev",
            "frequency_ppms",
            "frequency_skew_ppms",
            "offset",
        )
    },
    # prometheus_client's parser names a counter family without _total.
    **{
        f"chrony_serverstats_{name}": ("counter", ())
        for name in (
            "ntp_packets_received",
            "nts_ke_connections_accepted",
            "command_packets_received",
            "ntp_packets_dropped",
            "nts_ke_connections_dropped",
            "command_packets_dropped",
            "client_log_records_dropped",
            "authenticated_ntp_packets",
            "interleaved_ntp_packets",
        )
    },
    "chrony_serverstats_ntp_timestamps_held": ("gauge", ()),
    "chrony_serverstats_ntp_timestamp_span_seconds": ("gauge", ()),
}
#: Only from chronyd 4.4 on (chrony_exporter's ReplyServerStats4).
TIMESTAMP_COUNTERS = {
    f"chrony_serverstats_ntp_{kind}_{way}_timestamps": ("counter", ())
    for kind in ("daemon", "kernel", "hw")
    for way in ("rx", "tx")
}
STATE = {"*": "sync", "?": "unreach", "x": "falseticker", "~": "jittery", "+": "candidate"}
STATE["-"] = "outlier"
MODE = {"^": "client", "=": "peer", "#": "reference clock"}
EVERY_COLLECTOR = [
    "--collector.sources",
    "--collector.sourcestats",
    "--collector.serverstats",
    "--collector.sources.with-ntpdata",
    "--collector.selectdata",
    "--collector.activity",
    "--collector.smoothing",
    "--collector.rtcdata",
]


class Exporter:
    """A running ``python -m pychrony.exporter`` and what it logged."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url
        self.log: list[str] = []


@contextmanager
def exporter(
    address: str, *flags: str, scheme: str = "http", backend: str = "python"
) -> Iterator[Exporter]:
    """Start the exporter on a free port; stop it (SIGTERM) afterwards. It imports the
    pychrony the tests import (the current directory first, as ci/test.sh's run from
    the real-libchrony build needs)."""
    listen = [] if any(f.startswith("--web.listen-address") for f in flags) else ["127.0.0.1:0"]
    argv = [sys.executable, "-m", "pychrony.exporter", f"--chrony.address=unix://{address}"]
    argv += [f"--chrony.backend={backend}", *(f"--web.listen-address={a}" for a in listen), *flags]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines: list[str] = []
    port = None
    deadline = time.monotonic() + 30
    for line in proc.stderr:
        lines.append(line)
        found = re.search(r'msg="Listening on" address=\S*:(\d+)', line)
        if found:
            port = int(found.group(1))
            break
        assert time.monotonic() < deadline, lines
    if port is None:
        proc.wait(10)
        pytest.fail(f"the exporter did not start: {''.join(lines)}")
    running = Exporter(proc, f"{scheme}://127.0.0.1:{port}")
    running.log = lines
    drain = threading.Thread(target=lambda: lines.extend(proc.stderr or ()), daemon=True)
    drain.start()
    try:
        yield running
    finally:
        proc.terminate()
        proc.wait(10)
        drain.join(5)
        proc.stderr.close()
    # Stopped by SIGTERM, the exporter closed its session: no reply socket left behind.
    assert [n for n in os.listdir(os.path.dirname(address)) if n.startswith("pychrony.")] == []


def parse(text: str) -> tuple[dict[str, Any], dict[str, list[tuple[dict[str, str], float]]]]:
    """(families by name, samples by name) of an exposition."""
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in families.values():
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return families, samples


def one(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    found = [v for lab, v in samples[name] if all(lab.get(k) == x for k, x in labels.items())]
    assert len(found) == 1, (name, labels, samples.get(name))
    return found[0]


def rows(lab: Lab, *args: str) -> list[list[str]]:
    return [row.split(",") for row in lab.chronyc(*args).splitlines() if row]


def stable(
    scrape: Callable[[], str], chronyc: Callable[[], dict[str, list[list[str]]]], volatile: Any
) -> tuple[str, dict[str, list[list[str]]], dict[str, list[list[str]]]]:
    """(exposition, chronyc before, chronyc after) where chronyc's output, less the
    columns chronyd recomputes at each request (``volatile``), did not change."""
    for _ in range(100):
        before = chronyc()
        text = scrape()
        after = chronyc()
        if volatile(before) == volatile(after):
            return text, before, after
    pytest.fail("chronyd's state kept changing during every scrape")


def f9(value: float) -> str:
    return f"{value:.9f}"


def between(low: str, value: float, high: str, slack: float = 0.0) -> bool:
    a, b = float(low), float(high)
    return min(a, b) - slack <= value <= max(a, b) + slack


# -- parity with chrony_exporter and chronyc ------------------------------------------------


#: chronyc -c's column counts per report: serverstats' width depends on chronyd's
#: version (11 in 4.3, 17 from 4.4 on), ntpdata's too (34; 38 from 4.6 on).
_SECTIONS: tuple[tuple[str, frozenset[int]], ...] = (
    ("tracking", frozenset({14})),
    ("sources", frozenset({10})),
    ("sourcestats", frozenset({8})),
    ("serverstats", frozenset()),
    ("ntpdata", frozenset({34, 38})),
)
_WIDTHS = frozenset().union(*(widths for _, widths in _SECTIONS))


def _chronyc_state(lab: Lab) -> dict[str, list[list[str]]]:
    """One chronyc run (``-m``: several commands) for a state as close to one instant as
    chronyc gets; its CSV rows split by report (the column counts tell them apart)."""
    out = lab.chronyc("-m", "tracking", "sources -a", "sourcestats -a", "serverstats", "ntpdata")
    state: dict[str, list[list[str]]] = {name: [] for name, _ in _SECTIONS}
    section = 0
    for row in (line.split(",") for line in out.splitlines() if line):
        while True:
            name, widths = _SECTIONS[section]
            if name == "serverstats" and not state[name] and len(row) not in _WIDTHS:
                break  # one row, of its version's width
            if len(row) in widths and (name != "tracking" or not state[name]):
                break
            section += 1
        state[name].append(row)
    return state


def _volatile(state: dict[str, list[list[str]]]) -> Any:
    """chronyc's output without what changes at every request."""
    (t,) = state["tracking"]
    (server,) = state["serverstats"]
    return (
        [*t[:4], *t[5:11], *t[12:]],  # System time and Root dispersion tick on
        [row[:6] + row[7:] for row in state["sources"]],  # LastRx ticks on
        [row[:6] + row[7:] for row in state["sourcestats"]],  # offset extrapolated
        server[:2] + server[3:],  # the command counter counts our requests
        [row[:12] + row[13:] for row in state["ntpdata"]],
    )


def test_chrony_exporter_families_with_chronycs_values(lab):
    with exporter(lab.socket_path, *EVERY_COLLECTOR) as running:
        text, before, after = stable(
            lambda: httpx.get(running.url + "/metrics", timeout=10).text,
            lambda: _chronyc_state(lab),
            _volatile,
        )
    families, samples = parse(text)
    expected = dict(CHRONY_EXPORTER)
    if len(after["serverstats"][0]) > 11:  # chronyd 4.4+ counts timestamps
        expected.update(TIMESTAMP_COUNTERS)
    for name, (kind, labels) in expected.items():
        assert name in families, name
        assert families[name].type == kind, name
        label_sets = {tuple(sorted(s.labels)) for s in families[name].samples}
        assert label_sets == {tuple(sorted(labels))}, name
    assert "process_cpu_seconds_total" in samples
    assert one(samples, "pychrony_exporter_build_info", backend="python") == 1
    assert one(samples, "chrony_up") == 1
    for check in (_tracking_as_chronyc, _sources_as_chronyc, _sourcestats_as_chronyc):
        check(samples, before, after)
    _serverstats_as_chronyc(samples, before, after)
    _ntpdata_as_chronyc(samples, after)
    for collector in ("tracking", "sources", "ntpdata", "sourcestats", "serverstats"):
        assert one(samples, "chrony_scrape_collector_success", collector=collector) == 1


def _tracking_as_chronyc(samples, before, after):
    """Tracking, as chronyc tracking prints it."""
    (t,) = after["tracking"]
    (t0,) = before["tracking"]
    info = samples["chrony_tracking_info"][0][0]
    assert info["tracking_refid"] == t[0]
    assert info["tracking_address"] == t[1]
    assert one(samples, "chrony_tracking_stratum") == int(t[2])
    assert abs(one(samples, "chrony_tracking_reference_timestamp_seconds") - float(t[3])) < 1e-6
    system = one(samples, "chrony_tracking_system_time_seconds")
    assert between(t0[4], system, t[4], slack=1e-6)  # the sign as chronyc -c gives it
    assert f9(one(samples, "chrony_tracking_last_offset_seconds")) == t[5]
    assert f9(one(samples, "chrony_tracking_rms_offset_seconds")) == t[6]
    assert f"{one(samples, 'chrony_tracking_frequency_ppms'):.3f}" == t[7]
    assert f"{one(samples, 'chrony_tracking_residual_frequency_ppms'):.3f}" == t[8]
    assert f"{one(samples, 'chrony_tracking_skew_ppms'):.3f}" == t[9]
    assert f9(one(samples, "chrony_tracking_root_delay_seconds")) == t[10]
    dispersion = one(samples, "chrony_tracking_root_dispersion_seconds")
    assert between(t0[11], dispersion, t[11], slack=1e-9)
    assert f"{one(samples, 'chrony_tracking_update_interval_seconds'):.1f}" == t[12]
    assert one(samples, "chrony_tracking_remote_reference") == 1


def _sources_as_chronyc(samples, before, after):
    """Sources, as chronyc sources -a prints them."""
    states = {lab_["source_address"]: lab_ for lab_, _ in samples["chrony_sources_state_info"]}
    assert list(states) == [row[2] for row in after["sources"]]
    for early, row in zip(before["sources"], after["sources"], strict=True):
        src = {"source_address": row[2], "source_name": row[2]}
        assert states[row[2]]["source_state"] == STATE[row[1]]
        assert states[row[2]]["source_mode"] == MODE[row[0]]
        assert one(samples, "chrony_sources_stratum", **src) == int(row[3])
        assert one(samples, "chrony_sources_polling_interval_seconds", **src) == 2.0 ** int(row[4])
        reach = int(row[5], 8)
        assert one(samples, "chrony_sources_reachability_ratio", **src) == bin(reach).count("1") / 8
        assert one(samples, "chrony_sources_reachability_success", **src) == reach & 1
        if row[6] == "4294967295":  # never sampled: no sample values
            assert not [
                1
                for lab_, _ in samples.get("chrony_sources_last_sample_age_seconds", [])
                if lab_["source_address"] == row[2]
            ]
            continue
        age = one(samples, "chrony_sources_last_sample_age_seconds", **src)
        assert between(early[6], age, row[6])
        assert f9(one(samples, "chrony_sources_last_sample_offset_seconds", **src)) == row[7]
        assert f9(one(samples, "chrony_sources_last_sample_error_margin_seconds", **src)) == row[9]


def _sourcestats_as_chronyc(samples, before, after):
    """Sourcestats, as chronyc sourcestats prints them."""
    for early, row in zip(before["sourcestats"], after["sourcestats"], strict=True):
        src = {"source_address": row[0], "source_name": row[0]}
        assert one(samples, "chrony_sourcestats_samples", **src) == int(row[1])
        assert one(samples, "chrony_sourcestats_runs", **src) == int(row[2])
        assert one(samples, "chrony_sourcestats_span_seconds", **src) == int(row[3])
        assert f"{one(samples, 'chrony_sourcestats_frequency_ppms', **src):.3f}" == row[4]
        assert f"{one(samples, 'chrony_sourcestats_frequency_skew_ppms', **src):.3f}" == row[5]
        offset = one(samples, "chrony_sourcestats_offset", **src)
        assert between(early[6], offset, row[6], slack=1e-6)
        assert f9(one(samples, "chrony_sourcestats_stddev", **src)) == row[7]


def _serverstats_as_chronyc(samples, before, after):
    """Serverstats: the counters, the command counter between the two chronyc runs."""
    (early,) = before["serverstats"]
    (server_row,) = after["serverstats"]
    assert one(samples, "chrony_serverstats_ntp_packets_received_total") == int(server_row[0])
    assert one(samples, "chrony_serverstats_ntp_packets_dropped_total") == int(server_row[1])
    commands = one(samples, "chrony_serverstats_command_packets_received_total")
    assert int(early[2]) < commands < int(server_row[2])
    assert one(samples, "chrony_serverstats_client_log_records_dropped_total") == int(server_row[4])
    assert one(samples, "chrony_serverstats_ntp_timestamps_held") == int(server_row[9])


def _ntpdata_as_chronyc(samples, after):
    """The ntpdata peer metrics in chronyc ntpdata's sign and units."""
    for row in after["ntpdata"]:
        src = {"source_address": row[0], "source_name": row[0]}
        assert f9(one(samples, "chrony_sources_peer_offset_seconds", **src)) == row[18]
        assert f9(one(samples, "chrony_sources_peer_delay_seconds", **src)) == row[19]
        assert f9(one(samples, "chrony_sources_peer_dispersion_seconds", **src)) == row[20]
        assert f9(one(samples, "chrony_sources_peer_response_time_seconds", **src)) == row[21]
        jitter = one(samples, "chrony_sources_peer_jitter_asymmetry_seconds", **src)
        assert f"{jitter:.2f}" == row[22]


def test_defaults_are_chrony_exporters_tracking_only(lab):
    with exporter(lab.socket_path) as running:
        _, samples = parse(httpx.get(running.url + "/metrics", timeout=10).text)
        landing = httpx.get(running.url + "/", timeout=10)
        post = httpx.post(running.url + "/metrics", timeout=10)
    assert {lab_["collector"] for lab_, _ in samples["chrony_scrape_collector_success"]} == {
        "tracking"
    }
    assert not [name for name in samples if name.startswith("chrony_sources_")]
    assert 'href="/metrics"' in landing.text
    assert post.status_code == 405


# -- a stopped chronyd: every scrape on time, none queued -------------------------------------


def test_concurrent_scrapes_of_a_stopped_chronyd_return_by_the_deadline(own_lab, backend):
    deadline = 1.0
    flags = ("--chrony.timeout=1s", *EVERY_COLLECTOR)
    with exporter(own_lab.socket_path, *flags, backend=backend) as running:
        _, samples = parse(httpx.get(running.url + "/metrics", timeout=10).text)
        assert one(samples, "chrony_up") == 1
        results: list[tuple[float, str]] = []

        def scrape() -> None:
            start = time.monotonic()
            body = httpx.get(running.url + "/metrics", timeout=10).text
            results.append((time.monotonic() - start, body))

        with own_lab.paused():
            threads = [threading.Thread(target=scrape) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
        assert len(results) == 8
        for elapsed, body in results:
            assert elapsed < deadline + SLACK, [round(e, 3) for e, _ in results]
            _, samples = parse(body)
            assert one(samples, "chrony_up") == 0
            assert all(v == 0 for _, v in samples["chrony_scrape_collector_success"])
        # chronyd back: the next scrapes read it again
        for _ in range(20):
            _, samples = parse(httpx.get(running.url + "/metrics", timeout=10).text)
            if one(samples, "chrony_up") == 1:
                break
            time.sleep(0.2)
        assert one(samples, "chrony_up") == 1


# -- TLS and basic authentication ---------------------------------------------------------------


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pychrony exporter test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_and_basic_auth_with_a_real_client(lab, tmp_path):
    cert, _ = _certificate(tmp_path)
    hashed = bcrypt.hashpw(b"correct horse", bcrypt.gensalt(rounds=10)).decode()
    config = tmp_path / "web.yml"
    config.write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    with exporter(lab.socket_path, f"--web.config.file={config}", scheme="https") as running:
        url = running.url + "/metrics"
        trusting = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(verify=trusting, timeout=10) as client:
            ok = client.get(url, auth=("prometheus", "correct horse"))
            assert ok.status_code == 200
            assert "chrony_up 1.0" in ok.text
            wrong = client.get(url, auth=("prometheus", "battery staple"))
            assert wrong.status_code == 401
            assert "basic" in wrong.headers["www-authenticate"].lower()
            assert client.get(url).status_code == 401
            assert client.get(running.url + "/").status_code == 401
        with pytest.raises(httpx.TransportError):  # plain HTTP to the TLS port
            httpx.get(url.replace("https://", "http://"), timeout=5)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url, timeout=5)  # a client that does not trust the certificate
    assert not [line for line in running.log if "level=warn" in line]


def test_warning_when_listening_beyond_loopback_without_tls_or_auth(lab):
    with exporter(lab.socket_path, "--web.listen-address=0.0.0.0:0") as running:
        assert httpx.get(running.url + "/metrics", timeout=10).status_code == 200
    warnings = [line for line in running.log if "level=warn" in line]
    assert len(warnings) == 1
    assert "without TLS or authentication" in warnings[0]
