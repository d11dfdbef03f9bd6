"""pychrony check's plugin interface (ranges, perfdata) and the shipped JSON Schemas."""

from __future__ import annotations

import json
import math

import pytest
from perfdata import parse_check

from pychrony import cli
from pychrony.cli import schema
from pychrony.cli.plugin import Perf, Range, State, number, status_line
from pychrony.display import to_json
from pychrony.registry import REPORTS_BY_NAME
from pychrony.testing import (
    SCENARIO_MULTI_SOURCE,
    SCENARIO_RTC_AVAILABLE,
    expected_reports,
    patched_chrony_connection,
)


@pytest.mark.parametrize(
    ("text", "alerting", "quiet"),
    [
        ("10", [-1, 10.5, 11], [0, 5, 10]),  # outside 0..10
        ("10:", [9.99, -5], [10, 1e9]),  # below 10
        ("~:10", [10.01], [-1e9, 10]),  # above 10
        ("10:20", [9, 21], [10, 15, 20]),  # outside 10..20
        ("@10:20", [10, 15, 20], [9, 21]),  # inside 10..20
        ("0.5", [0.51, -0.1], [0, 0.5]),
        ("1:", [0], [1, 5]),
    ],
)
def test_guideline_ranges(text, alerting, quiet):
    limit = Range.parse(text)
    assert [limit.alerts(v) for v in alerting] == [True] * len(alerting)
    assert [limit.alerts(v) for v in quiet] == [False] * len(quiet)


@pytest.mark.parametrize("text", ["", "x", "5:1", "1:2:3", "@", "nan", "inf:", "1e999"])
def test_bad_ranges_are_errors(text):
    with pytest.raises(ValueError, match="invalid threshold range"):
        Range.parse(text)


@pytest.mark.parametrize(
    ("value", "text"), [(1e-9, "0.000000001"), (-1.5e-6, "-0.0000015"), (9, "9"), (2.0, "2")]
)
def test_perfdata_numbers_have_no_exponent(value, text):
    assert number(value) == text


def test_status_line_reads_back():
    perf = [
        Perf("offset", -1.234e-7, "s", Range.parse("0.5"), Range.parse("1")),
        Perf("it's odd", 3, "", None, Range.parse("@0:1"), low=0, high=5),
    ]
    line = status_line("CHRONY", State.WARNING, "a | b", perf)
    check = parse_check(line + "\n")
    assert (check.service, check.state, check.text) == ("CHRONY", "WARNING", "a / b")
    assert check.perf["offset"].value == pytest.approx(-1.234e-7)
    assert (check.perf["offset"].uom, check.perf["offset"].warn) == ("s", "0.5")
    odd = check.perf["it's odd"]
    assert (odd.value, odd.warn, odd.crit, odd.low, odd.high) == (3, "", "@0:1", 0, 5)


def test_check_output_reads_back(capsys):
    with patched_chrony_connection(SCENARIO_MULTI_SOURCE):
        assert cli.main(["check", "--stratum-critical", "3"]) == 0
    check = parse_check(capsys.readouterr().out)
    assert check.state == "OK"
    tracking = expected_reports(SCENARIO_MULTI_SOURCE)["tracking"]
    assert check.perf["offset"].value == pytest.approx(tracking.offset)
    assert check.perf["stratum"].value == tracking.stratum
    assert check.perf["stratum"].crit == "3"
    distance = tracking.root_delay / 2 + tracking.root_dispersion
    assert math.isclose(check.perf["root_distance"].value, distance, rel_tol=1e-6)


@pytest.mark.parametrize("report", REPORTS_BY_NAME)
def test_shipped_schema_is_the_generated_one(report):
    assert schema.shipped(report) == schema.text(report)


@pytest.mark.parametrize("report", REPORTS_BY_NAME)
def test_json_output_validates(report, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    document = json.loads(schema.shipped(report))
    jsonschema.Draft202012Validator.check_schema(document)
    config = SCENARIO_RTC_AVAILABLE if report == "rtcdata" else SCENARIO_MULTI_SOURCE
    with patched_chrony_connection(config):
        assert cli.main(["--json", report]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == json.loads(json.dumps(to_json(expected_reports(config)[report])))
    jsonschema.validate(data, document)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"unexpected": 1} if not isinstance(data, list) else [{}], document)


def test_schema_subcommand_prints_it(capsys):
    assert cli.main(["schema", "tracking"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "pychrony --json tracking"
