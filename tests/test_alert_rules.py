"""The shipped alerting rules: promtool checks and unit-tests them, every alert has a
firing and a not-firing test, the tests bite when a threshold moves, and the one
copy lives in the package (contrib/ links to it). Prometheus itself loading and
evaluating them over real chronyd: tests/integration/test_prometheus_lab.py."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from programs import require_program

from pychrony.exporter.command import main
from pychrony.exporter.rules import ALERT_RULES_FILE, alert_rules

ROOT = Path(__file__).resolve().parent.parent
CONTRIB = ROOT / "contrib" / "prometheus"
RULES = CONTRIB / "chrony.rules.yml"
TESTS = CONTRIB / "chrony.rules.test.yml"
PACKAGE_RULES = ROOT / "pychrony" / "exporter" / ALERT_RULES_FILE


def promtool() -> str:
    return require_program("promtool")


def alerts() -> list[dict]:
    groups = yaml.safe_load(alert_rules())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_one_copy_contrib_links_to_the_package_data():
    assert RULES.is_symlink()
    assert RULES.resolve() == PACKAGE_RULES.resolve()
    assert RULES.read_text() == alert_rules()


def test_print_alert_rules(capsys):
    assert main(["--print.alert-rules"]) == 0
    assert capsys.readouterr().out == alert_rules()


def test_the_issues_alerts_each_with_severity_and_runbook():
    rules = {rule["alert"]: rule for rule in alerts()}
    assert set(rules) == {
        "ChronydDown",
        "ChronyNotSynchronised",
        "ChronyOffsetHigh",
        "ChronyRootDistanceHigh",
        "ChronyNoReachableSources",
        "ChronyTooFewSelectableSources",
        "ChronyStratumHigh",
        "ChronyLeapSecondPending",
        "ChronyFrequencySkewHigh",
        "ChronyClockStepping",
    }
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), name
    # Only the events that are over when they are seen fire at once.
    immediate = {n for n, r in rules.items() if "for" not in r}
    assert immediate == {"ChronyLeapSecondPending", "ChronyClockStepping"}


def test_promtool_checks_the_rules():
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_promtool_unit_tests_pass():
    result = subprocess.run(
        [promtool(), "test", "rules", TESTS.name],
        cwd=CONTRIB,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_not_firing():
    tests = yaml.safe_load(TESTS.read_text())["tests"]
    firing: set[str] = set()
    silent: set[str] = set()
    for test in tests:
        for case in test["alert_rule_test"]:
            (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert firing == names
    assert silent == names


@pytest.mark.parametrize(
    ("alert", "threshold", "moved"),
    [
        ("ChronyOffsetHigh", "> 0.05", "> 0.5"),
        ("ChronyStratumHigh", ">= 10", ">= 11"),
        ("ChronyTooFewSelectableSources", ") < 2", ") < 1"),
    ],
)
def test_the_unit_tests_fail_when_a_threshold_moves(tmp_path, alert, threshold, moved):
    text = alert_rules()
    assert text.count(threshold) == 1, threshold
    (tmp_path / RULES.name).write_text(text.replace(threshold, moved))
    shutil.copy(TESTS, tmp_path / TESTS.name)
    result = subprocess.run(
        [promtool(), "test", "rules", TESTS.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"alertname: {alert}" in result.stdout + result.stderr
