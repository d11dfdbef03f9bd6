"""Every pychrony module imports on its own, first, in a fresh interpreter.

An import cycle hides when a test session has already imported the other side
(``pychrony.protocol.server`` failed alone while ``pychrony.testing`` imported
first made it work): each module here is the first thing a new interpreter
imports.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import pychrony

#: Modules that run a program when imported.
_PROGRAMS = ("__main__",)
MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(pychrony.__path__, "pychrony.")
    if info.name.rsplit(".", 1)[-1] not in _PROGRAMS
)


def test_every_module_is_listed():
    assert {"pychrony.protocol.server", "pychrony.testing", "pychrony.lab"} <= set(MODULES)


def _import_alone(name: str) -> list[str]:
    """The last line of what importing ``name`` first printed on failure, else []."""
    proc = subprocess.run(
        [sys.executable, "-c", f"import {name}"], capture_output=True, text=True, timeout=120
    )
    return proc.stderr.strip().splitlines()[-1:] if proc.returncode else []


def test_each_module_imports_first():
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = dict(zip(MODULES, pool.map(_import_alone, MODULES), strict=True))
    failed = {name: last for name, last in outcomes.items() if last}
    assert not failed, failed


@pytest.mark.parametrize("name", ["pychrony.protocol.server", "pychrony.protocol.driver"])
def test_the_fake_chronyd_imports_without_the_kit_first(name):
    result = subprocess.run(
        [sys.executable, "-c", f"import {name}; from pychrony.testing import FakeChronyd"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
