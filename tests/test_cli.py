"""The command line over scripted scenarios (chronyc and real chronyd: tests/integration)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from pychrony import cli
from pychrony.cli.chronyc import COMMANDS
from pychrony.cli.layouts import LAYOUTS, Block
from pychrony.cli.options import address_of
from pychrony.cli.printf import parse_template
from pychrony.display import to_json
from pychrony.models import LeapStatus
from pychrony.registry import REPORTS_BY_NAME
from pychrony.testing import (
    SCENARIO_LEAP_INSERT,
    SCENARIO_MULTI_SOURCE,
    SCENARIO_RTC_AVAILABLE,
    SCENARIO_SERVING_CLIENTS,
    SCENARIO_UNSYNC,
    ChronyStateConfig,
    expected_reports,
    patched_chrony_connection,
)

REPORT_COMMANDS = [c for c in COMMANDS if c != "sourcename"]


def _run(capsys, *argv: str, config=SCENARIO_MULTI_SOURCE) -> tuple[int, str, str]:
    with patched_chrony_connection(config):
        code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", REPORT_COMMANDS)
def test_every_command_prints_text_and_csv(capsys, command):
    config = {"rtcdata": SCENARIO_RTC_AVAILABLE, "clients": SCENARIO_SERVING_CLIENTS}.get(
        command, SCENARIO_MULTI_SOURCE
    )
    code, text, err = _run(capsys, "-n", command, config=config)
    assert code == 0, err
    assert text.strip()
    text.encode("ascii")  # chronyc's units: us, not µs
    code, out, err = _run(capsys, "-c", command, config=config)
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    layout = LAYOUTS[COMMANDS[command].report]
    if isinstance(layout, Block):
        widths = {len(r) for r in rows}
        assert len(widths) == 1  # one record per line, all alike
    else:
        assert {len(r) for r in rows} == {len(layout.row.fields)}


@pytest.mark.parametrize("report", REPORTS_BY_NAME)
def test_json_round_trips(capsys, report):
    config = SCENARIO_SERVING_CLIENTS if report == "clients" else SCENARIO_MULTI_SOURCE
    code, out, err = _run(capsys, "--json", report, config=config)
    assert code == 0, err
    expected = json.loads(json.dumps(to_json(expected_reports(config)[report])))
    assert expected or report != "clients"
    assert json.loads(out) == expected


def test_long_options_may_follow_the_command(capsys):
    code, out, _ = _run(capsys, "tracking", "--json", "--timeout", "0.5")
    assert code == 0
    data = json.loads(out)
    assert data["leap_status"] == "NORMAL"
    assert data["ref_time_iso"].startswith("2024-01-15T")


def test_sources_look_like_chronyc(capsys):
    _, out, _ = _run(capsys, "-n", "sources")
    lines = out.splitlines()
    assert lines[0] == (
        "MS Name/IP address         Stratum Poll Reach LastRx Last sample               "
    )
    assert lines[1] == "=" * len(lines[0])
    assert lines[2].startswith("^* 192.0.2.100 ")
    assert lines[5].startswith("^x 192.0.2.103 ")
    assert "   377    32 " in lines[2]  # octal reach, LastRx as chronyc: "  32", no "s"


def test_wide_output_widens_the_name_column(capsys):
    _, narrow, _ = _run(capsys, "-n", "sources", "-v")
    _, wide, _ = _run(capsys, "-n", "-w", "sources", "-v")
    for a, b in zip(narrow.splitlines(), wide.splitlines(), strict=True):
        assert len(b) - len(a) == (14 if a.startswith(("||  ", "MS", "=", "^")) else 0), b
    assert wide.splitlines()[-1].startswith("^x 192.0.2.103" + " " * 27)


def test_never_sampled_prints_as_chronyc(capsys):
    _, out, _ = _run(capsys, "-n", "sources", config=SCENARIO_UNSYNC)
    row = out.splitlines()[2]
    assert row.split()[5] == "-"  # LastRx
    assert row.endswith("+0ns[   +0ns] +/-    0ns")
    _, out, _ = _run(capsys, "-c", "sources", config=SCENARIO_UNSYNC)
    assert out.split(",")[6] == "4294967295"  # chronyc -c prints the raw value
    _, out, _ = _run(capsys, "--json", "sources", config=SCENARIO_UNSYNC)
    assert json.loads(out)[0]["last_sample_ago"] is None  # --json keeps null


@pytest.mark.parametrize(
    ("template", "value", "text", "csv_text"),
    [
        ("{x:I}", 35, "  35", "35"),
        ("{x:I}", 3999, " 66m", "3999"),  # chronyc truncates: 66m, not 67m
        ("{x:I}", 40000, " 11h", "40000"),
        ("{x:I}", 0xFFFFFFFF, "   -", "4294967295"),
        ("{x:+S}", -2.392e-6, "-2392ns", "-0.000002392"),  # the minus sign stays
        ("{x:S}", 4.0, "4000ms", "4.000000000"),  # as chronyc: 4000ms
        ("{x:S}", 12.0, " 12.0s", "12.000000000"),
        ("{x:+S}", 0.0123, "  +12ms", "0.012300000"),
        ("{x:5.1f}", 1.0, "  1.0", "1.0"),  # score 1.0, not 1
        ("{x:+.2f}", 0.490922, "+0.49", "0.49"),  # jitter asymmetry
        ("{x:.3F}", -0.166, "0.166 ppm slow", "-0.166"),
        ("{x:.9O}", -9.33e-7, "0.000000933 seconds fast", "-0.000000933"),
        ("{x:+P}", -0.0001, "    -0.000", "-0.000"),
        ("{x:1L}", LeapStatus.UNSYNC, "?", "Not synchronised"),
        ("{x:.4b}", 0b1101, "1101", "1101"),
        ("{x:R}", 0x7F000001, "7F000001", "7F000001"),
        ("{x:T}", 1796128848.288507459, "Tue Dec 01 12:40:48 2026", "1796128848.288507462"),
    ],
)
def test_chronyc_conversions(template, value, text, csv_text):
    parsed = parse_template(template)
    assert parsed.text({"x": value}) == text
    assert parsed.csv({"x": value}) == [csv_text]


def test_labels_keep_chronyc_acronyms(capsys):
    _, out, _ = _run(capsys, "tracking")
    assert "RMS offset      : 0.000100000 seconds\n" in out
    _, out, _ = _run(capsys, "serverstats")
    assert out.startswith("NTP packets received       : ")
    assert "NTS-KE connections accepted: " in out


def test_selectdata_keeps_the_sign_of_the_low_limit(capsys):
    _, out, _ = _run(capsys, "-c", "selectdata")
    low = [float(row.split(",")[15]) for row in out.splitlines()]
    _, text, _ = _run(capsys, "-n", "selectdata")
    for value, row in zip(low, text.splitlines()[2:], strict=True):
        shown = row.split()[-3]
        assert shown[0] == ("-" if value < 0 else "+"), row


@pytest.mark.parametrize(
    ("host", "port", "family", "address"),
    [
        (None, None, None, None),
        ("/run/chrony/chronyd.sock", None, None, "/run/chrony/chronyd.sock"),
        ("unix:///run/chrony/chronyd.sock", None, None, "/run/chrony/chronyd.sock"),
        ("[::1]:323", None, None, "[::1]:323"),
        ("::1", 10323, None, "[::1]:10323"),
        ("192.0.2.1", 1234, 4, "192.0.2.1:1234"),
        (None, 1234, None, "127.0.0.1:1234"),
        (None, None, 6, "[::1]:323"),
    ],
)
def test_chronyc_host_forms(host, port, family, address):
    assert address_of(host, port, family) == address


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nonsense"],
        ["-h"],
        ["--host", "192.0.2.1", "tracking"],  # the old serve option: not chronyc's
        ["-a", "/run/chrony/chronyd.sock", "tracking"],
        ["-Z", "tracking"],
        ["-p", "99999", "tracking"],
        ["-p", "0", "tracking"],
        ["-h", "/run/chrony/chronyd.sock", "-p", "1234", "tracking"],
        ["-6", "-h", "192.0.2.1", "tracking"],
        ["-4", "-6", "tracking"],
        ["-h", "[::1", "tracking"],
        ["-h", "unix://relative", "tracking"],
        ["-h", "chrony.example", "tracking"],
        ["-h", "192.0.2.1:323", "-p", "324", "tracking"],
        ["tracking", "extra"],
        ["tracking", "-a"],
        ["sources", "-x"],
        ["ntpdata", "not-an-address"],
        ["sourcename"],
        ["--json", "-c", "tracking"],
        ["--timeout", "0", "tracking"],
        ["--timeout", "nan", "tracking"],
        ["--attempts", "0", "tracking"],
        ["--watch", "0", "tracking"],
        ["--exit-on-error", "tracking"],
        ["--backend", "cffi", "tracking"],
        ["-m", "tracking", "bogus"],
        ["-c", "serve"],
        ["--json", "check"],
        ["-h", "/run/chrony/chronyd.sock", "lab"],
        ["-h", "/run/chrony/chronyd.sock", "schema", "tracking"],
        ["--timeout", "2", "schema", "tracking"],
        ["schema", "nonsense"],
        ["-h", "/run/chrony/chronyd.sock", "exporter"],
        ["--timeout", "2", "exporter"],
        ["serve", "--port", "99999"],
        ["serve", "--bogus"],
        ["lab", "--sources", "0"],
    ],
)
def test_every_usage_error_exits_2(capsys, argv):
    code, out, err = _run(capsys, *argv)
    assert code == 2, (out, err)
    assert err.startswith("pychrony: ")
    assert "Traceback" not in err


def test_exporter_subcommand_takes_chrony_exporters_flags(capsys):
    code, out, err = _run(capsys, "exporter", "--no-such-flag")
    assert code == 2  # the exporter's own parser, as python -m pychrony.exporter
    assert "usage: pychrony exporter" in err
    code, out, _ = _run(capsys, "exporter", "--help")
    assert code == 0
    assert "--chrony.address" in out


@pytest.mark.parametrize(
    "argv", [["check", "-w", "x"], ["check", "-c", "5:1"], ["check", "--bogus"]]
)
def test_check_usage_errors_are_unknown(capsys, argv):
    code, out, _ = _run(capsys, *argv)
    assert code == 3  # monitoring-plugins guidelines: bad arguments are UNKNOWN
    assert out.startswith("CHRONY UNKNOWN - usage: ")


@pytest.mark.parametrize(
    ("errors", "code", "hint"),
    [
        ({"open": -111}, 1, "Is chronyd running"),
        ({"open": -13}, 3, "group"),
        ({"response": -1}, 1, "Failed"),
    ],
)
def test_exit_codes(capsys, errors, code, hint):
    got, _, err = _run(capsys, "tracking", config=ChronyStateConfig(error_injection=errors))
    assert got == code
    assert hint in err


def test_missing_rtc_fails_as_chronyc(capsys):
    code, out, err = _run(capsys, "rtcdata")  # chronyc: "513 RTC driver not running", 1
    assert (code, out) == (1, "")
    assert "513 RTC driver not running" in err
    code, out, _ = _run(capsys, "--json", "rtcdata")
    assert (code, json.loads(out)) == (0, None)


def test_all_goes_on_past_a_refused_report(capsys):
    config = ChronyStateConfig(error_injection={"response:serverstats": 9})
    code, out, err = _run(capsys, "-n", "all", config=config)
    assert code == 0
    assert "serverstats: chronyd refused serverstats" in err
    assert "Active         : " in out  # smoothing, after serverstats


def test_multi_stops_at_the_first_failure_as_chronyc(capsys):
    config = ChronyStateConfig(error_injection={"response:serverstats": 9})
    code, out, _ = _run(capsys, "-n", "-m", "serverstats", "tracking", config=config)
    assert code == 3
    assert "Reference ID" not in out


@pytest.mark.parametrize(
    ("argv", "config", "state"),
    [
        (["check"], SCENARIO_MULTI_SOURCE, "OK"),
        (["check", "-w", "0.0001"], SCENARIO_MULTI_SOURCE, "WARNING"),
        (["check", "-c", "@0:1"], SCENARIO_MULTI_SOURCE, "CRITICAL"),
        (["check"], SCENARIO_UNSYNC, "CRITICAL"),
        (["check"], SCENARIO_LEAP_INSERT, "WARNING"),
        (["check", "--leap-ok"], SCENARIO_LEAP_INSERT, "OK"),
        (["check"], ChronyStateConfig(error_injection={"open": -111}), "CRITICAL"),
        (["check", "-q"], ChronyStateConfig(error_injection={"open": -111}), "UNKNOWN"),
        (["check"], ChronyStateConfig(error_injection={"open": -13}), "UNKNOWN"),
    ],
)
def test_check_states(capsys, argv, config, state):
    code, out, _ = _run(capsys, *argv, config=config)
    assert out.startswith(f"CHRONY {state} - ")
    assert code == ["OK", "WARNING", "CRITICAL", "UNKNOWN"].index(state)
    assert out.count("\n") == 1


def test_reverse_lookups_are_bounded_by_the_timeout(monkeypatch):
    import socket
    import threading

    from pychrony.cli import names

    release = threading.Event()

    def hanging(address, flags):
        release.wait(30)
        return ("slow.example", "0")

    monkeypatch.setattr(socket, "getnameinfo", hanging)
    monkeypatch.setattr(names, "_DNS_CACHE", {})
    namer = names.Namer(dns=True, source_names=False, timeout=0.05)
    namer.prepare(["192.0.2.7"])  # returns at the deadline, the lookup still hanging
    assert namer.name("192.0.2.7") == "192.0.2.7"
    release.set()


def test_dns_names_are_truncated_as_chronyc_does(monkeypatch):
    from pychrony.cli import names

    monkeypatch.setattr(names, "_DNS_CACHE", {"192.0.2.7": "a-very-long-host-name.example.org"})
    namer = names.Namer(dns=True, source_names=False, timeout=1)
    assert namer.name("192.0.2.7", 25) == "a-very-long-host-name.ex>"
    assert names.Namer(dns=False, source_names=False, timeout=1).name("192.0.2.7") == "192.0.2.7"
    assert namer.name("GPS", 25) == "GPS"  # a refclock keeps its reference ID


def test_several_commands_as_json_are_keyed_by_command_line(capsys):
    code, out, _ = _run(capsys, "--json", "-m", "sources", "sources -a", "activity")
    assert code == 0
    data = json.loads(out)
    assert list(data) == ["sources", "sources -a", "activity"]
    assert data["activity"]["online"] == expected_reports(SCENARIO_MULTI_SOURCE)["activity"].online


@pytest.mark.parametrize(
    ("report", "code", "lines"),
    [("serverstats", 14, 5), ("serverstats", 24, 11), ("serverstats", 25, 17)],
)
def test_lines_follow_the_fields_chronyd_sends(capsys, report, code, lines):
    """chronyd 3.0 sends 5 counters, 4.2 11 (chronyc 4.3's lines), 4.4+ 17 (newer chronyc's)."""
    config = ChronyStateConfig(sources=SCENARIO_MULTI_SOURCE.sources, layouts={report: code})
    _, out, _ = _run(capsys, report, config=config)
    assert len(out.splitlines()) == lines
    _, out, _ = _run(capsys, "-c", report, config=config)
    assert len(out.strip().split(",")) == lines


def test_ntpdata_of_chronyd_4_6_has_the_timestamp_counters(capsys):
    config = ChronyStateConfig(sources=SCENARIO_MULTI_SOURCE.sources, layouts={"ntpdata": 26})
    _, out, _ = _run(capsys, "-n", "ntpdata", config=config)
    assert "Total kernel TX : " in out
    assert "Total HW RX     : " in out
    config = ChronyStateConfig(sources=SCENARIO_MULTI_SOURCE.sources, layouts={"ntpdata": 16})
    _, out, _ = _run(capsys, "-n", "ntpdata", config=config)
    assert "Total good RX   : " in out
    assert "Total kernel TX" not in out


def test_unresolved_sources_only_with_a():
    import dataclasses

    from pychrony.cli.chronyc import View, select

    (known, *_) = expected_reports(SCENARIO_MULTI_SOURCE)["sources"]
    unresolved = dataclasses.replace(known, address="ID#0000000001")  # chronyd's form
    command = COMMANDS["sources"]
    assert select(command, [known, unresolved], View()) == [known]
    assert select(command, [known, unresolved], View(all=True)) == [known, unresolved]


def _ticks(monkeypatch, count):
    """Make --watch's sleep end the run (Ctrl-C) at the ``count``-th tick."""
    import time as time_module

    seen = []

    def sleep(seconds):
        seen.append(seconds)
        if len(seen) >= count:
            raise KeyboardInterrupt

    monkeypatch.setattr(time_module, "sleep", sleep)
    return seen


