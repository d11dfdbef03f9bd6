"""Running chronyc against a lab daemon and reading its CSV output."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from .install import find_chronyc

__all__ = ["has_selected", "run_chronyc"]


def run_chronyc(
    chronyc: str, target: Sequence[str], args: Sequence[str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """``chronyc TARGET -n ARGS``; a timeout is exit code 124, never an exception."""
    try:
        return subprocess.run(
            [chronyc or find_chronyc() or "chronyc", *target, "-n", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, 124, "", f"timed out after {timeout} s")


def has_selected(csv_sources: str, address: str) -> bool:
    """True if ``chronyc -c sources`` output shows *address* as the selected source."""
    for line in csv_sources.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[0] == "^" and fields[1] == "*" and fields[2] == address:
            return True
    return False
