"""Run Python code as an unprivileged user (``setpriv``), for permission tests."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: The ``nobody`` user and group.
NOBODY = 65534
_ROOT = str(Path(__file__).resolve().parent.parent)


def _setpriv(
    python: str, code: str, timeout: float, native: bool = False
) -> subprocess.CompletedProcess[str]:
    command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run(
        [*command, python, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=_ROOT, PYCHRONY_NO_EXTENSIONS="0" if native else "1"),
        cwd="/",
        timeout=timeout,
    )


@functools.cache
def _interpreter() -> str | None:
    """A Python that ``nobody`` may run and that imports this checkout's pychrony."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None
    for python in dict.fromkeys([sys.executable, "/usr/bin/python3"]):
        if os.path.exists(python) and _setpriv(python, "import pychrony", 30).returncode == 0:
            return python
    return None


def run_as_nobody(
    code: str, timeout: float = 60, *, native: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as nobody with this checkout importable (``native``: with its
    extension, else the Python backend only); skip where impossible."""
    python = _interpreter()
    if python is None:
        pytest.skip("needs root, setpriv and a Python interpreter that nobody may run")
    return _setpriv(python, code, timeout, native)