def test_watch_prints_json_lines_until_ctrl_c(capsys, monkeypatch):
    ticks = _ticks(monkeypatch, 3)
    code, out, _ = _run(capsys, "--json", "--watch", "2", "activity")
    assert code == 0  # Ctrl-C ends a watch normally
    assert ticks == [2.0, 2.0, 2.0]
    online = expected_reports(SCENARIO_MULTI_SOURCE)["activity"].online
    assert [json.loads(line)["online"] for line in out.splitlines()] == [online] * 3


def test_watch_goes_on_through_failures(capsys, monkeypatch):
    _ticks(monkeypatch, 3)
    config = ChronyStateConfig(error_injection={"response": -1})
    code, out, err = _run(capsys, "--watch", "1", "tracking", config=config)
    assert out == ""
    assert code == 0
    failures = err.splitlines()
    assert len(failures) == 3  # every tick tried again
    assert all(re.match(r"pychrony: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ", f) for f in failures)


def test_watch_exit_on_error_stops_with_its_code(capsys, monkeypatch):
    ticks = _ticks(monkeypatch, 3)
    config = ChronyStateConfig(error_injection={"open": -13})
    code, _, err = _run(capsys, "--watch", "1", "--exit-on-error", "tracking", config=config)
    assert (code, ticks) == (3, [])
    assert "group" in err


def test_clients_prints_chronycs_columns(capsys):
    """``clients`` as chronyc 4.3 prints it (client.c): "-" for no interval and never."""
    code, text, err = _run(capsys, "-n", "clients", config=SCENARIO_SERVING_CLIENTS)
    assert code == 0, err
    lines = text.splitlines()
    assert lines[0] == (
        "Hostname                      NTP   Drop Int IntL Last     Cmd   Drop Int  Last"
    )
    assert lines[1] == "=" * len(lines[0])
    assert lines[2] == (
        "192.0.2.10                   1520      0   6   -    12       0      0   -     -"
    )
    assert lines[3] == (
        "192.0.2.11                  90210    340  -3   1     0       0      0   -     -"
    )
    code, out, err = _run(capsys, "-c", "clients", config=SCENARIO_SERVING_CLIENTS)
    assert out.splitlines()[3] == "198.51.100.5,0,0,127,127,4294967295,42,1,4,3"
