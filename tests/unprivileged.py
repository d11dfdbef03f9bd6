"""Run Python code as an unprivileged user (``setpriv``), for permission tests."""

from __future__ import annotations

import functools
import os
import shutil
import stat
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
    env = dict(os.environ, PYTHONPATH=_ROOT, PYCHRONY_NO_EXTENSIONS="0" if native else "1")
    return subprocess.run(
        [*command, python, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        timeout=timeout,
    )


def _let_nobody_traverse(path: str) -> None:
    """Give others search (x, never read) permission on ``path``'s ancestors where they
    lack it: a checkout in a 0700 directory (``mktemp -d``) is otherwise out of
    nobody's reach, and the permission tests would skip."""
    for parent in [Path(path), *Path(path).parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


@functools.cache
def _interpreter() -> str | None:
    """A Python that ``nobody`` may run and that imports this checkout's pychrony."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None
    _let_nobody_traverse(_ROOT)
    _let_nobody_traverse(sys.prefix)
    for python in dict.fromkeys([sys.executable, "/usr/bin/python3"]):
        if os.path.exists(python) and _setpriv(python, "import pychrony", 30).returncode == 0:
            return python
    return None


def run_as_nobody(
    code: str, timeout: float = 60, native: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as nobody with this checkout importable; skip where impossible.

    ``native``: with this checkout's extension (this interpreter's build), else
    PYCHRONY_NO_EXTENSIONS=1.
    """
    python = _interpreter()
    if python is None:
        pytest.skip("needs root, setpriv and a Python interpreter that nobody may run")
    if native:
        python = sys.executable  # the interpreter the extension was built for
    return _setpriv(python, code, timeout, native)
