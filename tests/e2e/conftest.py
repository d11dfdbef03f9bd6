"""Where the browser tests' screenshots go, and the list of them in the test log."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

_STARTED = time.time()


def pytest_configure(config: pytest.Config) -> None:
    # The tests read the directory from here (override: set PYCHRONY_SCREENSHOTS).
    default = Path(__file__).resolve().parents[2] / "build" / "screenshots"
    os.environ.setdefault("PYCHRONY_SCREENSHOTS", str(default))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    folder = Path(os.environ["PYCHRONY_SCREENSHOTS"])
    shots = sorted(p for p in folder.glob("*.png") if p.stat().st_mtime >= _STARTED)
    if shots:
        terminalreporter.section("dashboard screenshots")
        for path in shots:
            terminalreporter.write_line(str(path))
