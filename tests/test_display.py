"""pychrony.display: the dashboard's units (the CLI prints chronyc's: tests/test_cli.py)."""

from __future__ import annotations

import pytest

from pychrony.display import format_duration, format_offset, format_reachability


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
