"""Shared fixtures: one test suite over every reader implementation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pytest

from pychrony import _reader_py
from pychrony.registry import REPORTS_BY_NAME
from pychrony.testing import ChronyStateConfig, MockSession, ScriptedState


class Reader(Protocol):
    """Reads reports of one scripted chronyd state through one implementation."""

    def __call__(self, report: str) -> Any: ...


#: Opens a Reader over ``config`` (``state``, when given, replaces its records).
Opener = Callable[..., Reader]


def _python_reader(config: ChronyStateConfig, state: ScriptedState | None = None) -> Reader:
    session = MockSession(config, state)
    return lambda name: _reader_py.read_report(session, REPORTS_BY_NAME[name])


#: Implementation name -> Opener. The native reader over the C test double
#: registers itself here too.
IMPLEMENTATIONS: dict[str, Opener] = {"python": _python_reader}
_MARKS: dict[str, list[pytest.MarkDecorator]] = {"python": []}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "open_reader" in metafunc.fixturenames:
        metafunc.parametrize(
            "open_reader",
            [pytest.param(IMPLEMENTATIONS[n], id=n, marks=_MARKS[n]) for n in IMPLEMENTATIONS],
        )
