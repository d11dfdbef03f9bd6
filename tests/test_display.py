"""pychrony.display: the dashboard's units (the CLI prints chronyc's: tests/test_cli.py)."""

from __future__ import annotations

import ctypes
import ctypes.util

import pytest

from pychrony.display import (
    chronyc_seconds,
    format_duration,
    format_offset,
    format_reachability,
)

# chronyc's print_signed_nanoseconds() / print_nanoseconds() (client.c, 4.3 to 4.8):
# the unit changes where the four digits would round to 10000 (9999.5 of it), then
# seconds with one decimal below 999.5 s; C rounds half to even on the binary value;
# the sign is the value's, so a negative offset below half a nanosecond is "-0ns".
CHRONYC_CASES = [
    (0.0, "+0ns", "0ns"),
    (-0.0, "-0ns", "0ns"),
    (3e-10, "+0ns", "0ns"),
    (-3e-10, "-0ns", "0ns"),
    (-5e-10, "-0ns", "0ns"),
    (1.5e-9, "+2ns", "2ns"),
    (2.5e-9, "+2ns", "2ns"),
    (0.000000012, "+12ns", "12ns"),
    (9999.4e-9, "+9999ns", "9999ns"),
    (9999.5e-9, "+10us", "10us"),
    (-9999.5e-9, "-10us", "10us"),
    (-0.0001235, "-124us", "124us"),
    (0.0123, "+12ms", "12ms"),
    (2.5, "+2500ms", "2500ms"),
    (9.9995, "+10.0s", "10.0s"),
    (999.49, "+999.5s", "999.5s"),
    (999.5, "+1000s", "1000s"),
    (-123456.0, "-2058m", "2058m"),
    (7200000.0, "+2000h", "2000h"),
    (1e10, "+317y", "317y"),
]


@pytest.mark.parametrize(("seconds", "signed", "unsigned"), CHRONYC_CASES)
def test_format_offset_is_chronyc_text(seconds, signed, unsigned):
    assert format_offset(seconds) == signed
    assert format_offset(seconds, signed=False) == unsigned


def _libc_printf(fmt: bytes, value: float) -> str:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    buf = ctypes.create_string_buffer(64)
    libc.snprintf(buf, len(buf), fmt, ctypes.c_double(value))
    return buf.value.decode()


def _chronyc_signed(s: float) -> str:
    """client.c's print_signed_nanoseconds(), line for line, through C's printf."""
    x = abs(s)
    if x < 9999.5e-9:
        return _libc_printf(b"%+5.0fns", s * 1e9)
    if x < 9999.5e-6:
        return _libc_printf(b"%+5.0fus", s * 1e6)
    if x < 9999.5e-3:
        return _libc_printf(b"%+5.0fms", s * 1e3)
    if x < 999.5:
        return _libc_printf(b"%+6.1fs", s)
    if x < 99999.5:
        return _libc_printf(b"%+6.0fs", s)
    if x < 99999.5 * 60:
        return _libc_printf(b"%+6.0fm", s / 60)
    if x < 99999.5 * 3600:
        return _libc_printf(b"%+6.0fh", s / 3600)
    if x < 99999.5 * 3600 * 24:
        return _libc_printf(b"%+6.0fd", s / (3600 * 24))
    return _libc_printf(b"%+6.0fy", s / (3600 * 24 * 365))


@pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="no C library to compare with")
def test_format_offset_matches_c_printf_at_every_unit_edge():
    values = [0.0, -0.0, 1e-12, -1e-12]
    for edge in (0.5e-9, 9999.5e-9, 9999.5e-6, 9999.5e-3, 999.5, 99999.5, 99999.5 * 60):
        for factor in (0.5, 0.9999999, 1.0, 1.0000001, 1.5, 10.0):
            values += [edge * factor, -edge * factor]
    values += [k * 0.5e-9 for k in range(-41, 42)]  # every half-nanosecond tie
    for value in values:
        assert chronyc_seconds(value, True) == _chronyc_signed(value).rjust(7), value
        assert format_offset(value) == _chronyc_signed(value).strip(), value


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(32, "32s"), (700, "12m"), (40000, "11h"), (900000, "10d"), (0xFFFFFFFF, "-")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_format_reachability():
    assert format_reachability(255) == "377"
    assert format_reachability(0o17, "bits") == "00001111"
