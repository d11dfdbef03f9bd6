"""The command line over scripted scenarios (the real chronyd runs in tests/integration)."""

from __future__ import annotations

import json

import pytest

from pychrony import cli
from pychrony.display import format_duration, format_offset, format_reachability, to_json
from pychrony.registry import REPORTS_BY_NAME
from pychrony.testing import (
    SCENARIO_MULTI_SOURCE,
    SCENARIO_UNSYNC,
    ChronyStateConfig,
    expected_reports,
    patched_chrony_connection,
)


@pytest.mark.parametrize("report", [*REPORTS_BY_NAME, "all"])
def test_every_report_prints(capsys, report):
    with patched_chrony_connection(SCENARIO_MULTI_SOURCE):
        assert cli.main([report]) == 0
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize("report", REPORTS_BY_NAME)
def test_json_round_trips(capsys, report):
    with patched_chrony_connection(SCENARIO_MULTI_SOURCE):
        assert cli.main(["--json", report]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(
        json.dumps(to_json(expected_reports(SCENARIO_MULTI_SOURCE)[report]))
    )


def test_options_after_the_report(capsys):
    with patched_chrony_connection(SCENARIO_MULTI_SOURCE):
        assert cli.main(["tracking", "--json", "--timeout", "0.5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["leap_status"] == "NORMAL"
    assert data["ref_time_iso"].startswith("2024-01-15T")
    assert isinstance(data["ref_time"], float)


def test_sources_look_like_chronyc(capsys):
    with patched_chrony_connection(SCENARIO_MULTI_SOURCE):
        cli.main(["sources"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("MS Name/IP address")
    assert lines[2].startswith("^* 192.0.2.100")
    assert lines[5].startswith("^x 192.0.2.103")
    assert " 377 " in lines[2]
    assert " 200 " in lines[5]


def test_never_sampled_shows_dash(capsys):
    with patched_chrony_connection(SCENARIO_UNSYNC):
        cli.main(["sources"])
        row = capsys.readouterr().out.splitlines()[2]
        assert "4294967295" not in row
        assert row.split()[-1] == "-"
        cli.main(["sources", "--json"])
        assert json.loads(capsys.readouterr().out)[0]["last_sample_ago"] is None


@pytest.mark.parametrize(
    ("errors", "code", "hint"),
    [
        ({"open": -111}, 1, "Is chronyd running"),
        ({"open": -13}, 3, "group"),
        ({"response": -1}, 1, "Failed"),
    ],
)
def test_exit_codes(capsys, errors, code, hint):
    with patched_chrony_connection(ChronyStateConfig(error_injection=errors)):
        assert cli.main(["tracking"]) == code
    assert hint in capsys.readouterr().err


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["nonsense"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["tracking", "--watch", "0"])
    assert exc.value.code == 2


def test_all_goes_on_past_a_refused_report(capsys):
    config = ChronyStateConfig(error_injection={"response:serverstats": 9})
    with patched_chrony_connection(config):
        assert cli.main(["all"]) == 0
    out = capsys.readouterr().out
    assert "== serverstats\n  (chronyd refused serverstats" in out
    assert "== smoothing" in out


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.000000012, "+12ns"), (-0.0001235, "-123.5µs"), (0.0123, "+12.3ms"), (2.5, "+2.500s")],
)
def test_format_offset(seconds, text):
    assert format_offset(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(32, "32s"), (700, "12m"), (40000, "11h"), (900000, "10d"), (0xFFFFFFFF, "-")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_format_reachability():
    assert format_reachability(255) == "377"
    assert format_reachability(0o17, "bits") == "00001111"
