"""Starting chronyd labs for the integration tests (see conftest.py)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from pychrony.lab import Lab, LabError, find_chronyd

#: NTP sources of the shared lab (``server`` lines), besides its refclock.
LAB_SOURCES = 4


def start_lab(**kwargs: Any) -> Lab:
    """A started lab; skip (fail in CI) when chronyd is unavailable."""
    if find_chronyd() is None and os.geteuid() != 0:
        message = "chronyd is not installed (apt-get install chrony; ci/test.sh does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    lab = Lab(**kwargs)
    try:
        return lab.start()
    except LabError as exc:
        pytest.fail(f"the chronyd lab did not start: {exc}")
