"""How ``chronyc -c -n`` prints pychrony's values (shared by the lab and fake tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from pychrony.cli.layouts import MODE_CHAR, STATE_CHAR
from pychrony.cli.printf import LEAP_TEXT, NTP_MODE_TEXT, TIMESTAMPING_TEXT
from pychrony.models import SelectOptions

__all__ = [
    "AUTH_MODE",
    "LEAP",
    "MODE_CHAR",
    "NTP_MODE",
    "STATE_CHAR",
    "TIMESTAMPING",
    "Rows",
    "authdata_numbers",
    "f3",
    "f9",
    "options",
    "snapshot",
]

# chronyc's vocabulary, kept once, with the CLI's layouts (which are checked against
# chronyc's own output in tests/integration/test_cli_real.py).
LEAP = LEAP_TEXT
NTP_MODE = NTP_MODE_TEXT
TIMESTAMPING = TIMESTAMPING_TEXT

T = TypeVar("T")
Rows = list[list[str]]


def snapshot(
    read: Callable[[], T], chronyc: Callable[[], Rows], key: Callable[[T], Any]
) -> tuple[T, Rows, T]:
    """(before, chronyc rows, after) where ``key`` did not change in between: two
    pychrony reads around one chronyc run, retried until chronyd held still."""
    for _ in range(50):
        before = read()
        rows = chronyc()
        after = read()
        if key(before) == key(after):
            return before, rows, after
    pytest.fail("chronyd's state kept changing during every chronyc run")


def f9(value: float) -> str:
    return f"{value:.9f}"


def f3(value: float) -> str:
    return f"{value:.3f}"


def options(value: SelectOptions) -> list[str]:
    """selectdata's option columns: N, P, T, R and one chrony adds after 4.3."""
    letters = [(SelectOptions.NOSELECT, "N"), (SelectOptions.PREFER, "P")]
    letters += [(SelectOptions.TRUST, "T"), (SelectOptions.REQUIRE, "R")]
    return [letter if value & flag else "-" for flag, letter in letters] + ["-"]


#: authdata's mode column.
AUTH_MODE = {0: "-", 1: "SK", 2: "NTS"}


def authdata_numbers(a: Any) -> list[int]:
    """authdata's numeric columns (2-9) for an AuthData record."""
    return [
        a.key_id,
        a.key_type.value,
        a.key_length,
        a.last_ke_ago,
        a.ke_attempts,
        int(a.nak),
        a.cookies,
        a.cookie_length,
    ]
