"""The command line end to end against the lab's real chronyd (python backend)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest

from pychrony.lab import Lab
from pychrony.registry import REPORTS_BY_NAME

pytestmark = pytest.mark.integration


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pychrony", "--backend", "python", "--timeout", "0.3", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("report", REPORTS_BY_NAME)
def test_every_report_as_json(lab: Lab, report: str) -> None:
    result = _cli(report, "--json", "--address", lab.socket_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    if report == "rtcdata":
        assert data is None  # the lab does not track the RTC
    elif report == "sources":
        assert "GPS" in [s["address"] for s in data]
        assert [s["state"] for s in data].count("SELECTED") == 1
    elif report == "tracking":
        assert data["reference_id_name"] == "127.0.0.1"
        assert data["ref_time_iso"].endswith("Z")


def test_all_human_output(lab: Lab) -> None:
    result = _cli("all", "--address", lab.socket_path)
    assert result.returncode == 0, result.stderr
    for report in REPORTS_BY_NAME:
        assert f"== {report}" in result.stdout
    assert "^* 127.0.0.1" in result.stdout
    assert "4294967295" not in result.stdout


def test_unreachable_exits_1() -> None:
    with tempfile.TemporaryDirectory() as empty:
        result = _cli("tracking", "--address", os.path.join(empty, "chronyd.sock"))
    assert result.returncode == 1
    assert "Is chronyd running" in result.stderr


def test_command_refused_over_udp_exits_3(lab: Lab) -> None:
    result = _cli("serverstats", "--address", lab.udp_address)
    assert result.returncode == 3
    assert "Unix socket" in result.stderr


def test_reader_closing_the_pipe_is_not_an_error(lab: Lab) -> None:
    """`pychrony sources --watch 0.05 | head -1`: ends quietly when head exits."""
    cmd = [sys.executable, "-m", "pychrony", "--backend", "python", "sources"]
    proc = subprocess.Popen(
        [*cmd, "--watch", "0.05", "--address", lab.socket_path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    assert proc.stdout.readline()  # one line, like head -1, then hang up
    proc.stdout.close()
    assert proc.wait(timeout=30) == 0
    assert proc.stderr.read() == b""  # no BrokenPipeError traceback
    proc.stderr.close()
