"""Checks of the arguments every connection takes, made once, when it is created.

Each failure is a :class:`ChronyError` that names the accepted range, instead of
an ``OverflowError`` or ``UnicodeEncodeError`` at every later call.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

from ._address import parse_address
from .exceptions import ChronyConnectionError, ChronyError

__all__ = ["MAX_ATTEMPTS", "MAX_SECONDS", "check_address", "check_attempts", "check_seconds"]

#: Longest wait accepted, in seconds: 24 days, below poll()'s limit of 2**31 - 1
#: milliseconds (about 24.86 days).
MAX_SECONDS = 24 * 86400
#: Most requests per exchange accepted.
MAX_ATTEMPTS = 1000


def check_seconds(name: str, value: Any, *, zero: bool = False) -> float:
    """``value`` as seconds: a number above 0 (or 0 with ``zero``), at most MAX_SECONDS."""
    if not (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= 0 if zero else value > 0)
        and value <= MAX_SECONDS
    ):
        low = "from 0" if zero else "above 0"
        raise ChronyError(
            f"{name} must be a number of seconds {low} up to {MAX_SECONDS} (24 days), not {value!r}"
        )
    return float(value)


def check_attempts(value: Any) -> int:
    """``value`` as a number of attempts: an integer from 1 to MAX_ATTEMPTS."""
    if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ATTEMPTS):
        raise ChronyError(f"attempts must be an integer from 1 to {MAX_ATTEMPTS}, not {value!r}")
    return value


def check_address(address: Any) -> None:
    """Raise ChronyConnectionError for an address no backend could use."""
    if address is None:
        return
    if not isinstance(address, str):
        raise ChronyConnectionError(
            f"chronyd address must be a str (socket path or IP address) or None, not {address!r}"
        )
    if "\0" in address:
        raise ChronyConnectionError(f"Invalid chronyd address {address!r}: it contains a NUL")
    try:
        os.fsencode(address)
    except UnicodeEncodeError:
        raise ChronyConnectionError(
            f"Invalid chronyd address {address!r}: it cannot be encoded as a file name "
            f"({sys.getfilesystemencoding()})"
        ) from None
    if address:
        parse_address(address)
